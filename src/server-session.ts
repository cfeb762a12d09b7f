/**
 * The server side of one connection: hello negotiation, envelope dispatch,
 * the in-flight limit, cancellation and write backpressure.
 */
import { ServerCall, type PeerInfo } from "./call-context.js";
import { RpcError, toWireError, type WireError } from "./errors.js";
import type { RPCHandler } from "./handler.js";
import { Kind, PROTOCOL_VERSION, decodeHello, encodeHello, salvageId, validateEnvelope, type CallId, type Envelope } from "./protocol.js";
import { getSerializer, json, type Serializer } from "./serializers/index.js";
import type { Connection, ConnectionSink } from "./transport.js";

/**
 * Another protocol served on the same listener, recognised by the first
 * frame a peer sends (e.g. the Python RPCHandler recipe's pickled tuples).
 */
export interface FrameProtocol {
  readonly name: string;
  /** True when `first` (the peer's first frame) belongs to this protocol. Must not throw. */
  detect(first: Uint8Array): boolean;
  /** Take over the connection; the returned sink gets every frame, starting with `first`. */
  start(handler: RPCHandler, conn: Connection, peer: PeerInfo): ConnectionSink & SessionLike;
}

/** What `server.close()` needs from anything serving a connection. */
export interface SessionLike {
  /** Calls currently running. */
  readonly inFlight: number;
  /** Refuse new calls from now on; running calls continue. */
  beginShutdown(): void;
  /** Resolves when no call is running. */
  idle(): Promise<void>;
}

export interface SessionOptions {
  maxInFlight: number;
  protocols?: readonly FrameProtocol[];
  /**
   * Close a connection whose first frame (hello or call) has not arrived
   * within this many ms, so a silent peer cannot hold a slot (0: no limit).
   */
  firstFrameTimeout?: number;
}

export class ServerSession implements ConnectionSink, SessionLike {
  readonly #handler: RPCHandler;
  readonly #conn: Connection;
  readonly #opts: SessionOptions;
  readonly #peer: PeerInfo;
  readonly #calls = new Map<CallId, ServerCall>();
  #serializer: Serializer | undefined;
  #delegate: (ConnectionSink & SessionLike) | undefined;
  #readPaused = false;
  #writeBlocked = false;
  #shuttingDown = false;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  #firstFrameTimer: ReturnType<typeof setTimeout> | undefined;
  /** Called once when the connection is gone. */
  onClose: ((session: ServerSession) => void) | undefined;

  constructor(handler: RPCHandler, conn: Connection, opts: SessionOptions) {
    this.#handler = handler;
    this.#conn = conn;
    this.#opts = opts;
    this.#peer = { transport: conn.transport, remoteAddress: conn.remoteAddress };
  }

  get inFlight(): number {
    return this.#delegate ? this.#delegate.inFlight : this.#calls.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Start reading; the session now owns the connection. */
  start(): this {
    const limit = this.#opts.firstFrameTimeout;
    if (limit && limit > 0) {
      this.#firstFrameTimer = setTimeout(() => {
        this.#conn.close(new RpcError("PROTOCOL_ERROR", `no hello or call within ${limit} ms`));
      }, limit);
      (this.#firstFrameTimer as { unref?: () => void }).unref?.();
    }
    this.#conn.open(this);
    return this;
  }

  frame(frame: Uint8Array): void {
    if (this.#delegate) return this.#delegate.frame(frame);
    if (this.#serializer === undefined) {
      clearTimeout(this.#firstFrameTimer);
      if (this.#negotiate(frame)) return;
    }
    const serializer = this.#serializer as Serializer;
    let decoded: unknown;
    let msg: Envelope;
    try {
      decoded = serializer.decode(frame);
      msg = validateEnvelope(decoded);
    } catch (err) {
      const e = err instanceof RpcError ? err : new RpcError("PROTOCOL_ERROR", `undecodable frame: ${(err as Error)?.message ?? err}`);
      this.#sendError(salvageId(decoded), e);
      return;
    }
    switch (msg[0]) {
      case Kind.Call:
        return this.#call(msg[1], msg[2], msg[3], msg[4] ?? undefined);
      case Kind.Notify:
        return this.#notify(msg[1], msg[2], msg[3] ?? undefined);
      case Kind.Cancel:
        return this.#cancel(msg[1]);
      case Kind.Reply:
      case Kind.Error:
        this.#sendError(null, new RpcError("PROTOCOL_ERROR", "a server does not accept replies"));
        return;
    }
  }

  drain(): void {
    if (this.#delegate) return this.#delegate.drain();
    this.#writeBlocked = false;
    this.#updateReading();
  }

  close(err?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#firstFrameTimer);
    if (this.#delegate) this.#delegate.close(err);
    const reason = new RpcError("CONNECTION_CLOSED", "the caller disconnected", err ? { cause: err } : {});
    for (const call of this.#calls.values()) call.abort(reason);
    this.#calls.clear();
    this.#wakeIdle();
    this.onClose?.(this);
  }

  beginShutdown(): void {
    this.#shuttingDown = true;
    this.#delegate?.beginShutdown();
  }

  idle(): Promise<void> {
    if (this.#delegate) return this.#delegate.idle();
    if (this.#calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Abort every running call (server shutting down past its deadline) and close. */
  abortAll(reason: Error): void {
    for (const call of this.#calls.values()) call.abort(reason);
    this.#conn.close(reason);
  }

  /** Handle the first frame. Returns true when it was consumed (hello or another protocol). */
  #negotiate(frame: Uint8Array): boolean {
    const hello = decodeHello(frame);
    if (hello) {
      const name = hello.serializer ?? json.name;
      const s = getSerializer(name);
      if (hello.wirecall < 1 || !Number.isInteger(hello.wirecall)) {
        this.#reject(new RpcError("PROTOCOL_ERROR", `unsupported protocol version ${hello.wirecall}`));
      } else if (!s) {
        this.#reject(new RpcError("PROTOCOL_ERROR", `unknown serializer '${name}'`));
      } else {
        this.#serializer = s;
        this.#conn.send(encodeHello({ wirecall: PROTOCOL_VERSION, serializer: s.name }), true);
      }
      return true;
    }
    for (const p of this.#opts.protocols ?? []) {
      if (p.detect(frame)) {
        this.#delegate = p.start(this.#handler, this.#conn, this.#peer);
        this.#delegate.frame(frame);
        return true;
      }
    }
    // No hello: version 1 with JSON, so the simplest clients need no handshake.
    this.#serializer = json;
    return false;
  }

  #reject(err: RpcError): void {
    this.#conn.send(encodeHello({ wirecall: PROTOCOL_VERSION, error: toWireError(err) }), true);
    this.#conn.close(err);
  }

  #call(id: CallId, method: string, args: unknown[], kwargs: Record<string, unknown> | undefined): void {
    if (this.#calls.has(id)) {
      this.#sendError(id, new RpcError("PROTOCOL_ERROR", `call id ${id} is already in flight`));
      return;
    }
    if (this.#shuttingDown) {
      this.#sendError(id, new RpcError("SHUTTING_DOWN", "the server is shutting down"));
      return;
    }
    const call = new ServerCall(method, args, kwargs, this.#peer, false);
    this.#calls.set(id, call);
    if (this.#calls.size >= this.#opts.maxInFlight) this.#updateReading();
    this.#handler.dispatch(call).then(
      (result) => this.#finish(id, call, result, undefined),
      (err: unknown) => this.#finish(id, call, undefined, err ?? new Error(String(err))),
    );
  }

  #finish(id: CallId, call: ServerCall, result: unknown, err: unknown): void {
    if (this.#calls.get(id) !== call) return; // cancelled or connection gone: nobody waits
    this.#calls.delete(id);
    if (err === undefined) {
      let frame: Uint8Array | undefined;
      try {
        frame = (this.#serializer as Serializer).encode([Kind.Reply, id, result]);
      } catch (e) {
        err = new RpcError("SERIALIZE_ERROR", `cannot encode the result of '${call.method}': ${(e as Error)?.message ?? e}`);
      }
      if (frame) this.#send(frame);
    }
    if (err !== undefined) this.#sendError(id, err);
    if (this.#calls.size === 0) this.#wakeIdle();
    this.#updateReading();
  }

  #notify(method: string, args: unknown[], kwargs: Record<string, unknown> | undefined): void {
    if (this.#shuttingDown) return;
    const call = new ServerCall(method, args, kwargs, this.#peer, true);
    this.#handler.dispatch(call).catch((err: unknown) => this.#handler.options.onError?.(err, call));
  }

  #cancel(id: CallId): void {
    const call = this.#calls.get(id);
    if (!call) return; // already finished: the reply is on its way, the caller ignores it
    this.#calls.delete(id);
    call.abort(new RpcError("CANCELLED", "the caller cancelled the call"));
    if (this.#calls.size === 0) this.#wakeIdle();
    this.#updateReading();
  }

  #sendError(id: CallId | null, err: unknown): void {
    const s = this.#serializer ?? json;
    const wire = toWireError(err, this.#handler.options.exposeStack);
    let frame: Uint8Array;
    try {
      frame = s.encode([Kind.Error, id, wire]);
    } catch {
      // data/props the serializer cannot carry: keep what always encodes.
      const bare: WireError = { name: wire.name, message: wire.message, code: wire.code };
      frame = s.encode([Kind.Error, id, bare]);
    }
    this.#send(frame);
  }

  #send(frame: Uint8Array): void {
    if (!this.#conn.send(frame, (this.#serializer ?? json).binary === false) && !this.#closed) {
      this.#writeBlocked = true;
      this.#updateReading();
    }
  }

  #updateReading(): void {
    const shouldPause = this.#writeBlocked || this.#calls.size >= this.#opts.maxInFlight;
    if (shouldPause === this.#readPaused || this.#closed) return;
    this.#readPaused = shouldPause;
    if (shouldPause) this.#conn.pause();
    else this.#conn.resume();
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
