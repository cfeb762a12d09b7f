/** What a peer session (src/session.ts) is made with, apart from it so that its lazily loaded halves can name it. */
import type { CallerDefaults } from "./caller.js";
import type { FrameProtocol } from "./frame-protocol.js";
import type { RPCHandler } from "./handler.js";
import type { LifecycleHooks } from "./lifecycle.js";
import type { IdempotencyCache } from "./meta/idempotency.js";
import type { Serializer } from "./serializers/index.js";
import type { Telemetry } from "./telemetry/telemetry.js";

/** Close a server connection that sent no complete frame for this long with nothing in flight (10 minutes, like zmq's `peerIdleTimeout`). */
export const DEFAULT_IDLE_TIMEOUT = 600_000;
/** Calls read ahead of the in-flight limit, waiting for a slot, before a connection stops being read. */
export const DEFAULT_MAX_QUEUED = 64;
/** Bytes of frames read ahead of the in-flight limit before a connection stops being read. */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export interface SessionOptions extends CallerDefaults, LifecycleHooks {
  /** "client" sends the hello and waits for the answer; "server" waits for the peer's first frame. */
  role: "client" | "server";
  /** The serializer a client asks for in its hello (default json). A server takes the one the hello names. */
  serializer?: Serializer;
  /** Serves the peer's calls. Without one, calls from the peer get `METHOD_NOT_FOUND`. */
  handler?: RPCHandler | undefined;
  /**
   * Handlers (calls and one-way calls) running at once for this connection
   * (default 256). A cancelled call counts until its handler settles. Past
   * it, calls wait (up to `maxQueued`), then the connection stops being read.
   */
  maxInFlight?: number;
  /** Calls waiting for a slot before the connection stops being read (default 64). */
  maxQueued?: number;
  /** Bytes of waiting calls' frames before the connection stops being read (default 4 MiB). */
  maxQueuedBytes?: number;
  /** Server: other protocols recognised by the connection's first frame. */
  protocols?: readonly FrameProtocol[];
  /** Server: close the connection when its first frame has not arrived within this many ms (0: no limit). */
  firstFrameTimeout?: number;
  /**
   * Server: close the connection when, after the hello, it sent no complete
   * frame for this many ms while nothing was in flight either way (0: never;
   * default 600000). It is closed between one and two such periods after its
   * last frame.
   */
  idleTimeout?: number;
  /** Errors with no call to reject: connection-level errors from the peer. */
  onError?: ((err: unknown) => void) | undefined;
  /** Items of a stream this side reads that the producer may run ahead (default 64). */
  streamWindow?: number;
  /** Tracing and metrics (src/telemetry/), loaded by serve/connect when asked for. */
  telemetry?: Telemetry | undefined;
  /** Answers repeated idempotency keys from their first outcome (one per server, shared by its connections). */
  idempotency?: IdempotencyCache | undefined;
}
