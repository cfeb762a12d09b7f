/**
 * Connection lifecycle hooks of a server: admit or refuse a connection when
 * its hello arrives, learn when it closes, and keep state per connection
 * (`ctx.session`) from the first to the last call.
 */
import { RpcError } from "./errors.js";

/** A connection, as the hooks see it. */
export interface ConnectionInfo {
  /** The transport's name ("tcp", "ws", "zmq", "mem", ...). */
  readonly transport: string;
  /** The peer's address as the transport reports it. */
  readonly remoteAddress: string | undefined;
  /** The serializer the peer asked for. */
  readonly serializer: string;
  /** The connection's state: the same object handlers read as `ctx.session`. */
  readonly session: Record<string, unknown>;
}

export interface LifecycleHooks {
  /**
   * Called when a connection's hello arrives, before any of its calls runs.
   * Throw (or reject) to refuse it: the client's `connect()` rejects with the
   * error's code (`CONNECTION_REFUSED` unless it is an `RpcError`) and its
   * message. Reading from the connection waits while a returned promise is pending.
   */
  onConnect?: (conn: ConnectionInfo) => void | Promise<void>;
  /** Called once when a connection that `onConnect` admitted closes; `err` says why (undefined for an orderly close). */
  onDisconnect?: (conn: ConnectionInfo, err: Error | undefined) => void;
}

/** Frames a peer may send while its admission is decided; a conforming client sends none. */
export const MAX_FRAMES_WHILE_ADMITTING = 64;

/** The error a refused client sees: the hook's own code when it threw an RpcError. */
export function refusal(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const message = err instanceof Error ? err.message : typeof err === "string" ? err : "refused by the server";
  return new RpcError("CONNECTION_REFUSED", message);
}
