/**
 * The types a call is described by, on both ends: the options of a call,
 * the context its handler sees, the client interface every caller
 * implements, and the typed facade. They refer to each other
 * (`ctx.peer` is a facade, `$with({ parent: ctx })` takes a context), so
 * they live together here, low in the layering: this file imports only
 * types, from files that import nothing above them.
 */
import type { Meta } from "./meta/meta.js";
import type { KwargsMarker } from "./params.js";

/** Options for a single call; they override the proxy's defaults. */
export interface CallOptions {
  /** Reject with `TIMEOUT` after this many ms and tell the server to cancel. No limit when unset or 0. */
  timeout?: number;
  /** Aborting rejects the call with `CANCELLED` at once and tells the server to cancel. */
  signal?: AbortSignal;
  /**
   * Metadata sent with the call: string values, read by the handler as
   * `ctx.meta`. Merged over the proxy's (`$with({ meta })`, `connect(url, { meta })`).
   * At most 64 entries and 8 KiB by default (`META_TOO_LARGE`); docs/production.md.
   */
  meta?: Meta;
  /** Called with the metadata the handler answered with (`ctx.setResponseMeta`), before the call settles, on success and on error. */
  onResponseMeta?: (meta: Meta) => void;
  /** A deadline in ms since the epoch (Date.now()); the earlier of it, `timeout` and the parent's deadline applies. */
  deadline?: number;
  /**
   * The call being served that this call is made for: this call inherits
   * what remains of its deadline and is cancelled with it. By default, on
   * Node, the call whose handler is running (AsyncLocalStorage); `null` for none.
   */
  parent?: CallContext | null;
  /**
   * The call may run more than once without harm as far as the caller is
   * concerned: it carries an idempotency key (a fresh random one for `true`,
   * or this string), and a server answers a repeat of the key with the first
   * outcome instead of running the handler again. With `retry`, the proxy
   * repeats it on connection loss with the same key.
   */
  idempotent?: boolean | string;
  /** Retry an idempotent call (only those) on connection loss: `true` for the defaults. docs/production.md, "Retries". */
  retry?: boolean | RetryPolicy;
}

/** When and how often an idempotent call is repeated. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 3). */
  attempts?: number;
  /** Delay before the first retry, ms (default 50); doubles each time, with jitter. */
  minDelay?: number;
  /** Largest delay, ms (default 2000). */
  maxDelay?: number;
  /** Error codes that are retried (default CONNECTION_CLOSED and SHUTTING_DOWN: the call may not have run, or ran and its answer was lost). */
  codes?: readonly string[];
}

/** What the facade needs from a client: every client (session, XML-RPC, Python recipe) implements it. */
export interface Caller {
  call(name: string, args: unknown[], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
  notify(name: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** What a handler (and middleware) can know about the call it is serving. */
export interface CallContext {
  /** The called name, e.g. "greeter.welcome". */
  readonly method: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>> | undefined;
  /** Fires when the caller cancels, times out, disconnects, or the server shuts down. */
  readonly signal: AbortSignal;
  /** The transport's name ("tcp", "ws", "mem", ...). */
  readonly transport: string;
  /** The peer's address as the transport reports it. */
  readonly remoteAddress: string | undefined;
  /** True for one-way calls: the result is discarded, errors go to `onError`. */
  readonly oneway: boolean;
  /**
   * The caller, as a proxy like the one `connect()` returns: call methods of
   * the handler it serves (`connect(url, { handler })`) over the same
   * connection, while the connection lives. Throws `PROTOCOL_ERROR` on
   * connections that cannot carry calls back (XML-RPC, the Python recipe).
   */
  readonly peer: AnyRemote;
  /** Free-form storage for middleware. */
  readonly state: Record<string, unknown>;
  /**
   * Metadata the caller sent with the call (`$with({ meta })`): string
   * values, a null-prototype object, empty when none came.
   */
  readonly meta: Readonly<Record<string, string>>;
  /**
   * When the caller stops waiting, in ms since the epoch (Date.now()), or
   * undefined when it set no timeout. `signal` fires when it passes, and
   * calls this handler makes inherit what remains of it.
   */
  readonly deadline: number | undefined;
  /** Metadata to send back with the answer, on success or error (merged over what was set before). */
  setResponseMeta(meta: Record<string, string>): void;
  /**
   * State of the connection the call came on: the same object for every
   * call of the connection (and for the server's `onConnect` hook), dropped when it closes.
   */
  readonly session: Record<string, unknown>;
}

/**
 * Every leading slice of a parameter list (`[]`, `[a]`, `[a, b]`, ...), so
 * that `kw()` may follow any number of positionals, like Python's
 * `describe(1, 2, z=3)` for `describe(a, b, z?)`. A rest parameter adds any
 * number of its elements.
 */
type ArgPrefixes<A extends readonly unknown[]> = A extends readonly []
  ? []
  : A extends readonly [infer H, ...infer Rest]
    ? [] | [H, ...ArgPrefixes<Rest>]
    : A;

/** What a remote method resolves to: a stream arrives as an AsyncIterable of its items. */
export type RemoteResult<R> = Awaited<R> extends AsyncIterable<infer X> ? AsyncIterable<X> : Awaited<R>;

/** The remote form of `T`: every method returns a Promise of its awaited result; objects become namespaces. */
export type Remote<T> = {
  readonly [K in keyof T as K extends `$${string}` ? never : K]: T[K] extends (...args: infer A) => infer R
    ? ((...args: A) => Promise<RemoteResult<R>>) & ((...args: [...ArgPrefixes<Required<A>>, KwargsMarker]) => Promise<RemoteResult<R>>)
    : T[K] extends object
      ? Remote<T[K]>
      : never;
} & ProxyControls<T>;

/** The proxy's own members. Their `$` prefix keeps them apart from remote names. */
export interface ProxyControls<T> {
  /** Call any name, with explicit arguments, keyword arguments and options. */
  $call<R = unknown>(name: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<R>;
  /** One-way call: no reply, no error back. */
  $notify(name: string, ...args: unknown[]): Promise<void>;
  /** A facade on the same connection whose calls use these options by default. */
  $with(options: CallOptions): unknown extends T ? AnyRemote : Remote<T>;
  /** Close the connection; pending calls reject with `CONNECTION_CLOSED`. */
  $close(): Promise<void>;
  /** The underlying client. */
  readonly $caller: Caller;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A loosely typed facade for when no interface is given. */
// `any` (not a nested type) so that noUncheckedIndexedAccess does not force `?.` on every call.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRemote = { readonly [name: string]: any } & ProxyControls<unknown>;
