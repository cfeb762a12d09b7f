/**
 * One peer session per connection end, the same on client and server (like
 * birpc's createBirpc and capnweb's RpcSession): it sends calls and serves
 * calls over one connection. One pending-call table for the calls it made
 * (ids, timeouts, cancel, `CONNECTION_CLOSED` with its cause), one dispatch
 * of the calls it receives to an {@link RPCHandler}, the in-flight limit,
 * cancellation and write backpressure.
 *
 * The roles differ only in the opening: the "client" sends the hello and
 * waits for its answer; the "server" waits for a hello (or a first envelope,
 * or another protocol's first frame) and answers it. After that either side
 * may call the other (docs/protocol.md, "Calls from the server"). The
 * server's opening is src/server-opening.ts, given to {@link PeerSession.start}
 * by the server (src/serve-frames.ts), so a client never loads it.
 */
import type { PeerInfo } from "./call-context.js";
import { START, beginCall, waitsForStart, type OutgoingCall } from "./caller.js";
import type { AnyRemote, CallOptions } from "./call-types.js";
import { RpcError, isWireError, type WireError } from "./errors.js";
import type * as FromWire from "./errors-from-wire.js";
import type { SessionLike } from "./frame-protocol.js";
import { encodeFrame, sendFrame, type OutFrame } from "./frame-parts.js";
import type { RPCHandler } from "./handler.js";
import type { SessionOptions } from "./session-options.js";
import { putHeader, takeHeader, type CallHeader } from "./meta/header.js";
import { Lazy } from "./lazy.js";
import { metaLimits, type MetaLimits } from "./meta/limits.js";
import { Kind, MAX_HELLO_BYTES, PROTOCOL_VERSION, encodeHello, validateEnvelope, type CallId, type Envelope, type Hello } from "./protocol.js";
import { REF_TABLES } from "./refs/load.js";
import type { RefSession } from "./refs/ref-tables.js";
import type { Serving, SessionAccess } from "./serving.js";
import type * as Inbound from "./session-inbound.js";
import type { InboundAccess } from "./session-inbound.js";
import { needsWalk } from "./refs/detect.js";
import type * as Parts from "./serving-parts.js";
import { json, type Serializer } from "./serializers/index.js";
import { utf8Decode } from "./serializers/utf8.js";
import type { Connection, ConnectionSink } from "./transport.js";

export { DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_QUEUED, DEFAULT_MAX_QUEUED_BYTES } from "./session-options.js";
export type { SessionOptions } from "./session-options.js";

/**
 * The server's end of the opening (src/server-opening.ts): the connection's
 * sink until the peer is admitted, and what `server.close()` drives.
 */
export interface Opening extends ConnectionSink, SessionLike {
  abortAll(reason: Error): void;
  /** Answer a frame from the peer that could not be decoded. */
  undecodable(decoded: unknown, err: RpcError, frame: Uint8Array): void;
}

/** How the server's opening reaches into its session: the serving half's way in, and the opening's. */
export interface OpeningAccess extends SessionAccess<PeerSession>, InboundAccess<PeerSession> {
  /** Send a frame; false when the transport asks to wait for drain (reading then pauses). */
  send(s: PeerSession, frame: OutFrame): boolean;
  opts(s: PeerSession): SessionOptions;
  /** The origin of the peer's calls, made (with `Origin`, src/serving-parts.ts) when first asked for. */
  origin(s: PeerSession, Origin: new (s: PeerSession, a: OpeningAccess) => PeerInfo): PeerInfo;
  /** Aborted when the connection closes. */
  closedSignal(s: PeerSession): AbortSignal;
  /** The hello negotiated call headers. */
  headers(s: PeerSession): boolean;
  /** Take `serializer` (the peer's hello named it). */
  use(s: PeerSession, serializer: Serializer): void;
  /** The opening is done with what was negotiated: calls can flow. */
  agree(s: PeerSession, refs: boolean, headers: boolean): void;
  /** True when an answer was sent since last asked. */
  touched(s: PeerSession): boolean;
}

/** How the serving half and the server's opening reach into a session (set in PeerSession's static block). */
let ACCESS: OpeningAccess;
/**
 * One end of one connection. A server creates one per accepted connection;
 * a client one per connection it dials (the proxy makes a new one on reconnect).
 */
export class PeerSession implements ConnectionSink, SessionLike {
  readonly conn: Connection;
  readonly #opts: SessionOptions;
  readonly #handler: RPCHandler | undefined;
  /** Where the peer's calls come from (src/serving-parts.ts), made by the serving half or the opening. */
  #origin: PeerInfo | undefined;
  #serializer: Serializer | undefined;
  #text = false;
  /** Under json, Map, Set and non-finite numbers are refused rather than sent changed. */
  #json = false;
  #ready = false;
  /** Server: its opening (src/server-opening.ts), given to start(). */
  #opening: Opening | undefined;
  // Calls this side made, by id: made with the first (a server that never calls its peer has none).
  #pending: Map<CallId, OutgoingCall> | undefined;
  #nextId = 1;
  /** Calls the peer makes (src/serving.ts), made when the first one arrives. */
  #serving: Serving<PeerSession> | undefined;
  #readPaused = false;
  #writeBlocked = false;
  #shuttingDown = false;
  #closed = false;
  /** Aborted when the connection closes (`origin.closed`), made when first asked for. */
  #closedSignal: AbortController | undefined;
  #closeError: Error | undefined;
  /** Why this side gave up on the connection; wins over whatever the transport reports next. */
  #failure: Error | undefined;
  /** The last connection-level error the peer sent (e.g. why it is about to close). */
  #peerSaid: Error | undefined;
  #closedWaiters: (() => void)[] | undefined;
  /** An answer was sent (the server's idle timer asks). */
  #sawFrame = false;
  /** The hello negotiated streams and references. */
  #refsOn = false;
  /** Their tables (src/refs/), made when the first reference or stream travels either way. */
  #refs: RefSession | undefined;
  /** While the tables' module loads: what waits for it, in order (sends, answers, the held frames' replay). */
  #refsWait: ((err?: Error) => void)[] | undefined;
  /** The tables' module could not be loaded (a page's chunk that failed to download). */
  #refsFailed: Error | undefined;
  /** Frames read while the tables load, replayed in order once they exist (reading is paused meanwhile). */
  #held: Uint8Array[] | undefined;
  /** The transport closed while frames were held: closed after their replay. */
  #closeLater: [Error | undefined] | undefined;
  /** Call headers (metadata, deadlines, idempotency keys), once the hello negotiated them (src/meta/). */
  #headers = false;
  readonly #metaLimits: Readonly<MetaLimits>;
  /** Called once when the hello is done and calls can flow both ways. */
  onReady: ((session: PeerSession) => void) | undefined;
  /** Called once when the connection is gone, after pending calls were rejected. */
  onClose: ((session: PeerSession, err: Error | undefined) => void) | undefined;

  static {
    // The serving half's way in, one table for every session (src/serving.ts).
    ACCESS = {
      closed: (s) => s.#closed,
      writeBlocked: (s) => s.#writeBlocked,
      refs: (s) => s.#refs,
      refsFailed: (s) => s.#refsFailed,
      withRefs: (s, then) => s.#withRefs(then),
      encode: (s, env) => encodeFrame(s.#serializer as Serializer, env),
      send: (s, frame) => s.#send(frame),
      // Filled in by src/serving-parts.ts, loaded with whatever answers the peer.
      sendError: () => {},
      wireId: (_s, id) => id,
      updateReading: (s) => s.#updateReading(),
      touch: (s) => {
        s.#sawFrame = true;
      },
      opts: (s) => s.#opts,
      origin: (s, Origin) => (s.#origin ??= new Origin(s, ACCESS)),
      closedSignal: (s) => s.#closedSignalOf(),
      headers: (s) => s.#headers,
      use: (s, serializer) => s.#useSerializer(serializer),
      agree: (s, refs, headers) => {
        s.#refsOn = refs;
        s.#headers = headers;
        s.#ready = true;
        s.onReady?.(s);
      },
      touched: (s) => {
        const t = s.#sawFrame;
        s.#sawFrame = false;
        return t;
      },
      // src/session-inbound.ts's way in.
      refsOn: (s) => s.#refsOn,
      json: (s) => s.#json,
      makeRefs: (s) => s.#makeRefs(),
      serving: (s, make) => (make && s.#makeServing(), s.#serving),
      withServing: (s, then) => s.#withServing(then),
      hold: (s, frame, wait) => s.#hold(frame, wait),
      pending: (s) => (s.#pending ??= new Map()),
      metaLimits: (s) => s.#metaLimits,
      errorReply: (s, id, err) => s.#errorReply(id, err),
      opening: (s) => s.#opening,
    };
  }

  constructor(conn: Connection, options: SessionOptions) {
    this.conn = conn;
    this.#opts = options;
    this.#handler = options.handler;
    this.#metaLimits = metaLimits(options.metaLimits);
    if (options.role === "client") this.#useSerializer(options.serializer ?? json);
    // A server loads the tables' module ahead (once per process), so that a first callback waits for nothing.
    else REF_TABLES.load().catch(() => {});
    // So does a side that serves: its first call from the peer then waits for nothing either.
    if (options.role === "server" || options.handler !== undefined) {
      SERVING.load().catch(() => {});
      INBOUND.load().catch(() => {});
      START.load().catch(() => {});
    }
  }

  #closedSignalOf(): AbortSignal {
    if (this.#closedSignal === undefined) {
      this.#closedSignal = new AbortController();
      if (this.#closed) this.#closedSignal.abort();
    }
    return this.#closedSignal.signal;
  }

  /** The agreed serializer (a client's is known from the start; a server's once the hello arrived). */
  get serializer(): Serializer | undefined {
    return this.#serializer;
  }

  /** The hello is done and the connection is open: calls can be made. */
  get ready(): boolean {
    return this.#ready && !this.#closed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the connection closed (undefined for an orderly close or while open). */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  /** Handlers of the peer's calls currently running, one-way calls included. */
  get inFlight(): number {
    return this.#serving?.running ?? 0;
  }

  /** Calls this side made that are waiting for their answer. */
  get pending(): number {
    return this.#pending?.size ?? 0;
  }

  /**
   * Open the connection. A client sends its hello; a server passes its
   * opening (src/server-opening.ts: `serverOpening()`), which waits for the
   * peer's. The session now owns the connection. Returns the opening made,
   * else this session.
   */
  start<O extends Opening>(opening?: (s: PeerSession, access: OpeningAccess) => O): O | this {
    if (opening) {
      const o = (this.#opening = opening(this, ACCESS));
      this.conn.open(o);
      return o;
    }
    this.conn.open(this);
    const refs = this.conn.requestReply ? {} : { refs: 1 };
    this.conn.send(encodeHello({ wirecall: PROTOCOL_VERSION, serializer: (this.#serializer as Serializer).name, ...refs, meta: 1 }), true);
    return this;
  }

  // ---- calling the peer ------------------------------------------------

  /** Call `name` on the peer; resolves with its result or rejects with its error. */
  call(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    if (!this.ready) return Promise.reject(this.#notReady(name));
    if (waitsForStart(options, this.#opts)) return START.load().then(() => this.call(name, args, kwargs, options));
    const { promise, call } = beginCall(name, args, kwargs, options, this.#opts);
    if (call) this.send(call);
    return promise;
  }

  /**
   * Send a call started elsewhere (the proxy starts calls before a
   * connection is ready, and hands them over). Requires {@link ready}.
   */
  send(call: OutgoingCall, target?: number): void {
    if (call.settled) return;
    if (!this.ready) {
      call.reject(this.#notReady(call.name));
      return;
    }
    // Calls made while the reference tables load go after the one that needed them.
    if (this.#refsWait !== undefined) {
      this.#refsWait.push(() => this.send(call, target));
      return;
    }
    const id = this.#nextId++;
    call.id = id;
    const tel = this.#opts.telemetry;
    if (tel !== undefined && target === undefined && call.span === undefined) {
      const t = tel.client(call.name, call.meta, call.parent, this.#headers);
      call.meta = t.meta;
      call.span = t.span;
    }
    let frame: OutFrame;
    try {
      let env: unknown[] = call.kwargs === undefined ? [Kind.Call, id, call.name, call.args] : [Kind.Call, id, call.name, call.args, call.kwargs];
      if (target !== undefined) env = [5, id, target, call.name, call.args, null];
      // References, streams and values only the walk can refuse: src/session-inbound.ts encodes them.
      if (this.#refs !== undefined || needsWalk(env, 3, this.#json)) env = this.#special(env, target, call);
      if (target === undefined && (call.meta !== undefined || call.deadline !== undefined || call.key !== undefined)) env = this.#withHeader(env, call);
      frame = encodeFrame(this.#serializer as Serializer, env);
    } catch (err) {
      if (err === NEEDS_MODULE) {
        // With references on, this call and those after it wait in order for the tables; without,
        // the walk only ever refuses what it found (it cannot travel here): no order to keep.
        if (!this.#refsOn) INBOUND.run((e) => (e ? call.reject(e) : this.send(call, target)));
        else if (this.#refsFailed) call.reject(this.#refsFailed);
        else this.#withRefs(() => this.send(call, target));
        return;
      }
      this.#refs?.endOutgoing(call);
      call.reject(err instanceof RpcError && err.code === "INVALID_META" ? err : this.#encodeError(call.name, err));
      return;
    }
    (this.#pending ??= new Map()).set(id, call);
    call.onAbandon = this.#abandon ??= (c) => this.#abandonCall(c);
    sendFrame(this.conn, frame, this.#text);
  }

  /** One-way call: sent, never answered. Resolves once handed to the transport. */
  async notify(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>): Promise<void> {
    if (!this.ready) throw this.#notReady(name, "one-way call");
    const wait = this.#refsWait;
    if (wait !== undefined) {
      // In order with the calls waiting for the reference tables.
      return new Promise((resolve, reject) => wait.push(() => this.notify(name, args, kwargs).then(resolve, reject)));
    }
    if (this.conn.requestReply) throw new RpcError("PROTOCOL_ERROR", `cannot send one-way call '${name}': this connection is lock-step request/reply (ZeroMQ REQ)`);
    const env = kwargs === undefined ? [Kind.Notify, name, args] : [Kind.Notify, name, args, kwargs];
    // A one-way call has no end to scope references by: none travel with it (the walk refuses them).
    const w = needsWalk(env, 2, this.#json) ? (INBOUND.m ?? (await INBOUND.load())) : undefined;
    let frame: Uint8Array;
    try {
      w?.walk(env, 2, this.#json);
      frame = (this.#serializer as Serializer).encode(env);
    } catch (err) {
      throw this.#encodeError(name, err);
    }
    this.conn.send(frame, this.#text);
  }

  /**
   * Close the connection; calls in flight either way end with
   * `CONNECTION_CLOSED` (this side's own calls with `reason` when given, at
   * once). Resolves once closed. Idempotent.
   */
  end(reason?: Error): Promise<void> {
    if (reason && this.#pending !== undefined && this.#pending.size > 0) {
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const call of pending) call.reject(reason);
    }
    this.conn.close();
    return this.whenClosed();
  }

  /** Resolves once the transport reported the connection closed. */
  whenClosed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => (this.#closedWaiters ??= []).push(resolve));
  }

  /** Close because this side found the connection unusable; `err` becomes the close's cause. */
  fail(err: Error): void {
    this.#failure ??= err;
    this.conn.close(err);
  }

  /**
   * Encode an envelope that holds something special (src/session-inbound.ts):
   * a reference call, or values for the reference tables or the walk.
   * Throws NEEDS_MODULE while what that takes is not loaded or made yet.
   */
  #special(env: unknown[], target: number | undefined, call: OutgoingCall): unknown[] {
    const m = INBOUND.m;
    if (m === undefined || (this.#refsOn && this.#refs === undefined)) throw NEEDS_MODULE;
    return m.encode(this, ACCESS, env, target === undefined ? 3 : 4, call);
  }

  /** Timeout or abort of a call sent on this connection: forget it, tell the peer if it can be told. */
  /** Given to each call sent (made with the first). */
  #abandon: ((call: OutgoingCall) => void) | undefined;

  #abandonCall(call: OutgoingCall): void {
    const pending = this.#pending as Map<CallId, OutgoingCall>;
    if (pending.get(call.id) !== call) return;
    pending.delete(call.id);
    this.#refs?.endOutgoing(call);
    // A lock-step connection cannot carry a cancel: it would wait for an answer that never comes.
    if (this.#closed || this.conn.requestReply) return;
    try {
      this.conn.send((this.#serializer as Serializer).encode([Kind.Cancel, call.id]), this.#text);
    } catch {
      // a cancel that cannot be sent only costs the peer some work
    }
  };

  // ---- ConnectionSink --------------------------------------------------

  frame(frame: Uint8Array): void {
    if (this.#held !== undefined) {
      this.#held.push(frame);
      return;
    }
    // A server's frames come through its opening, which made it ready first.
    if (!this.#ready) return this.#answer(frame);
    const serializer = this.#serializer as Serializer;
    let decoded: unknown;
    let msg!: Envelope;
    let inbound: unknown[] | undefined;
    let header: unknown;
    try {
      decoded = serializer.decode(frame);
      if (Array.isArray(decoded)) {
        if (this.#headers) header = takeHeader(decoded);
        const kind = decoded[0] as unknown;
        // Calls from the peer, cancels, references, streams and answers with metadata: src/session-inbound.ts, loaded with the first.
        if (header !== undefined || kind === Kind.Call || kind === Kind.Notify || kind === Kind.Cancel || (this.#refsOn && ((typeof kind === "number" && kind >= 5 && kind <= 12) || (kind === Kind.Reply && decoded.length === 4)))) {
          inbound = decoded;
        }
      }
      if (inbound === undefined) msg = validateEnvelope(decoded);
    } catch (err) {
      // Only a broken peer sends what cannot be decoded: handled there too (decoded again once it is loaded).
      const m = INBOUND.m;
      return m === undefined ? this.#hold(frame, (k) => INBOUND.run(k)) : m.undecodable(this, ACCESS, decoded, err, frame);
    }
    if (inbound !== undefined) {
      const m = INBOUND.m;
      return m === undefined ? this.#hold(frame, (k) => INBOUND.run(k)) : m.inbound(this, ACCESS, inbound, frame, header);
    }
    switch (msg[0]) {
      case Kind.Reply: {
        const pending = this.#pending;
        const call = pending?.get(msg[1]);
        if (!call) return; // timed out or cancelled: the late reply is dropped
        (pending as Map<CallId, OutgoingCall>).delete(msg[1]);
        this.#refs?.endOutgoing(call);
        call.resolve(msg[2]);
        return;
      }
      case Kind.Error: {
        // Rebuilding the error (src/errors-from-wire.ts) loads with the first: this frame and those after it wait for it, in order.
        const m = FROM_WIRE.m;
        return m === undefined ? this.#hold(frame, (k) => FROM_WIRE.run(k)) : this.#errorReply(msg[1], m.fromWireError(msg[2]));
      }
    }
  }

  drain(): void {
    this.#writeBlocked = false;
    this.#refs?.drain();
    this.#serving?.pump();
    this.#updateReading();
  }

  close(err?: Error): void {
    if (this.#closed) return;
    // Frames delivered before the close are answered first.
    if (this.#held !== undefined) this.#closeLater = [err];
    else this.#onClosed(err);
  }

  #onClosed(err: Error | undefined): void {
    this.#closed = true;
    this.#closedSignal?.abort();
    this.#ready = false;
    this.#closeError = this.#failure ?? err;
    // A peer that announced its close (server shutdown, idle timeout) said why better than any transport can.
    const said = this.#peerSaid as RpcError | undefined;
    const announced = said !== undefined && (said.code === "SHUTTING_DOWN" || said.code === "CONNECTION_CLOSED");
    const cause = (announced && this.#failure === undefined ? said : undefined) ?? this.#closeError ?? said;
    const client = this.#opts.role === "client";
    const abort = new RpcError("CONNECTION_CLOSED", client ? "the server disconnected" : "the caller disconnected", cause ? { cause } : {});
    this.#serving?.close(abort);
    this.#refs?.close(abort);
    if (this.#pending !== undefined && this.#pending.size > 0) {
      const reason = new RpcError(
        "CONNECTION_CLOSED",
        cause ? `connection lost: ${cause.message}` : client ? "the server closed the connection" : "the caller closed the connection",
        cause ? { cause } : {},
      );
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const call of pending) call.reject(reason);
    }
    this.onClose?.(this, this.#closeError);
    const waiters = this.#closedWaiters;
    this.#closedWaiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  // ---- serving (SessionLike) -------------------------------------------

  beginShutdown(): void {
    this.#shuttingDown = true;
    this.#serving?.shutdown();
  }

  idle(): Promise<void> {
    return this.#serving === undefined ? Promise.resolve() : this.#serving.idle();
  }

  /** Abort every running call (server shutting down past its deadline) and close. */
  abortAll(reason: Error): void {
    this.#serving?.abortAll(reason);
    // Say why before closing: every transport's client then fails its calls with this cause
    // (a ws close reason carries it, a tcp FIN or a zmq goodbye does not).
    if (this.#ready && !this.#closed) ACCESS.sendError(this, null, reason);
    this.conn.close(reason);
  }

  // ---- internals: opening ----------------------------------------------

  #useSerializer(s: Serializer): void {
    this.#serializer = s;
    this.#json = s.name === "json";
    this.#text = s.binary === false;
  }

  /** Client: the server's answer to our hello. */
  #answer(frame: Uint8Array): void {
    // A small JSON object whatever the serializer (docs/protocol.md, "The hello"); the server's
    // hello parser (protocol.ts, decodeHello) also finds hellos among frames of any kind.
    let hello: Hello | undefined;
    try {
      hello = frame.length <= MAX_HELLO_BYTES ? (JSON.parse(utf8Decode(frame)) as Hello) : undefined;
    } catch {
      // not JSON: not a hello
    }
    const ours = (this.#serializer as Serializer).name;
    const error = hello?.error;
    if (!hello || typeof hello.wirecall !== "number" || (error !== undefined && !isWireError(error))) {
      this.fail(new RpcError("PROTOCOL_ERROR", "the server did not answer the hello (is it a wirecall server?)"));
    } else if (error) {
      const m = FROM_WIRE.m;
      if (m === undefined) this.#hold(frame, (k) => FROM_WIRE.run(k));
      else this.fail(new RpcError(error.code, `the server refused the connection: ${error.message}`, { cause: m.fromWireError(error) }));
    } else if (hello.wirecall !== PROTOCOL_VERSION || hello.serializer !== ours) {
      this.fail(new RpcError("PROTOCOL_ERROR", `the server answered version ${hello.wirecall} with serializer '${hello.serializer}'`));
    } else {
      this.#refsOn = hello.refs === 1 && !this.conn.requestReply;
      this.#headers = hello.meta === 1;
      this.#ready = true;
      this.onReady?.(this);
    }
  }

  /** Make the reference tables now if their module is loaded. */
  #makeRefs(): boolean {
    const make = REF_TABLES.m;
    if (make === undefined) return false;
    this.#refs ??= make(this, ACCESS);
    return true;
  }


  /**
   * Run `then` once the reference tables exist (at once when their module
   * is loaded), with the error when it cannot be loaded. Whatever waits
   * runs in the order it came.
   */
  #withRefs(then: (err?: Error) => void): void {
    if (this.#refsFailed) return then(this.#refsFailed);
    if (INBOUND.m !== undefined && this.#makeRefs()) return then();
    if (this.#refsWait !== undefined) {
      this.#refsWait.push(then);
      return;
    }
    this.#refsWait = [then];
    const done = (err?: Error): void => {
      const waiting = this.#refsWait ?? [];
      this.#refsWait = undefined;
      if (err === undefined) this.#makeRefs();
      else this.#refsFailed = err;
      for (const w of waiting) w(err);
    };
    REF_TABLES.run((err) => (err === undefined ? INBOUND.run(done) : done(err)));
  }

  /** Hold `frame` and those after it (reading paused) until what `wait` waits for exists, then replay them in order. */
  #hold(frame: Uint8Array, wait: (then: (err?: Error) => void) => void = (k) => this.#withRefs(k)): void {
    this.#held = [frame];
    this.#updateReading();
    wait((err) => {
      const held = this.#held ?? [];
      this.#held = undefined;
      if (err !== undefined) this.fail(err);
      else for (const f of held) this.frame(f);
      const later = this.#closeLater;
      this.#closeLater = undefined;
      if (later !== undefined && !this.#closed) this.#onClosed(later[0]);
      else this.#updateReading();
    });
  }

  /** Make the serving half now if its module is loaded. */
  #makeServing(): boolean {
    const ServingClass = SERVING.m;
    if (ServingClass === undefined) return false;
    if (this.#serving !== undefined) return true;
    this.#serving = new ServingClass(this, ACCESS, {
      opts: this.#opts,
      origin: ACCESS.origin(this, (PARTS.m as typeof Parts).Origin),
      metaLimits: this.#metaLimits,
      headers: this.#headers,
      refsOn: this.#refsOn,
      json: this.#json,
      shuttingDown: this.#shuttingDown,
    });
    return true;
  }

  /** Run `then` once the serving half exists (with the error when its module cannot be loaded). */
  #withServing(then: (err?: Error) => void): void {
    SERVING.run((err) => {
      if (err === undefined) this.#makeServing();
      then(err);
    });
  }


  /** Streams and references alive on this connection (undefined when the hello did not negotiate them). */
  get references(): { exports: number; imports: number; streams: number } | undefined {
    return this.#refs !== undefined ? this.#refs.size : this.#refsOn ? { exports: 0, imports: 0, streams: 0 } : undefined;
  }

  // ---- internals: frames -----------------------------------------------

  #errorReply(id: CallId | null, err: Error): void {
    if (id === null) {
      this.#peerSaid = err;
      this.#opts.onError?.(err);
      return;
    }
    const call = this.#pending?.get(id);
    if (!call) return;
    (this.#pending as Map<CallId, OutgoingCall>).delete(id);
    this.#refs?.endOutgoing(call);
    call.reject(err);
  }

  /** Append a call's header; a peer that did not negotiate headers cannot take metadata or keys. */
  #withHeader(env: unknown[], call: OutgoingCall): unknown[] {
    if (!this.#headers) {
      if (call.meta === undefined && call.key === undefined) return env; // the deadline still holds here
      throw new RpcError("INVALID_META", `cannot send '${call.name}' with ${call.meta !== undefined ? "metadata" : "an idempotency key"}: the peer did not negotiate call headers (it predates them)`);
    }
    const h: CallHeader = {};
    if (call.meta !== undefined) h.meta = call.meta;
    if (call.deadline !== undefined) h.timeout = Math.max(0, call.deadline - Date.now());
    if (call.key !== undefined) h.key = call.key;
    return putHeader(env, h);
  }

  #send(frame: OutFrame): boolean {
    const ok = sendFrame(this.conn, frame, this.#text);
    if (!ok && !this.#closed) {
      this.#writeBlocked = true;
      this.#updateReading();
    }
    return ok;
  }

  #updateReading(): void {
    if (this.#closed) return;
    const pause = this.#writeBlocked || this.#serving?.full === true || this.#held !== undefined;
    if (pause === this.#readPaused) return;
    this.#readPaused = pause;
    if (pause) this.conn.pause();
    else this.conn.resume();
  }

  #notReady(name: string, what = "call"): RpcError {
    if (this.#closed) {
      const cause = this.#closeError;
      return new RpcError("CONNECTION_CLOSED", `cannot send ${what} '${name}': the connection is closed`, cause ? { cause } : {});
    }
    return new RpcError("CONNECTION_CLOSED", `cannot send ${what} '${name}': the connection is not ready (hello not done)`);
  }

  #encodeError(name: string, err: unknown): RpcError {
    const s = this.#serializer as Serializer;
    if (isLimit(err)) return err;
    return new RpcError("SERIALIZE_ERROR", `cannot encode the arguments of '${name}' with ${s.name}: ${(err as Error)?.message ?? err}`, { cause: err });
  }
}

// Parts that load on first need (src/lazy.ts): the serving half when a side first serves, the
// encoding walk when a value needs it, the header reader when the first answer with a header arrives.
const PARTS = new Lazy("serving parts (src/serving-parts.js)", async () => {
  const m = await import("./serving-parts.js");
  m.install(ACCESS);
  return m;
});
const SERVING = new Lazy("serving half (src/serving.js)", async () => (await Promise.all([import("./serving.js"), PARTS.load()]))[0].Serving);
const FROM_WIRE = new Lazy("remote errors (src/errors-from-wire.js)", (): Promise<typeof FromWire> => import("./errors-from-wire.js"));
// Node has it at hand: load it at once there, so that no error answer waits for it.
if ((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node) FROM_WIRE.load().catch(() => {});
const INBOUND = new Lazy("incoming calls and references (src/session-inbound.js)", (): Promise<typeof Inbound> => import("./session-inbound.js"));

/** Thrown inside send(): the value needs src/session-inbound.ts (and the reference tables, when on), not loaded or made yet. */
const NEEDS_MODULE: unique symbol = Symbol("wirecall.needsModule");

/** The live-export limit is its own error, not an encoding failure. */
function isLimit(e: unknown): e is RpcError {
  return e instanceof RpcError && e.code === "REFERENCE_LIMIT";
}

