/**
 * The shape of a call as its handler sees it, apart from the handler so
 * that helpers of the handler (instance modes) can name it without an import loop.
 */
import type { AnyRemote } from "./facade.js";

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
