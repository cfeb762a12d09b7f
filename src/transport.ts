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
  /**
   * Optional: queue one frame given as parts, in order (scatter/gather, from
   * `Serializer.encodeParts`); the frame is their concatenation, exactly as
   * if it had been passed to `send`. A transport that can write the parts as
   * they are (tcp: one length prefix, then the parts in one writev) avoids
   * copying large binary values; the others join them. Same ownership,
   * return value and backpressure as `send`.
   */
  sendParts?(parts: readonly Uint8Array[], text?: boolean): boolean;
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
}

/**
 * Exact option types per URL scheme, for `connect`/`serve` called with a
 * literal URL: a transport's module adds its schemes by declaration merging
 * (`declare module ".../src/transport.js" { interface ConnectOptionsByScheme
 * { tcp: TcpOptions } }`), so `connect("tcp://...", { timout: 500 })` does
 * not compile. A URL whose scheme is not known to the compiler takes
 * {@link LooseOptions}.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface ConnectOptionsByScheme {}
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface ServeOptionsByScheme {}

/** Options of a transport the compiler does not know: any name, checked at run time. */
export type LooseOptions = TransportOptions & { [key: string]: unknown };

/** The scheme of a literal URL type ("tcp" for `tcp://${string}`), never for `string`. */
export type SchemeOf<U> = U extends `${infer S}://${string}` ? (string extends S ? never : S) : never;

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
  /**
   * The options this transport takes beyond the core's (src/options.ts).
   * When declared, `serve`/`connect` refuse any other name with
   * `INVALID_OPTION` and check every value's type, query string included.
   */
  readonly options?: { readonly connect?: OptionSpecs; readonly serve?: OptionSpecs };
  connect(url: URL, options: LooseOptions): Promise<Connection>;
  listen(url: URL, options: LooseOptions, accept: (conn: Connection) => void): Promise<Listener>;
}

/** The type of an option's value; an array accepts any of them. */
/** `"false"` is the value `false` alone (`authkey: false`: no authkey, on purpose). */
export type OptionType = "number" | "boolean" | "string" | "function" | "object" | "bytes" | "false" | "any";

/** One option a transport declares (checked by src/options.ts). */
export interface OptionSpec {
  /** Accepted value type(s). Numbers must be finite and non-negative. */
  readonly type: OptionType | readonly OptionType[];
  /** May come from the URL's query string (numbers, flags, names; never secrets). */
  readonly query?: boolean;
  /** The only string values accepted, when it is a name (`coalesce: "gather" | "cork" | "none"`). */
  readonly values?: readonly string[];
}

/** Options by name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;
