/**
 * The server's end of a connection's opening, apart from the peer session
 * (src/session.ts) so that a client never loads it: a server
 * ({@link FrameServer}, src/serve-frames.ts) gives it to the session's
 * `start`, and nothing a client runs imports this module.
 *
 * It stands between the connection and the session (it is the connection's
 * sink): it waits for the peer's first frame (a hello, a first envelope, or
 * another protocol's first frame), negotiates the serializer, streams,
 * references and call headers, runs `onConnect` (holding what the peer
 * sends while it decides) and `onDisconnect`, refuses what it must, and
 * closes connections that stay silent (`handshakeTimeout` before the first
 * frame, `idleTimeout` after it). Once the connection is admitted, frames go
 * straight to the session.
 */
import { sessionState } from "./call-context.js";
import { unref } from "./caller.js";
import { isCallId, jsonCallIdText, outOfRangeCallId } from "./call-id.js";
import { RpcError } from "./errors.js";
import { toWireError } from "./errors-to-wire.js";
import type { SessionLike } from "./frame-protocol.js";
import type { RPCHandler } from "./handler.js";
import { MAX_FRAMES_WHILE_ADMITTING, refusal, type ConnectionInfo } from "./lifecycle.js";
import { Kind, PROTOCOL_VERSION, decodeHello, encodeHello, helloMistake } from "./protocol.js";
import { getSerializer, json, type Serializer } from "./serializers/index.js";
import { utf8Encode } from "./serializers/utf8.js";
import { Origin, install } from "./serving-parts.js";
import { DEFAULT_IDLE_TIMEOUT } from "./session-options.js";
import type { Opening, OpeningAccess, PeerSession } from "./session.js";
import type { ConnectionSink } from "./transport.js";

/** The sessions' access table (one for all of them, src/session.ts), kept by the first opening. */
let OPENING_ACCESS: OpeningAccess | undefined;
/** Set in ServerOpening's static block. */
let SESSION_CLOSED: (s: PeerSession, err: Error | undefined) => void;
let IDLE_CHECK: (o: ServerOpening, limit: number, sweeps: number) => void;

/** The server's opening of one session; made by the session's `start` (see {@link serverOpening}). */
export class ServerOpening implements Opening {
  readonly #s: PeerSession;
  readonly #a: OpeningAccess;
  /** The hello (or a first envelope) was accepted: frames go to the session. */
  #open = false;
  /** Refused or closed: frames are dropped. */
  #done = false;
  /** Another protocol took the connection over (src/frame-protocol.ts). */
  #delegate: (ConnectionSink & SessionLike) | undefined;
  /** Frames read while `onConnect` decides (undefined when not deciding). */
  #admitting: Uint8Array[] | undefined;
  /** What the lifecycle hooks were given, once `onConnect` admitted the connection. */
  #admitted: ConnectionInfo | undefined;
  #firstFrameTimer: ReturnType<typeof setTimeout> | undefined;
  /** The idle sweep this connection is in (after the hello, when the server has an idleTimeout). */
  #sweep: IdleSweep | undefined;
  /** Idle sweeps since the last frame (0: a frame came since the last sweep; the hello counts). */
  #quiet = 0;
  readonly #gone: ((end: ServerOpening) => void) | undefined;

  static {
    // One function for every session's onClose (no closure per connection): the session knows its opening.
    SESSION_CLOSED = (s, err) => ((OPENING_ACCESS as OpeningAccess).opening(s) as ServerOpening).#closed(err);
    IDLE_CHECK = (o, limit, sweeps) => o.#idleCheck(limit, sweeps);
  }

  constructor(session: PeerSession, access: OpeningAccess, gone?: (end: ServerOpening) => void) {
    this.#s = session;
    this.#a = access;
    this.#gone = gone;
    install(access);
    OPENING_ACCESS = access;
    session.onClose = SESSION_CLOSED;
    const limit = access.opts(session).firstFrameTimeout;
    if (limit && limit > 0) {
      this.#firstFrameTimer = unref(
        setTimeout(() => {
          session.conn.close(new RpcError("PROTOCOL_ERROR", `no hello or call within ${limit} ms`));
        }, limit),
      );
    }
  }

  get session(): PeerSession {
    return this.#s;
  }

  // ---- ConnectionSink ----------------------------------------------------

  frame(frame: Uint8Array): void {
    this.#quiet = 0;
    if (this.#open) return this.#s.frame(frame);
    if (this.#delegate) return this.#delegate.frame(frame);
    if (this.#admitting) {
      if (this.#admitting.length >= MAX_FRAMES_WHILE_ADMITTING) this.#s.fail(new RpcError("PROTOCOL_ERROR", "too many frames before the connection was admitted"));
      else this.#admitting.push(frame);
      return;
    }
    if (this.#done) return;
    clearTimeout(this.#firstFrameTimer);
    this.#firstFrameTimer = undefined;
    this.#first(frame);
  }

  drain(): void {
    if (this.#delegate) this.#delegate.drain();
    else this.#s.drain();
  }

  close(err?: Error): void {
    this.#done = true;
    clearTimeout(this.#firstFrameTimer);
    this.#delegate?.close(err);
    this.#s.close(err);
  }

  // ---- what server.close() needs (SessionLike) ----------------------------

  get inFlight(): number {
    return this.#delegate ? this.#delegate.inFlight : this.#s.inFlight;
  }

  beginShutdown(): void {
    this.#delegate?.beginShutdown();
    this.#s.beginShutdown();
  }

  idle(): Promise<void> {
    return this.#delegate ? this.#delegate.idle() : this.#s.idle();
  }

  /** Abort every running call (server shutting down past its deadline) and close. */
  abortAll(reason: Error): void {
    if (this.#delegate) this.#s.conn.close(reason);
    else this.#s.abortAll(reason);
  }

  // ---- a frame the session could not decode --------------------------------

  /** Answer an undecodable frame from the peer (the session already matched it against its own calls). */
  undecodable(decoded: unknown, err: RpcError, frame: Uint8Array): void {
    const bad = outOfRangeCallId(decoded);
    if (bad !== undefined) return this.#refuseCallId(bad, frame);
    const id = Array.isArray(decoded) && decoded[0] === Kind.Call && isCallId(decoded[1]) ? decoded[1] : null;
    this.#a.sendError(this.#s, id, err);
  }

  /**
   * A call whose id is an integer outside 0..2^53-1: refused, and the error
   * carries the id exactly as sent (a JSON peer's digits, a msgpack peer's
   * 64-bit int) so that peer can tell which of its calls failed.
   */
  #refuseCallId(bad: number | bigint, frame: Uint8Array): void {
    const s = this.#s.serializer ?? json;
    const digits = s.name === "json" ? jsonCallIdText(frame) : undefined;
    const text = digits ?? String(bad);
    const err = new RpcError("PROTOCOL_ERROR", `call id ${text} is out of range: call ids are integers from 0 to 2^53-1 (docs/protocol.md, "Call ids"); this call was not run`, { data: { id: text } });
    const wire = toWireError(err);
    if (digits !== undefined) {
      this.#a.send(this.#s, utf8Encode(`[${Kind.Error},${digits},${JSON.stringify(wire)}]`));
      return;
    }
    if (s.binary) {
      try {
        this.#a.send(this.#s, s.encode([Kind.Error, typeof bad === "bigint" ? bad : BigInt(bad), wire]));
        return;
      } catch {
        // a binary serializer without 64-bit ints: the id travels in data only
      }
    }
    this.#a.sendError(this.#s, null, err);
  }

  // ---- the opening ---------------------------------------------------------

  /** The peer's first frame: a hello, another protocol's first frame, or (no hello: version 1 with JSON) a first envelope. */
  #first(frame: Uint8Array): void {
    const s = this.#s;
    const conn = s.conn;
    const hello = decodeHello(frame);
    if (hello) {
      const name = hello.serializer ?? json.name;
      const serializer = getSerializer(name);
      if (hello.wirecall < 1 || !Number.isInteger(hello.wirecall)) {
        this.#refuse(new RpcError("PROTOCOL_ERROR", `unsupported protocol version ${hello.wirecall}`));
      } else if (!serializer) {
        this.#refuse(new RpcError("PROTOCOL_ERROR", `unknown serializer '${name}'`));
      } else {
        const refs = hello.refs === 1 && !conn.requestReply;
        const headers = hello.meta === 1;
        this.#admit(serializer, () => {
          conn.send(encodeHello({ wirecall: PROTOCOL_VERSION, serializer: serializer.name, ...(refs ? { refs: 1 } : {}), ...(headers ? { meta: 1 } : {}) }), true);
          this.#accept(refs, headers);
        });
      }
      return;
    }
    const handler = this.#a.opts(s).handler;
    for (const p of handler ? (this.#a.opts(s).protocols ?? []) : []) {
      if (p.detect(frame)) {
        this.#delegate = p.start(handler as RPCHandler, conn, { transport: conn.transport, remoteAddress: conn.remoteAddress, protocol: p.name });
        this.#delegate.frame(frame);
        return;
      }
    }
    const mistake = helloMistake(frame);
    if (mistake) return this.#refuse(new RpcError("PROTOCOL_ERROR", mistake));
    // No hello: version 1 with JSON, so the simplest clients need no handshake.
    if (this.#admit(json, () => this.#accept(false, false))) s.frame(frame);
    // Refused, or decided later: then this first frame is read after the others waiting.
    else this.#admitting?.unshift(frame);
  }

  #accept(refs: boolean, headers: boolean): void {
    this.#open = true;
    this.#a.agree(this.#s, refs, headers);
    const idle = this.#a.opts(this.#s).idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    if (idle > 0 && !this.#s.closed) {
      // The hello counts as activity: the first sweep cannot close a connection admitted less than `idle` ms ago.
      this.#quiet = 0;
      this.#sweep = IdleSweep.join(this, idle);
    }
  }

  /**
   * Run the server's `onConnect` hook, then `accept` (or refuse the
   * connection). True when the connection was accepted at once.
   */
  #admit(serializer: Serializer, accept: () => void): boolean {
    const s = this.#s;
    this.#a.use(s, serializer);
    const hook = this.#a.opts(s).onConnect;
    if (!hook) {
      accept();
      return true;
    }
    const origin = this.#a.origin(s, Origin);
    const info: ConnectionInfo = {
      transport: origin.transport,
      remoteAddress: origin.remoteAddress,
      serializer: serializer.name,
      get session() {
        return sessionState(origin);
      },
    };
    let r: void | Promise<void>;
    try {
      r = hook(info);
    } catch (err) {
      this.#refuse(refusal(err));
      return false;
    }
    if (!(r instanceof Promise)) {
      this.#admitted = info;
      accept();
      return true;
    }
    // Decided later: what the peer sends meanwhile waits (a conforming client sends nothing before the hello's answer).
    this.#admitting = [];
    s.conn.pause();
    let decided = false;
    const limit = this.#a.opts(s).firstFrameTimeout;
    const timer =
      limit && limit > 0
        ? unref(
            setTimeout(() => {
              decided = true;
              this.#admitting = undefined;
              this.#refuse(new RpcError("CONNECTION_REFUSED", `the server did not admit the connection within ${limit} ms (onConnect)`));
            }, limit),
          )
        : undefined;
    r.then(
      () => {
        if (decided) return;
        decided = true;
        clearTimeout(timer);
        const waiting = this.#admitting ?? [];
        this.#admitting = undefined;
        if (s.closed) return;
        this.#admitted = info;
        accept();
        s.conn.resume();
        for (const f of waiting) this.frame(f);
      },
      (err: unknown) => {
        if (decided) return;
        decided = true;
        clearTimeout(timer);
        this.#admitting = undefined;
        if (!s.closed) this.#refuse(refusal(err));
      },
    );
    return false;
  }

  #refuse(err: RpcError): void {
    this.#done = true;
    const conn = this.#s.conn;
    conn.send(encodeHello({ wirecall: PROTOCOL_VERSION, error: toWireError(err) }), true);
    conn.close(err);
  }

  /**
   * The idle sweep's look at this connection, every `limit / sweeps` ms
   * (`sweeps` is 1 unless `limit` is past what one timer can wait): closed
   * at the first look that finds `sweeps` whole periods without a frame
   * either way, an answer sent or a call in flight, so between `limit` and
   * `limit` plus one period after the last of them.
   */
  #idleCheck(limit: number, sweeps: number): void {
    const s = this.#s;
    if (s.closed) return;
    // Answers sent and calls in flight count as activity seen now (the serving half marks answers).
    if (this.#a.touched(s) || s.inFlight > 0 || s.pending > 0) {
      this.#quiet = 1;
      return;
    }
    if (++this.#quiet <= sweeps) return;
    const err = new RpcError("CONNECTION_CLOSED", `closed after ${limit} ms without a frame (the server's idleTimeout)`);
    this.#a.sendError(s, null, err);
    s.conn.close(err);
  }

  /** The session closed (after its pending calls were rejected). */
  #closed(err: Error | undefined): void {
    this.#done = true;
    clearTimeout(this.#firstFrameTimer);
    this.#sweep?.leave(this);
    this.#sweep = undefined;
    const s = this.#s;
    const admitted = this.#admitted;
    const opts = this.#a.opts(s);
    if (admitted !== undefined && opts.onDisconnect) {
      try {
        opts.onDisconnect(admitted, err);
      } catch (e) {
        opts.handler?.options.onError?.(e, undefined);
      }
    }
    this.#gone?.(this);
  }
}

/**
 * One interval timer per idle limit, shared by every admitted connection of
 * every server with that limit: a timer per connection (a Timeout, its
 * closure and context, re-made each period) cost about 250 bytes of heap
 * for each idle connection. Runs only while some connection is in it.
 */
class IdleSweep {
  readonly #limit: number;
  /** Periods per limit: 1, or more for a limit past the longest timer (which Node would turn into 1 ms). */
  readonly #sweeps: number;
  readonly #members = new Set<ServerOpening>();
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(limit: number) {
    this.#limit = limit;
    this.#sweeps = Math.ceil(limit / MAX_TIMER);
  }

  static join(o: ServerOpening, limit: number): IdleSweep {
    let sweep = SWEEPS.get(limit);
    if (sweep === undefined) SWEEPS.set(limit, (sweep = new IdleSweep(limit)));
    sweep.#members.add(o);
    sweep.#timer ??= unref(setInterval(sweep.#run, limit / sweep.#sweeps));
    return sweep;
  }

  leave(o: ServerOpening): void {
    this.#members.delete(o);
    if (this.#members.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    SWEEPS.delete(this.#limit);
  }

  // A close the check starts completes later (the connection's close is asynchronous): the set is not changed under the loop.
  readonly #run = (): void => {
    for (const o of this.#members) IDLE_CHECK(o, this.#limit, this.#sweeps);
  };
}

/** The longest delay a Node timer keeps (2^31 - 1 ms); a longer one fires after 1 ms. */
const MAX_TIMER = 0x7fff_ffff;

/** The sweep of each idle limit in use. */
const SWEEPS = new Map<number, IdleSweep>();

/** What a server gives its sessions' `start`. */
export function serverOpening(gone?: (end: ServerOpening) => void): (session: PeerSession, access: OpeningAccess) => ServerOpening {
  return (session, access) => new ServerOpening(session, access, gone);
}
