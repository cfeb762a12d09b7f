/**
 * RPCProxy: a client for one endpoint. It dials, runs one {@link PeerSession}
 * per connection, and (optionally) reconnects: calls made while no
 * connection is ready wait for the next one. Timeouts, signals and caller
 * stacks are src/caller.ts's, the pending-call table is the session's.
 */
import { START, beginCall, unref, waitsForStart, type CallerDefaults, type OutgoingCall } from "./caller.js";
import type { Caller, CallOptions } from "./call-types.js";
import { retrying } from "./retry.js";
import { RpcError } from "./errors.js";
import type { RPCHandler } from "./handler.js";
import { Lazy } from "./lazy.js";
import { DEFAULT_LIMITS } from "./limits.js";
import type { ReconnectOptions, Reconnector } from "./reconnect.js";
import { json, loadSerializer, type Serializer } from "./serializers/index.js";
import { PeerSession, type SessionOptions } from "./session.js";
import type { Telemetry, TelemetryOptions } from "./telemetry/telemetry.js";
import type { Connection } from "./transport.js";

export type { ReconnectOptions } from "./reconnect.js";

// Loaded at connect time when `reconnect` is set.
const RECONNECT = new Lazy("reconnection (src/reconnect.js)", async () => (await import("./reconnect.js")).Reconnector);

export interface ProxyOptions extends CallerDefaults {
  /** Serializer name (json, superjson, msgpack, or one you registered) or object. Default json. */
  serializer?: string | Serializer;
  /** Reconnect with backoff when the connection is lost. Calls in flight then fail with `CONNECTION_CLOSED`; later calls wait. */
  reconnect?: boolean | ReconnectOptions;
  /** Time limit for connecting, authenticating and the hello, ms (default 10000). */
  handshakeTimeout?: number;
  /** Errors with no call to reject (a connection-level error from the server, a failed reconnect). */
  onError?: (err: unknown) => void;
  /**
   * Serve this handler to the server over the same connection: a server
   * handler registered with `{ context: true }` calls it through `ctx.peer`.
   * Without one, calls from the server are answered `METHOD_NOT_FOUND`.
   */
  handler?: RPCHandler;
  /** Calls from the server running at once on this client (default 256); see `ServeOptions.maxInFlight`. */
  maxInFlight?: number;
  /** Items of a stream from the server that may be in flight or buffered before its producer waits (default 64). */
  streamWindow?: number;
  /** Speak another protocol's client instead of wirecall's, registered by its package (`"python"`: `import "wirecall/python"`). */
  profile?: string;
  /**
   * Trace and measure every call with OpenTelemetry (`@opentelemetry/api`,
   * an optional peer, loaded only then): `true` for the global providers.
   */
  telemetry?: boolean | TelemetryOptions | Telemetry;
}

/** The proxy's options its sessions take as they are. */
const SESSION_KEYS = ["maxInFlight", "streamWindow", "timeout", "signal", "captureStack", "metaLimits"] as const;

/** Opens one ready transport connection; called again on every reconnect. */
export type Dialer = () => Promise<Connection>;

type Timer = ReturnType<typeof setTimeout>;

async function resolveSerializer(s: string | Serializer | undefined): Promise<Serializer> {
  if (s === undefined) return json;
  if (typeof s !== "string") return s;
  const found = await loadSerializer(s);
  if (!found) throw new RpcError("SERIALIZE_ERROR", `unknown serializer '${s}'`);
  return found;
}

/** A client for one endpoint. Most code uses the typed facade from `connect()` instead. */
export class RPCProxy implements Caller {
  readonly #dial: Dialer;
  readonly #options: ProxyOptions;
  readonly #serializer: Serializer;
  /** Calls waiting for a ready connection, in call order. */
  #queue: OutgoingCall[] = [];
  #session: PeerSession | undefined;
  #closed = false;
  #closeReason: Error | undefined;
  /** Calls wait for the full call start to load (src/caller.ts, START). */
  #startWait = false;
  /** Set when the proxy reconnects (the `reconnect` option). */
  #reconnect: Reconnector | undefined;
  #firstReady: { resolve: () => void; reject: (e: unknown) => void } | undefined;

  private constructor(dial: Dialer, options: ProxyOptions, serializer: Serializer) {
    this.#dial = dial;
    this.#options = options;
    this.#serializer = serializer;
  }

  /** Dial, authenticate and agree on the serializer; resolves when calls can flow. */
  static async open(dial: Dialer, options: ProxyOptions = {}): Promise<RPCProxy> {
    const proxy = new RPCProxy(dial, options, await resolveSerializer(options.serializer));
    if (options.reconnect) {
      const Reconnector = RECONNECT.m ?? (await RECONNECT.load());
      proxy.#reconnect = new Reconnector(
        {
          dial,
          attach: (conn) => proxy.#attach(conn),
          get closed() {
            return proxy.#closed;
          },
          get waiting() {
            return proxy.#queue.length > 0;
          },
          giveUp: (reason) => proxy.#shut(reason),
          onError: options.onError,
        },
        options.reconnect,
      );
    }
    await proxy.#connectOnce();
    return proxy;
  }

  get serializer(): Serializer {
    return this.#serializer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The session of the current connection, if one is open. */
  get session(): PeerSession | undefined {
    return this.#session;
  }

  /** Call `name` remotely; resolves with its result or rejects with its error. */
  call(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    const retry = options?.retry ?? this.#options.retry;
    if (retry && (options?.idempotent ?? this.#options.idempotent)) return retrying(this, name, args, kwargs, options, this.#options, retry === true ? {} : retry);
    return this.callOnce(name, args, kwargs, options);
  }

  /** One attempt of a call (retries call it again with the same idempotency key). */
  callOnce(name: string, args: unknown[], kwargs: Record<string, unknown> | undefined, options: CallOptions | undefined): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closedError());
    // The first call with metadata, a deadline or a key waits for src/call-start.ts, and the calls made meanwhile after it, in order.
    if (this.#startWait || waitsForStart(options, this.#options)) {
      if (START.m === undefined) {
        this.#startWait = true;
        return START.load().then(() => this.callOnce(name, args, kwargs, options));
      }
      this.#startWait = false;
    }
    const { promise, call } = beginCall(name, args, kwargs, options, this.#options);
    if (!call) return promise;
    const session = this.#session;
    if (session?.ready) session.send(call);
    else {
      call.onAbandon = this.#dropQueued;
      this.#queue.push(call);
      this.#reconnect?.ref();
    }
    return promise;
  }

  /**
   * One-way call: sent, never answered. Resolves once handed to the transport;
   * remote errors go to the server's `onError`.
   */
  async notify(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>): Promise<void> {
    if (this.#closed) throw this.#closedError();
    const session = this.#session;
    if (!session?.ready) throw new RpcError("CONNECTION_CLOSED", `cannot send one-way call '${name}': not connected`);
    return session.notify(name, args, kwargs);
  }

  /** Close the connection; every pending call rejects with `CONNECTION_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      const reason = new RpcError("CONNECTION_CLOSED", "the proxy was closed");
      this.#reconnect?.stop();
      this.#shut(reason);
      await this.#session?.end(reason);
      return;
    }
    await this.#session?.whenClosed();
  }

  readonly #dropQueued = (call: OutgoingCall): void => {
    const i = this.#queue.indexOf(call);
    if (i >= 0) this.#queue.splice(i, 1);
  };

  // ---- session events --------------------------------------------------

  #ready(session: PeerSession): void {
    if (session !== this.#session) return;
    this.#reconnect?.ready();
    const queue = this.#queue;
    this.#queue = [];
    for (const call of queue) session.send(call);
    this.#firstReady?.resolve();
    this.#firstReady = undefined;
  }

  #lost(session: PeerSession, err: Error | undefined): void {
    if (session !== this.#session) return;
    this.#session = undefined;
    const reason = new RpcError("CONNECTION_CLOSED", err ? `connection lost: ${err.message}` : "the server closed the connection", err ? { cause: err } : {});
    if (this.#firstReady) {
      // The very first connection failed during the hello: connect() rejects.
      const first = this.#firstReady;
      this.#firstReady = undefined;
      this.#shut(reason);
      first.reject(err ?? reason);
      return;
    }
    if (!this.#closed && this.#reconnect) {
      this.#reconnect.lost();
    } else if (!this.#closed) {
      this.#shut(reason);
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
      this.#shut(new RpcError("CONNECTION_CLOSED", "connect failed", { cause: err }));
      this.#session?.fail(err as Error);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #attach(conn: Connection): void {
    const o = this.#options;
    const opts: SessionOptions = { role: "client", serializer: this.#serializer, handler: o.handler, onError: o.onError, idleTimeout: 0 };
    // Only these: the session's defaults apply to calls on references and from ctx.peer, not the proxy's metadata or retries.
    for (const k of SESSION_KEYS) if (o[k] !== undefined) (opts as unknown as Record<string, unknown>)[k] = o[k];
    // A loaded Telemetry (connect loads it): its brand, read here without importing the telemetry seam.
    if ((o.telemetry as Telemetry | undefined)?.brand === "wirecall.telemetry") opts.telemetry = o.telemetry as Telemetry;
    const session = new PeerSession(conn, opts);
    session.onReady = (s) => this.#ready(s);
    session.onClose = (s, err) => this.#lost(s, err);
    this.#session = session;
    session.start();
  }

  /** Closed for good: `reason` is what later calls and the queued ones reject with. */
  #shut(reason: Error): void {
    this.#closed = true;
    this.#closeReason = reason;
    const queue = this.#queue;
    this.#queue = [];
    for (const call of queue) call.reject(reason);
  }

  #closedError(): Error {
    return this.#closeReason ?? new RpcError("CONNECTION_CLOSED", "the proxy is closed");
  }
}
