/**
 * One wirecall connection carried over NATS subjects: a client's lane to one
 * worker, or a worker's end of it. Each end has its own address (a subject
 * it alone subscribes to); a frame is one NATS message published to the
 * peer's address with `reply` set to ours.
 *
 * What NATS does not give and this adds (docs/nats.md, "Failure semantics"):
 * - Liveness: while the session has something in flight and heard nothing
 *   for a heartbeat, it pings the peer. A peer whose subscription is gone
 *   makes the NATS server answer any message to it with a 503 "no
 *   responders" status at our address: the connection ends at once.
 * - An orderly close is told to the peer (a `Wirecall-Close` header).
 * - Frames larger than the server's `max_payload` travel as several
 *   messages (`Wirecall-More` on all but the last), reassembled up to
 *   `maxFrameSize`.
 * Control messages carry headers and no body; frames carry no headers, so
 * the hot path never builds or parses one.
 */
import type { Msg, MsgHdrs, NatsConnection as NatsClient, PublishOptions } from "@nats-io/transport-node";
import { ConnectionBase, RpcError, fromWireError, isWireError, toWireError } from "../../src/transport-sdk.js";

export const H_CLOSE = "Wirecall-Close";
export const H_PING = "Wirecall-Ping";
export const H_PONG = "Wirecall-Pong";
export const H_MORE = "Wirecall-More";

/** What every connection of one NATS client shares. */
export interface NatsPort {
  readonly nc: NatsClient;
  readonly headers: () => MsgHdrs;
  /** The served subject, for messages. */
  readonly subject: string;
  /** Largest message body to publish (the server's max_payload less room for headers). */
  readonly chunk: number;
  readonly maxFrameSize: number;
  readonly maxHeldBytes: number;
  /** Bytes of unfinished (multi-message) frames held by all connections of this client, against `maxBufferedBytes`. */
  readonly buffered: { used: number; readonly max: number };
}

export interface NatsConnectionInit {
  /** Where frames go; a client lane learns the worker's own address from its first answer. */
  peer: string;
  /** Our address: the subject the peer answers to. */
  self: string;
  /** Take the peer's address from the reply subject of the first frame received. */
  learnPeer?: boolean;
  /** "client" for a lane, "server" for a worker's end (for messages). */
  side: "client" | "server";
  /** Close after the first frame sent (a plain NATS request from a client that sent no hello). */
  oneShot?: boolean;
}

export class NatsFrameConnection extends ConnectionBase {
  readonly transport = "nats";
  readonly #port: NatsPort;
  readonly #self: string;
  readonly #side: "client" | "server";
  #peer: string;
  #learn: boolean;
  readonly #oneShot: boolean;
  readonly #pub: PublishOptions;
  #pubMore: PublishOptions | undefined;
  /** Parts of a frame that came in several messages. */
  #parts: Uint8Array[] | undefined;
  #partBytes = 0;
  /** Bytes delivered while the session did not read (held by the base). */
  #held = 0;
  /** Something came from the peer since the last heartbeat tick. */
  #heard = true;
  /** When the unanswered ping went out. */
  #pingAt: number | undefined;
  #gone = false;
  /** Is there anything in flight that a dead peer would strand? Set by the owner of the session. */
  busy: () => boolean = () => false;
  /** Called once when the connection is gone, whoever ended it. */
  onGone: ((conn: NatsFrameConnection) => void) | undefined;

  constructor(port: NatsPort, init: NatsConnectionInit) {
    // A worker's end holds one frame before open; the first frame arrives with the connection.
    super();
    this.#port = port;
    this.#self = init.self;
    this.#side = init.side;
    this.#peer = init.peer;
    this.#learn = init.learnPeer ?? false;
    this.#oneShot = init.oneShot ?? false;
    this.#pub = { reply: init.self };
  }

  /** The peer's address (a worker's connection subject, or a client lane's inbox). */
  get remoteAddress(): string {
    return this.#peer;
  }

  /** Our own address. */
  get address(): string {
    return this.#self;
  }

  // ---- from NATS ---------------------------------------------------------

  /** A message arrived at our address. */
  receive(msg: Msg): void {
    if (!this.live) return;
    const h = msg.headers;
    if (h !== undefined && this.#control(msg, h)) return;
    this.#heard = true;
    if (this.#learn && msg.reply) {
      this.#peer = msg.reply;
      this.#learn = false;
    }
    let frame = msg.data;
    if (this.#parts) {
      if (!this.#addPart(frame)) return;
      frame = concat(this.#parts, this.#partBytes);
      this.#dropParts();
    } else if (frame.byteLength > this.#port.maxFrameSize) {
      this.#tooLarge(frame.byteLength);
      return;
    }
    if (!this.flowing) {
      this.#held += frame.byteLength;
      if (this.#held > this.#port.maxHeldBytes) {
        this.close(new RpcError("PAYLOAD_TOO_LARGE", `the peer sent more than ${this.#port.maxHeldBytes} bytes (maxHeldBytes) while this side was not reading`));
        return;
      }
    }
    this.deliver(frame);
  }

  /** Headers: a control message or a part of a large frame. Returns false for a frame. */
  #control(msg: Msg, h: MsgHdrs): boolean {
    const code = h.code;
    if (code !== 0) {
      // 503: NATS says nobody subscribes to the peer's address any more.
      if (code === 503) this.#peerGone();
      return true;
    }
    if (h.has(H_MORE)) {
      this.#heard = true;
      if (this.#learn && msg.reply) {
        this.#peer = msg.reply;
        this.#learn = false;
      }
      this.#parts ??= [];
      this.#addPart(msg.data);
      return true;
    }
    if (h.has(H_PING)) {
      this.#heard = true;
      this.#publishControl(msg.reply ?? this.#peer, H_PONG, "1");
      return true;
    }
    if (h.has(H_PONG)) {
      this.#heard = true;
      this.#pingAt = undefined;
      return true;
    }
    if (h.has(H_CLOSE)) {
      this.#peerClosed(h.get(H_CLOSE));
      return true;
    }
    return false;
  }

  #addPart(part: Uint8Array): boolean {
    const budget = this.#port.buffered;
    this.#partBytes += part.byteLength;
    budget.used += part.byteLength;
    if (this.#partBytes > this.#port.maxFrameSize) {
      this.#tooLarge(this.#partBytes);
      return false;
    }
    if (budget.used > budget.max) {
      // Many peers each sending most of a large frame add up: the one that passes the total is closed.
      this.#dropParts();
      this.close(new RpcError("PAYLOAD_TOO_LARGE", `unfinished frames of all connections exceed maxBufferedBytes ${budget.max}`));
      return false;
    }
    (this.#parts as Uint8Array[]).push(part);
    return true;
  }

  #dropParts(): void {
    this.#port.buffered.used -= this.#partBytes;
    this.#parts = undefined;
    this.#partBytes = 0;
  }

  #tooLarge(bytes: number): void {
    const partial = this.#parts !== undefined;
    this.#dropParts();
    this.close(new RpcError("PAYLOAD_TOO_LARGE", `a frame of ${partial ? "at least " : ""}${bytes} bytes from the peer exceeds maxFrameSize ${this.#port.maxFrameSize}`));
  }

  #peerGone(): void {
    const who = this.#side === "client" ? `the worker serving '${this.#port.subject}'` : "the caller";
    this.#end(new RpcError("CONNECTION_CLOSED", `${who} is gone (NATS has no subscriber at ${this.#peer}: no responders)`, { data: { noResponders: true } }));
  }

  #peerClosed(reason: string): void {
    let cause: Error | undefined;
    if (reason) {
      try {
        const wire = JSON.parse(reason) as unknown;
        if (isWireError(wire)) cause = fromWireError(wire);
      } catch {
        // an unreadable reason is still a close
      }
    }
    const who = this.#side === "client" ? "the worker" : "the caller";
    this.#end(cause ? new RpcError("CONNECTION_CLOSED", `${who} closed the connection: ${cause.message}`, { cause }) : undefined);
  }

  #end(err: Error | undefined): void {
    this.#gone = true;
    this.ended(err);
    this.#cleanup();
  }

  // ---- liveness ----------------------------------------------------------

  /** One heartbeat: ping a silent peer while something is in flight; give up on one that does not answer. */
  tick(now: number, livenessTimeout: number): void {
    if (!this.live) return;
    if (!this.busy()) {
      this.#pingAt = undefined;
      this.#heard = true;
      return;
    }
    if (this.#heard) {
      this.#heard = false;
      return;
    }
    if (this.#pingAt === undefined) {
      this.#pingAt = now;
      this.#publishControl(this.#peer, H_PING, "1");
    } else if (livenessTimeout > 0 && now - this.#pingAt > livenessTimeout) {
      const who = this.#side === "client" ? `the worker serving '${this.#port.subject}'` : "the caller";
      this.close(new RpcError("CONNECTION_CLOSED", `${who} did not answer a liveness ping within ${livenessTimeout} ms`));
    }
  }

  // ---- ConnectionBase ----------------------------------------------------

  protected write(frame: Uint8Array): boolean {
    const port = this.#port;
    if (frame.byteLength > port.maxFrameSize) {
      this.close(new RpcError("PAYLOAD_TOO_LARGE", `frame of ${frame.byteLength} bytes exceeds maxFrameSize ${port.maxFrameSize}`));
      return false;
    }
    try {
      if (frame.byteLength <= port.chunk) {
        port.nc.publish(this.#peer, frame, this.#pub);
      } else {
        // Larger than the server's max_payload: in parts, in order (one publisher, one subscriber).
        const more = (this.#pubMore ??= { reply: this.#self, headers: this.#header(H_MORE, "1") });
        for (let off = 0; off < frame.byteLength; off += port.chunk) {
          const end = Math.min(frame.byteLength, off + port.chunk);
          port.nc.publish(this.#peer, frame.subarray(off, end), end === frame.byteLength ? this.#pub : more);
        }
      }
    } catch (err) {
      this.close(new RpcError("CONNECTION_CLOSED", `cannot publish to NATS: ${(err as Error)?.message ?? err}`, { cause: err }));
      return false;
    }
    if (this.#oneShot) queueMicrotask(() => this.close());
    return true;
  }

  protected pauseReading(): void {
    // NATS cannot pause one subscription: frames that arrive are held, up to maxHeldBytes.
  }

  protected resumeReading(): void {
    this.#held = 0;
  }

  protected closeTransport(err: Error | undefined): void {
    if (!this.#gone && !this.#oneShot) {
      // Tell the peer, so its calls end now instead of at its next heartbeat.
      const reason = err ? JSON.stringify(toWireError(err)) : "";
      this.#publishControl(this.#peer, H_CLOSE, reason.length > 2048 ? "" : reason);
    }
    this.#cleanup();
  }

  // ---- internals ---------------------------------------------------------

  #header(name: string, value: string): MsgHdrs {
    const h = this.#port.headers();
    h.set(name, value);
    return h;
  }

  #publishControl(to: string, name: string, value: string): void {
    const nc = this.#port.nc;
    if (nc.isClosed()) return;
    try {
      nc.publish(to, EMPTY, { reply: this.#self, headers: this.#header(name, value) });
    } catch {
      // the NATS connection is going away; its own close ends us
    }
  }

  #cleanup(): void {
    if (this.#parts) this.#dropParts();
    const gone = this.onGone;
    this.onGone = undefined;
    gone?.(this);
  }
}

const EMPTY = new Uint8Array(0);

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
