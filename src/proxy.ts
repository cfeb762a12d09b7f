/**
 * RPCProxy: the caller's side. Pending calls matched by id, timeouts,
 * cancellation, and (optionally) reconnection across links.
 */
import { ClientLink, type LinkOwner } from "./client-link.js";
import { RpcError, fromWireError, type WireError } from "./errors.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { Kind, type CallId } from "./protocol.js";
import { getSerializer, json, type Serializer } from "./serializers/index.js";
import type { Connection } from "./transport.js";

/** Options for a single call; they override the proxy's defaults. */
export interface CallOptions {
  /** Reject with `TIMEOUT` after this many ms and tell the server to cancel. No limit when unset or 0. */
  timeout?: number;
  /** Aborting rejects the call with `CANCELLED` at once and tells the server to cancel. */
  signal?: AbortSignal;
}

export interface ReconnectOptions {
  /** Attempts after a loss before giving up (default Infinity). */
  retries?: number;
  /** First delay, ms (default 100); doubles each attempt, with jitter. */
  minDelay?: number;
  /** Largest delay, ms (default 5000). */
  maxDelay?: number;
}

export interface ProxyOptions extends CallOptions {
  /** Serializer name (json, superjson, msgpack, or one you registered) or object. Default json. */
  serializer?: string | Serializer;
  /** Reconnect with backoff when the connection is lost. Calls in flight then fail with `CONNECTION_CLOSED`; later calls wait. */
  reconnect?: boolean | ReconnectOptions;
  /** Time limit for connecting, authenticating and the hello, ms (default 10000). */
  handshakeTimeout?: number;
  /**
   * Append the calling line's stack to errors a call rejects with (default
   * true). Built from V8's async stack trace when the rejection reaches the
   * caller, so it costs nothing on calls that succeed.
   */
  captureStack?: boolean;
  /** Errors with no call to reject (a connection-level error from the server, a failed reconnect). */
  onError?: (err: unknown) => void;
}

/** Opens one ready transport connection; called again on every reconnect. */
export type Dialer = () => Promise<Connection>;

type Timer = ReturnType<typeof setTimeout>;

function unref(t: Timer): Timer {
  (t as { unref?: () => void }).unref?.();
  return t;
}

class Pending {
  timer: Timer | undefined;
  onAbort: (() => void) | undefined;
  link: ClientLink | undefined;
  constructor(
    readonly id: CallId,
    readonly name: string,
    readonly args: unknown[],
    readonly kwargs: Record<string, unknown> | undefined,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}
}

const captureStackTrace = (Error as { captureStackTrace?: (o: object, fn?: Function) => void }).captureStackTrace;

/**
 * Await a call and, if it fails, append the caller's frames to the error.
 * Capturing a stack on every call (as grpc-js does) cost about a quarter of
 * the client's CPU per call in the benchmarks; capturing it here, after the
 * rejection resumed this async function, gets V8's async frames
 * ("at async yourFunction (file:line)") for the failing calls only.
 */
async function withCallerStack(call: Promise<unknown>): Promise<unknown> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof Error && captureStackTrace) {
      const here: { stack?: string } = {};
      captureStackTrace(here, withCallerStack);
      const frames = (here.stack ?? "").split("\n").slice(1).join("\n");
      if (frames) Object.defineProperty(err, "stack", { value: `${err.stack ?? String(err)}\n${frames}`, writable: true, configurable: true });
    }
    throw err;
  }
}

function resolveSerializer(s: string | Serializer | undefined): Serializer {
  if (s === undefined) return json;
  if (typeof s !== "string") return s;
  const found = getSerializer(s);
  if (!found) throw new RpcError("SERIALIZE_ERROR", `unknown serializer '${s}'`);
  return found;
}

/** A client for one endpoint. Most code uses the typed facade from `connect()` instead. */
export class RPCProxy implements LinkOwner {
  readonly #dial: Dialer;
  readonly #options: ProxyOptions;
  readonly #serializer: Serializer;
  readonly #pending = new Map<CallId, Pending>();
  /** Calls waiting for a ready link, in call order. */
  #queue: Pending[] = [];
  #link: ClientLink | undefined;
  #nextId = 1;
  #closed = false;
  #closeReason: Error | undefined;
  #reconnectTimer: Timer | undefined;
  #attempt = 0;
  #firstReady: { resolve: () => void; reject: (e: unknown) => void } | undefined;

  private constructor(dial: Dialer, options: ProxyOptions) {
    this.#dial = dial;
    this.#options = options;
    this.#serializer = resolveSerializer(options.serializer);
  }

  /** Dial, authenticate and agree on the serializer; resolves when calls can flow. */
  static async open(dial: Dialer, options: ProxyOptions = {}): Promise<RPCProxy> {
    const proxy = new RPCProxy(dial, options);
    await proxy.#connectOnce();
    return proxy;
  }

  get serializer(): Serializer {
    return this.#serializer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Call `name` remotely; resolves with its result or rejects with its error. */
  call(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    const call = this.#call(name, args, kwargs, options);
    return this.#options.captureStack === false ? call : withCallerStack(call);
  }

  #call(name: string, args: unknown[], kwargs: Record<string, unknown> | undefined, options: CallOptions | undefined): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const signal = options?.signal ?? this.#options.signal;
    if (signal?.aborted) return Promise.reject(new RpcError("CANCELLED", `call to '${name}' aborted before it was sent`, { cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const p = new Pending(id, name, args, kwargs, resolve, reject, signal);
      this.#pending.set(id, p);
      const timeout = options?.timeout ?? this.#options.timeout;
      if (timeout && timeout > 0) {
        p.timer = unref(setTimeout(() => this.#abandon(p, new RpcError("TIMEOUT", `call to '${name}' timed out after ${timeout} ms`)), timeout));
      }
      if (signal) {
        p.onAbort = () => this.#abandon(p, new RpcError("CANCELLED", `call to '${name}' was aborted`, { cause: signal.reason }));
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      const link = this.#link;
      if (link?.ready) this.#sendCall(link, p);
      else {
        this.#queue.push(p);
        (this.#reconnectTimer as { ref?: () => void } | undefined)?.ref?.();
      }
    });
  }

  /**
   * One-way call: sent, never answered. Resolves once handed to the transport
   * (or queued while reconnecting); remote errors go to the server's `onError`.
   */
  async notify(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>): Promise<void> {
    if (this.#closed) throw this.#closedError();
    const frame = this.#encode(kwargs === undefined ? [Kind.Notify, name, args] : [Kind.Notify, name, args, kwargs], name) as Uint8Array;
    const link = this.#link;
    if (link?.ready) {
      if (link.conn.requestReply) throw new RpcError("PROTOCOL_ERROR", `cannot send one-way call '${name}': this connection is lock-step request/reply (ZeroMQ REQ)`);
      link.send(frame);
      return;
    }
    throw new RpcError("CONNECTION_CLOSED", `cannot send one-way call '${name}': not connected`);
  }

  /** Close the connection; every pending call rejects with `CONNECTION_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#closeReason = new RpcError("CONNECTION_CLOSED", "the proxy was closed");
      if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
      this.#failAll(this.#closeReason, true);
      this.#link?.conn.close();
    }
    await this.#link?.whenClosed();
  }

  // ---- LinkOwner -------------------------------------------------------

  linkReady(link: ClientLink): void {
    if (link !== this.#link) return;
    this.#attempt = 0;
    const queue = this.#queue;
    this.#queue = [];
    for (const p of queue) if (this.#pending.get(p.id) === p) this.#sendCall(link, p);
    this.#firstReady?.resolve();
    this.#firstReady = undefined;
  }

  linkReply(id: CallId, result: unknown): void {
    const p = this.#pending.get(id);
    if (!p) return; // timed out or cancelled: the late reply is dropped
    this.#settle(p);
    p.resolve(result);
  }

  linkError(id: CallId | null, err: WireError): void {
    if (id === null) {
      this.#options.onError?.(fromWireError(err));
      return;
    }
    const p = this.#pending.get(id);
    if (!p) return;
    this.#settle(p);
    p.reject(fromWireError(err));
  }

  linkClosed(link: ClientLink, err: Error | undefined): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    const reason = new RpcError("CONNECTION_CLOSED", err ? `connection lost: ${err.message}` : "the server closed the connection", err ? { cause: err } : {});
    if (this.#firstReady) {
      // The very first connection failed during the hello: connect() rejects.
      const first = this.#firstReady;
      this.#firstReady = undefined;
      this.#closed = true;
      this.#closeReason = reason;
      this.#failAll(reason, true);
      first.reject(err ?? reason);
      return;
    }
    const retry = !this.#closed && !!this.#options.reconnect;
    this.#failAll(reason, !retry);
    if (retry) this.#scheduleReconnect();
    else if (!this.#closed) {
      this.#closed = true;
      this.#closeReason = reason;
    }
  }

  // ---- internals -------------------------------------------------------

  async #connectOnce(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => (this.#firstReady = { resolve, reject }));
    const limit = this.#options.handshakeTimeout ?? DEFAULT_LIMITS.handshakeTimeout;
    let timer: Timer | undefined;
    try {
      // Transports bound their own dial and authentication by handshakeTimeout
      // (and report AUTH_FAILED / CONNECT_FAILED precisely); this limit covers the hello after it.
      const conn = await this.#dial();
      const timeout = new Promise<never>((_, reject) => {
        timer = unref(setTimeout(() => reject(new RpcError("CONNECT_FAILED", `no hello from the server within ${limit} ms`)), limit));
      });
      this.#attach(conn);
      await Promise.race([ready, timeout]);
    } catch (err) {
      this.#firstReady = undefined;
      this.#closed = true;
      this.#closeReason = new RpcError("CONNECTION_CLOSED", "connect failed", { cause: err });
      this.#link?.conn.close(err as Error);
      this.#failAll(this.#closeReason, true);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #attach(conn: Connection): void {
    const link = new ClientLink(conn, this.#serializer, this);
    this.#link = link;
    link.start();
  }

  #scheduleReconnect(): void {
    const opts = typeof this.#options.reconnect === "object" ? this.#options.reconnect : {};
    const retries = opts.retries ?? Infinity;
    if (this.#attempt >= retries) {
      this.#closed = true;
      this.#closeReason = new RpcError("CONNECTION_CLOSED", `gave up reconnecting after ${retries} attempts`);
      this.#failAll(this.#closeReason, true);
      return;
    }
    const min = opts.minDelay ?? 100;
    const max = opts.maxDelay ?? 5000;
    const delay = Math.min(max, min * 2 ** this.#attempt) * (0.5 + Math.random() / 2);
    this.#attempt++;
    const t = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closed) return;
      this.#dial().then(
        (conn) => {
          if (this.#closed) conn.close();
          else this.#attach(conn);
        },
        (err: unknown) => {
          this.#options.onError?.(err);
          if (!this.#closed) this.#scheduleReconnect();
        },
      );
    }, delay);
    // Keep the process alive only while calls are waiting for the connection.
    this.#reconnectTimer = this.#queue.length > 0 ? t : unref(t);
  }

  #sendCall(link: ClientLink, p: Pending): void {
    const frame = this.#encode(
      p.kwargs === undefined ? [Kind.Call, p.id, p.name, p.args] : [Kind.Call, p.id, p.name, p.args, p.kwargs],
      p.name,
      p,
    );
    if (!frame) return;
    p.link = link;
    link.send(frame);
  }

  #encode(envelope: unknown[], name: string, p?: Pending): Uint8Array | undefined {
    try {
      return this.#serializer.encode(envelope);
    } catch (err) {
      const e = new RpcError("SERIALIZE_ERROR", `cannot encode the arguments of '${name}' with ${this.#serializer.name}: ${(err as Error)?.message ?? err}`, {
        cause: err,
      });
      if (!p) throw e;
      this.#settle(p);
      p.reject(e);
      return undefined;
    }
  }

  /** Timeout or abort: reject now, tell the server if the call was sent. */
  #abandon(p: Pending, err: RpcError): void {
    if (this.#pending.get(p.id) !== p) return;
    this.#settle(p);
    const link = p.link;
    // A lock-step connection cannot carry a cancel: it would wait for an answer that never comes.
    if (link?.ready && !link.conn.requestReply) {
      try {
        link.send(this.#serializer.encode([Kind.Cancel, p.id]));
      } catch {
        // a cancel that cannot be sent only costs the server some work
      }
    }
    p.reject(err);
  }

  #settle(p: Pending): void {
    this.#pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
  }

  /** Reject sent calls (and queued ones too when `includeQueued`). */
  #failAll(reason: Error, includeQueued: boolean): void {
    for (const p of [...this.#pending.values()]) {
      if (p.link === undefined && !includeQueued) continue;
      this.#settle(p);
      p.reject(reason);
    }
    if (includeQueued) this.#queue = [];
  }

  #closedError(): Error {
    return this.#closeReason ?? new RpcError("CONNECTION_CLOSED", "the proxy is closed");
  }
}
