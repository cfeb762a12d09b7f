/**
 * `serve`: a URL picks the transport (src/transport-registry.ts); a framed
 * transport gets one {@link PeerSession} per accepted connection, opened by
 * the server's end (src/server-opening.ts, through {@link FrameServer}); a
 * request/response front-end serves its own way. Apart from `connect`
 * (./endpoint.ts), so that nothing a client runs reaches what a server needs.
 */
import type { RPCHandler } from "./handler.js";
import { frameProtocolsOf, type FrameProtocol } from "./frame-protocol.js";
import { isFrontEnd } from "./front-end.js";
import type { LifecycleHooks } from "./lifecycle.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { IdempotencyCache, type IdempotencyOptions } from "./meta/idempotency.js";
import type { MetaLimits } from "./meta/meta.js";
import type { ObjectServer } from "./objects.js";
import { resolveOptions } from "./option-errors.js";
import { CONNECT_OPTIONS } from "./options.js";
import { SERVE_OPTIONS, clientQuery } from "./serve-options.js";
import { FrameServer, withUrlOf } from "./serve-frames.js";
import { loadSerializers } from "./serializers/index.js";
import { PeerSession, type SessionOptions } from "./session.js";
import { loadTelemetry, targetOf, type TelemetryOptions } from "./telemetry/telemetry.js";
import { lookupScheme, parseEndpoint, refuseCredentials } from "./transport-registry.js";
import type { LooseOptions, SchemeOf, ServeOptionsByScheme, TransportOptions } from "./transport.js";
import { loadPublisher, type Publisher } from "./url-resolvers.js";

export interface ServeOptions extends TransportOptions, LifecycleHooks {
  /**
   * Handlers running at once per connection, calls and one-way calls alike
   * (default 256). A cancelled call counts until its handler settles. Past
   * it, calls read from the connection wait (at most 64, or 4 MiB of
   * frames; cancels are still read and honoured), then the connection stops
   * being read, so a flood queues in the peer's socket, not in our memory.
   */
  maxInFlight?: number;
  /** How long `close()` waits for in-flight calls, one-way calls included, ms (default 5000). */
  closeTimeout?: number;
  /**
   * Close a connection that sent no complete frame for this many ms while
   * nothing was in flight either way (default 600000, 10 minutes; 0: never).
   * The client sees `CONNECTION_CLOSED`; with `reconnect` it reconnects.
   */
  idleTimeout?: number;
  /** Other protocols recognised by a connection's first frame (e.g. the Python recipe). */
  protocols?: readonly FrameProtocol[];
  /** Bounds of call metadata accepted (default 64 entries, 8 KiB); past them a call is answered `META_TOO_LARGE`. */
  metaLimits?: Partial<MetaLimits>;
  /**
   * Trace and measure every call with OpenTelemetry (`@opentelemetry/api`,
   * an optional peer, loaded only then): `true` for the global providers.
   * docs/production.md, "Tracing and metrics".
   */
  telemetry?: boolean | TelemetryOptions;
  /**
   * Calls marked idempotent (their idempotency key) run once: a repeat of a
   * key within `window` ms (default 60000, at most `maxKeys` keys, default
   * 10000) gets the first call's outcome. `false` turns it off. docs/production.md, "Retries".
   */
  idempotency?: boolean | IdempotencyOptions;
}

/** The options of the scheme's transport when the compiler knows it (a literal URL), else any. */
// Unknown schemes: any name (checked at run time), and typed option objects without an index signature too.
type Loose = TransportOptions | LooseOptions;
type ByScheme<M, U> = [SchemeOf<U>] extends [never] ? Loose : SchemeOf<U> extends keyof M ? M[SchemeOf<U>] : Loose;

/** What `serve(handler, url, options)` takes for a URL of type `U`. */
export type ServeOptionsFor<U = string> = ServeOptions & ByScheme<ServeOptionsByScheme, U>;

/**
 * Serve `handler` at `url`. Port 0 picks a free port; `server.url` has the real one.
 * Options from the URL's query string apply unless given explicitly.
 */
export async function serve<U extends string | URL>(handler: RPCHandler, url: U, options: ServeOptionsFor<U> = {} as ServeOptionsFor<U>): Promise<ObjectServer & Publisher> {
  const ep = parseEndpoint(url);
  const transport = await lookupScheme(ep.scheme);
  refuseCredentials(ep.url, transport);
  // A front-end declares all its options; a framed transport adds its own to the core's.
  const front = isFrontEnd(transport);
  const declared = transport.options?.serve;
  const core = front && declared ? undefined : SERVE_OPTIONS;
  // The served query goes to clients in server.url: what a client takes there is checked as theirs.
  const forClients = declared ? { ...(front ? undefined : CONNECT_OPTIONS), ...transport.options?.connect } : undefined;
  // Undeclared (a third-party transport): the core's options are checked, other names pass as given.
  const opts = resolveOptions(ep.url, options, { ...core, ...declared }, `serve("${ep.scheme}://...")`, declared !== undefined, forClients) as ServeOptions & LooseOptions;
  // A server accepts every registered serializer: the built-ins load (once) before the first
  // hello (front-ends such as nats:// run sessions of their own).
  await loadSerializers();
  // Loaded before listening, so that a failure to load it leaves nothing listening.
  const withPublish = await loadPublisher();
  if (front) {
    const served = new URL(ep.url.href);
    served.search = clientQuery(ep.url, forClients);
    return withPublish(withUrlOf(await transport.serve(handler, served, opts)));
  }
  const protocols = [...(opts.protocols ?? []), ...frameProtocolsOf(transport.name)];
  const sessionOpts: SessionOptions = {
    role: "server",
    handler,
    maxInFlight: opts.maxInFlight ?? DEFAULT_LIMITS.maxInFlight,
    firstFrameTimeout: opts.handshakeTimeout ?? DEFAULT_LIMITS.handshakeTimeout,
  };
  if (protocols.length > 0) sessionOpts.protocols = protocols;
  if (opts.idleTimeout !== undefined) sessionOpts.idleTimeout = opts.idleTimeout;
  if (opts.metaLimits !== undefined) sessionOpts.metaLimits = opts.metaLimits;
  if (opts.idempotency !== false) sessionOpts.idempotency = new IdempotencyCache(typeof opts.idempotency === "object" ? opts.idempotency : {});
  if (opts.onConnect !== undefined) sessionOpts.onConnect = opts.onConnect;
  if (opts.onDisconnect !== undefined) sessionOpts.onDisconnect = opts.onDisconnect;
  if (opts.telemetry) sessionOpts.telemetry = await loadTelemetry(opts.telemetry, targetOf(ep.url, transport.name));
  let server: FrameServer | undefined;
  const early: PeerSession[] = [];
  const listener = await transport.listen(ep.url, opts, (conn) => {
    const session = new PeerSession(conn, sessionOpts);
    if (server) server.track(session);
    else early.push(session);
  });
  server = new FrameServer(listener, opts.closeTimeout ?? DEFAULT_LIMITS.closeTimeout, clientQuery(ep.url, forClients));
  for (const s of early) server.track(s);
  return withPublish(server);
}
