/**
 * The seam between the core and every framed transport adapter.
 *
 * A transport only moves opaque frames (one serialized envelope each) between
 * two peers, in order, with its own authentication and framing. It knows
 * nothing of envelopes, ids or serializers: that is the core's job (one
 * peer session per connection end, src/session.ts, on both sides).
 *
 * This file imports nothing: transports depend on it, never the reverse.
 * Request/response front-ends that are not frame streams (XML-RPC over
 * HTTP) plug in through src/front-end.ts instead.
 */

/** What a transport delivers into the core. Set once with {@link Connection.open}. */
export interface ConnectionSink {
  /**
   * One complete frame arrived. From here on the frame's memory belongs to
   * the core: a transport never reuses or overwrites it (it may be a view
   * into a larger chunk the transport read). Decoded values may keep views
   * into it (msgpack bin fields do, to avoid copying large payloads).
   * Called in order, never after {@link ConnectionSink.close}.
   */
  frame(frame: Uint8Array): void;
  /** The outgoing buffer fell below the high-water mark after `send` returned false. */
  drain(): void;
  /**
   * The connection is gone. Called exactly once, whoever closed it. `err` is
   * undefined for an orderly close, otherwise the reason (an `RpcError` with
   * code `CONNECTION_CLOSED`, `PAYLOAD_TOO_LARGE`, `PROTOCOL_ERROR`...).
   * After this, no other sink method is called.
   */
  close(err?: Error): void;
}

/**
 * One authenticated, framed, bidirectional connection.
 *
 * Lifecycle: the transport hands out a connection that has finished its
 * handshake but delivers nothing yet. The core calls `open(sink)` once;
 * frames that arrived before that are held (not dropped) and delivered right
 * after `open`. Reading is paused/resumed by the core for backpressure.
 */
export interface Connection {
  /** Transport name as in the URL scheme family: "mem", "tcp", "tls", "ws", "zmq". */
  readonly transport: string;
  /** The peer's address in the transport's own notation (e.g. "127.0.0.1:53122"), if known. */
  readonly remoteAddress: string | undefined;
  /**
   * True on lock-step connections (a ZeroMQ REQ socket) where every frame
   * sent must be answered by exactly one frame: the core then sends no
   * cancel and refuses one-way calls, which would get no answer.
   */
  readonly requestReply?: boolean;
  /** Start delivering frames to `sink`. Must be called exactly once. */
  open(sink: ConnectionSink): void;
  /**
   * Queue one frame for sending. The transport takes ownership of `frame`
   * (the caller must not modify it afterwards). `text` hints that the frame is
   * UTF-8 text (WebSocket sends a text message); other transports ignore it.
   *
   * Returns false when the transport's outgoing buffer is above its
   * high-water mark: the frame is still queued, but the caller should stop
   * producing until `sink.drain()`. Sending on a closed connection is a
   * silent no-op returning false; the sink's `close` already said why.
   */
  send(frame: Uint8Array, text?: boolean): boolean;
  /** Stop reading from the peer (the transport stops pulling from the socket). Idempotent. */
  pause(): void;
  /** Resume reading after {@link Connection.pause}. Idempotent. */
  resume(): void;
  /**
   * Close the connection. Idempotent: the first call wins, later calls do
   * nothing. Frames already queued by `send` are flushed when the transport
   * can do so without waiting on the peer; `sink.close(err)` follows. Pending
   * calls are not the transport's concern: the core rejects them when the
   * sink is closed.
   */
  close(err?: Error): void;
}

/** A bound server endpoint producing connections. */
export interface Listener {
  /** The connectable URL with the real port filled in (port 0 resolved). */
  readonly url: string;
  /**
   * Stop accepting new connections. Existing connections stay open: the core
   * drains and closes them. Idempotent; resolves once no new connection can arrive.
   */
  close(): Promise<void>;
}

/** Options every transport receives; each transport documents its own extras. */
export interface TransportOptions {
  /**
   * Shared secret for the mutual HMAC challenge. Never logged. Without it,
   * WIRECALL_AUTHKEY from the environment is used; `false`: no authkey on
   * purpose, the variable ignored (mem:// refuses the variable otherwise).
   */
  authkey?: string | Uint8Array | false;
  /** Largest frame accepted, in bytes. */
  maxFrameSize?: number;
  /** Time limit for connect + handshake, ms. */
  handshakeTimeout?: number;
  /** Any other transport-specific option (cert, key, allowedOrigins ...). */
  [key: string]: unknown;
}

/** A running server, as returned by `serve()`. */
export interface Server {
  /** The connectable URL, real port filled in. */
  readonly url: string;
  /** The URL of the object registered as `id` (`serve()` adds it; see src/objects.ts). */
  urlOf?(id: string): string;
  /** Stop accepting, let in-flight calls finish (up to `closeTimeout`), then close every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * A framed transport adapter, found by URL scheme. `connect` resolves once
 * the connection is authenticated and ready to carry frames; it rejects with
 * an `RpcError` (`CONNECT_FAILED`, `AUTH_FAILED`, ...). `listen` calls
 * `accept` for every authenticated connection. Both ends of a connection get
 * the same session: either side may call the other once the hello is done.
 */
export interface Transport {
  /** Short name ("tcp", "ws", ...). */
  readonly name: string;
  /** URL schemes without the colon ("tcp", "tls"). */
  readonly schemes: readonly string[];
  /**
   * True when the transport uses a URL's `user:password@` (HTTP Basic auth
   * for XML-RPC, as Python's ServerProxy does). Elsewhere a password in a
   * URL is refused with `INVALID_URL` rather than silently ignored.
   */
  readonly urlCredentials?: boolean;
  connect(url: URL, options: TransportOptions): Promise<Connection>;
  listen(url: URL, options: TransportOptions, accept: (conn: Connection) => void): Promise<Listener>;
}
