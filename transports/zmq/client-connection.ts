/**
 * The client side: one DEALER (default) or REQ socket connected to a
 * wirecall server, a REP server, or a broker's frontend.
 *
 * - DEALER: many calls in flight; every message is `["", body...]`.
 * - REQ: strict lock-step. ZeroMQ refuses a second request before the
 *   reply, so frames wait here, one request outstanding at a time.
 *
 * The first frame the core sends is its hello, sent with `"tags":1` added
 * (an offer older servers ignore); it is remembered and repeated in front of
 * every later payload (`[hello, payload]`), which makes each message
 * self-describing for workers behind a load-balancing broker. When the
 * server's answer accepts the offer, a one-byte tag replaces the repeated
 * hello (`[tag, payload]`, frames.ts). When it also grants compact
 * messages, a DEALER sends `[tag ‖ payload]` without the delimiter, and
 * takes `[payload]` replies as well as `["", payload]`. When it grants
 * batches too, the small payloads written in one tick leave as one batch
 * (frames.ts), and batches of replies are taken.
 */
import type { Dealer, MessageLike, Request } from "zeromq";
import { ConnectionBase } from "../../src/transport-sdk.js";
import { RpcError, clientHandshake, decodeHello, isChallenge, resolveAuthkey } from "../../src/transport-sdk.js";
import { nodeHmac } from "../node-hmac.js";
import { curveClientOptions } from "./curve.js";
import { BATCH, BATCH_BYTES, BATCH_ENTRIES, BATCH_ENTRY_MAX, EMPTY, KNOCK, READY, REFUSED, encodeBatch, splitBatch, tagFor, withTags } from "./frames.js";
import { waitForHandshake } from "./handshake-event.js";
import type { ZeroMQModule } from "./load-zeromq.js";
import { Mailbox } from "./mailbox.js";
import { SendQueue } from "./send-queue.js";
import { baseSocketOptions, booleanOption, handshakeTimeout, stringOption, zmqEndpoint, type ZmqOptions } from "./zmq-options.js";

/** Messages waiting in JavaScript before `send` returns false. */
const QUEUE_HIGH_WATER = 1024;
/**
 * The longest payload sent as a compact message or in a batch: the tag is
 * put in front by a copy, which up to here costs less than the two frames it
 * saves (and zeromq.js copies frames of up to 128 bytes anyway); a longer
 * payload leaves as its own frame, uncopied.
 */
const COMPACT_MAX = BATCH_ENTRY_MAX;

type ClientSocket = Dealer | Request;

export class ZmqClientConnection extends ConnectionBase {
  readonly transport = "zmq";
  readonly remoteAddress: string;
  /** REQ sockets need exactly one reply per frame sent: the core then sends no cancel and no one-way call. */
  readonly requestReply: boolean;
  readonly #sock: ClientSocket;
  readonly #queue: SendQueue;
  /** The base asked us to stop reading: the read loop waits for `#wake`. */
  #readPaused = false;
  #wake: (() => void) | undefined;
  /** The core's hello, repeated before each payload. */
  #hello: Buffer | undefined;
  #sentFirst = false;
  /** The hello was sent and its answer not yet seen: the answer says whether the server takes tags. */
  #awaitingHelloAnswer = false;
  /** The server granted compact messages: our hello's tag byte, else -1. */
  #compactTag = -1;
  /** The server granted batches: small payloads wait here for the end of the tick, then leave as one message. */
  #batching = false;
  #batch: Uint8Array[] = [];
  #batchCount = 0;
  #batchBytes = 0;
  #batchScheduled = false;
  readonly #flushBatchTask = (): void => {
    this.#batchScheduled = false;
    this.#flushBatch();
  };
  /** During the authkey challenge, messages go here instead of to the core. */
  #mailbox: Mailbox | undefined;
  #authenticated = false;
  /** ZeroMQ lost the connection: what it still holds for us is read, then the connection ends with this. */
  #lost: Error | undefined;
  // REQ lock-step: one request on the wire, the rest wait.
  #awaitingReply = false;
  #requests: MessageLike[][] = [];
  #requestsBlocked = false;
  #socketClosing = false;

  private constructor(sock: ClientSocket, remoteAddress: string, requestReply: boolean) {
    super();
    this.#sock = sock;
    this.remoteAddress = remoteAddress;
    this.requestReply = requestReply;
    this.#queue = new SendQueue(
      sock,
      QUEUE_HIGH_WATER,
      () => this.drained(),
      (err) => this.close(new RpcError("CONNECTION_CLOSED", `send failed: ${(err as Error)?.message ?? err}`, { cause: err })),
    );
    sock.events.on("disconnect", () => {
      this.#lost ??= new RpcError("CONNECTION_CLOSED", `lost the connection to ${remoteAddress}`);
      this.#endIfLost();
    });
    void this.#readLoop();
  }

  /**
   * Connect, wait for ZeroMQ's own handshake (and CURVE), then run the
   * authkey challenge if there is a key. Resolves with a connection ready
   * for the core's hello.
   */
  static async open(zmq: ZeroMQModule, url: URL, options: ZmqOptions): Promise<ZmqClientConnection> {
    const kind = stringOption(options, "socket") ?? "dealer";
    if (kind !== "dealer" && kind !== "req") throw new RpcError("INVALID_URL", `socket must be 'dealer' or 'req', got '${kind}'`);
    if (booleanOption(options, "connect")) throw new RpcError("INVALID_URL", "'connect' is a server option (a worker connecting to a broker)");
    const { endpoint, ipv6 } = zmqEndpoint(url, false);
    const settings = { ...baseSocketOptions(options, ipv6), ...curveClientOptions(zmq, options) };
    const sock: ClientSocket = kind === "req" ? new zmq.Request(settings) : new zmq.Dealer(settings);
    const limit = handshakeTimeout(options);
    const reachable = waitForHandshake(sock, endpoint, limit);
    sock.connect(endpoint);
    try {
      await reachable;
    } catch (err) {
      sock.close();
      throw err;
    }
    const conn = new ZmqClientConnection(sock, url.href.replace(/\?.*$/, ""), kind === "req");
    const authkey = resolveAuthkey(options.authkey);
    if (authkey) {
      try {
        await conn.#authenticate(authkey, limit, booleanOption(options, "refuseLegacyMd5"));
      } catch (err) {
        conn.close(err as Error);
        throw err;
      }
    }
    return conn;
  }

  // ---- ConnectionBase ----------------------------------------------------

  protected write(frame: Uint8Array): boolean {
    if (!this.#sentFirst) {
      this.#sentFirst = true;
      const hello = decodeHello(frame);
      if (hello && !hello.error) {
        this.#hello = withTags(frame);
        this.#awaitingHelloAnswer = true;
        return this.#sendMessage(this.#hello);
      }
      return this.#sendMessage(frame);
    }
    if (this.#batching && frame.length <= COMPACT_MAX && frame.length > 0) {
      // Payloads written in the same tick (a pipelined caller's burst, or replies to calls answered together) leave as one message.
      this.#batch[this.#batchCount++] = frame;
      this.#batchBytes += frame.length;
      if (this.#batchBytes >= BATCH_BYTES || this.#batchCount >= BATCH_ENTRIES) this.#flushBatch();
      else if (!this.#batchScheduled) {
        this.#batchScheduled = true;
        process.nextTick(this.#flushBatchTask);
      }
      return !this.#queue.blocked;
    }
    if (this.#compactTag >= 0 && frame.length <= COMPACT_MAX) {
      const message = Buffer.allocUnsafe(frame.length + 1);
      message[0] = this.#compactTag;
      message.set(frame, 1);
      return this.#queue.push(message);
    }
    return this.#sendMessage(frame, this.#hello);
  }

  protected pauseReading(): void {
    this.#readPaused = true;
  }

  protected resumeReading(): void {
    this.#readPaused = false;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  protected closeTransport(err: Error | undefined): void {
    this.#shutdown(err, true);
  }

  // ---- internals ---------------------------------------------------------

  /** The server ended the session (goodbye, lost connection, failed receive): what was delivered still reaches the core. */
  #serverEnded(err: Error): void {
    if (!this.live) return;
    this.#shutdown(err, false);
    this.ended(err);
  }

  #endIfLost(): void {
    // ZeroMQ keeps what it received before the disconnect readable: a reply sent just before a server closes is not lost.
    if (this.#lost && this.live && !this.#sock.readable) this.#serverEnded(this.#lost);
  }

  /** Close the socket once what is queued has gone to ZeroMQ; `sayBye` tells a server its session is over (not when the server said it first). */
  #shutdown(err: Error | undefined, sayBye: boolean): void {
    if (this.#socketClosing) return;
    this.#socketClosing = true;
    this.#flushBatch(); // calls written in this tick go before the goodbye
    // A REQ socket cannot send out of turn, and a REQ peer's session on the server simply expires.
    if (sayBye && !this.requestReply) this.#queue.push([EMPTY, EMPTY]);
    this.#mailbox?.fail(err ?? new RpcError("CONNECTION_CLOSED", "the connection closed"));
    // What is queued goes to ZeroMQ first (unless the server is gone), then ZeroMQ lingers to deliver it.
    const sock = this.#sock;
    const queue = this.#queue;
    const flushed = queue.flushed();
    const timer = setTimeout(() => queue.close(), 1000);
    void flushed.then(() => {
      clearTimeout(timer);
      queue.close();
      sock.close();
    });
    this.resumeReading(); // let the read loop see the end
  }

  /** Send `[hello?, payload]` as one message: after the empty delimiter on a DEALER, in turn on a REQ. */
  #sendMessage(payload: Uint8Array, hello?: Buffer): boolean {
    if (this.#batchCount > 0) this.#flushBatch(); // in order: what was written before goes first
    if (!this.requestReply) return this.#queue.push(hello ? [EMPTY, hello, payload] : [EMPTY, payload]);
    const parts = hello ? [hello, payload] : [payload];
    if (this.#awaitingReply) {
      this.#requests.push(parts);
      if (this.#requests.length >= QUEUE_HIGH_WATER) this.#requestsBlocked = true;
      return !this.#requestsBlocked;
    }
    this.#awaitingReply = true;
    return this.#queue.push(parts);
  }

  /** Send the payloads waiting for the end of the tick: one alone as a compact message, more as a batch. */
  #flushBatch(): void {
    const count = this.#batchCount;
    if (count === 0) return;
    const batch = this.#batch;
    this.#batchCount = 0;
    this.#batchBytes = 0;
    if (count === 1) {
      const frame = batch[0] as Uint8Array;
      const message = Buffer.allocUnsafe(frame.length + 1);
      message[0] = this.#compactTag;
      message.set(frame, 1);
      this.#queue.push(message);
    } else {
      this.#queue.push(encodeBatch([BATCH, this.#compactTag], batch, count));
    }
    // Keep the array (no allocation per tick), not its payloads.
    for (let i = 0; i < count; i++) batch[i] = EMPTY;
  }

  async #authenticate(authkey: Uint8Array, timeout: number, refuseLegacyMd5: boolean): Promise<void> {
    const mailbox = new Mailbox((msg) => this.#sendMessage(msg));
    this.#mailbox = mailbox;
    // A ROUTER only learns of a peer from its first message, so the client speaks first.
    this.#sendMessage(KNOCK);
    const started = Date.now();
    await clientHandshake(mailbox, authkey, { hmac: nodeHmac, refuseLegacyMd5, timeout });
    const rest = Math.max(1, timeout - (Date.now() - started));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RpcError("AUTH_FAILED", `the server did not confirm the authkey challenge within ${timeout} ms`)), rest);
    });
    try {
      const ready = await Promise.race([mailbox.recv(READY.length), late]);
      if (!READY.equals(ready)) throw new RpcError("AUTH_FAILED", "the server did not confirm the authkey challenge");
    } finally {
      clearTimeout(timer);
    }
    this.#mailbox = undefined;
    this.#authenticated = true;
  }

  async #readLoop(): Promise<void> {
    while (!this.#socketClosing) {
      if (this.#readPaused) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      let msg: Buffer[];
      try {
        msg = await this.#sock.receive();
      } catch (err) {
        this.#serverEnded(new RpcError("CONNECTION_CLOSED", `receive failed: ${(err as Error)?.message ?? err}`, { cause: err }));
        return;
      }
      this.#onMessage(msg);
      if (this.#lost) this.#endIfLost();
    }
  }

  #onMessage(msg: Buffer[]): void {
    if (!this.live) return;
    if (msg.length === 2 && this.#batching && (msg[0] as Buffer).length === 1 && (msg[0] as Buffer)[0] === BATCH) {
      // [0x00, entries]: the replies the server wrote in one tick.
      const entries = splitBatch(msg[1] as Buffer, 0);
      if (typeof entries === "string") {
        this.close(new RpcError("PROTOCOL_ERROR", `malformed batch from the server: ${entries}`));
        return;
      }
      for (const payload of entries) {
        if (!this.live) return;
        this.#onPayload(payload);
      }
      return;
    }
    // DEALER: ["", payload], or [payload] once compact messages are granted; REQ: [payload] (the socket strips the delimiter).
    // Indexed, not sliced: no copy per message.
    const first = this.requestReply || (msg.length === 1 && this.#compactTag >= 0) ? 0 : 1;
    if (first === 1 && (msg.length < 2 || (msg[0] as Buffer).length !== 0)) {
      this.close(new RpcError("PROTOCOL_ERROR", `malformed message from the server (${msg.length} frames, no empty delimiter first)`));
      return;
    }
    if (msg.length !== first + 1) {
      this.close(new RpcError("PROTOCOL_ERROR", `the server sent ${msg.length - first} frames after the delimiter; expected one`));
      return;
    }
    const payload = msg[first] as Buffer;
    if (this.requestReply) this.#nextRequest();
    this.#onPayload(payload);
  }

  #onPayload(payload: Buffer): void {
    if (this.#mailbox) {
      this.#mailbox.push(payload);
      return;
    }
    if (payload.length === 0) {
      this.#serverEnded(new RpcError("CONNECTION_CLOSED", "the server closed the session"));
      return;
    }
    if (isChallenge(payload) || REFUSED.equals(payload)) {
      // A challenge (or, for a message too long to be a knock, a failure) where a reply belongs: the server wants an authkey, or forgot our authenticated session.
      const why = this.#authenticated
        ? "the server no longer knows this session (idle timeout or restart); reconnect to authenticate again"
        : "the server requires an authkey";
      this.close(new RpcError(this.#authenticated ? "CONNECTION_CLOSED" : "AUTH_FAILED", why));
      return;
    }
    if (this.#awaitingHelloAnswer) this.#helloAnswered(payload);
    this.deliver(payload);
  }

  /**
   * The server's answer to our hello: when it takes tags, the tag (if our
   * hello has one) replaces the repeated hello; when it grants compact
   * messages too, a DEALER sends them from now on.
   */
  #helloAnswered(payload: Buffer): void {
    this.#awaitingHelloAnswer = false;
    const answer = decodeHello(payload) as { tags?: unknown; compact?: unknown; batch?: unknown } | undefined;
    if (answer?.tags !== 1 || !this.#hello) return;
    const tag = tagFor(this.#hello);
    if (!tag) return;
    this.#hello = tag;
    if (answer.compact !== 1 || this.requestReply) return;
    this.#compactTag = tag[0] as number;
    this.#batching = answer.batch === 1;
  }

  #nextRequest(): void {
    this.#awaitingReply = false;
    const next = this.#requests.shift();
    if (next) {
      this.#awaitingReply = true;
      this.#queue.push(next);
      if (this.#requestsBlocked && this.#requests.length <= QUEUE_HIGH_WATER / 2) {
        this.#requestsBlocked = false;
        this.drained();
      }
    }
  }
}
