/**
 * `serve` and `connect`: a URL picks the transport (src/transport-registry.ts);
 * framed transports get one {@link PeerSession} per connection end,
 * request/response front-ends serve and call their own way.
 */
import type { AnyRemote, Caller, Remote } from "./call-types.js";
import { callerProfile } from "./caller-profile.js";
import { createFacade } from "./facade.js";
import { frameProtocolsOf, type FrameProtocol } from "./frame-protocol.js";
import { FrameServer, withUrlOf } from "./serve-frames.js";
import { isFrontEnd } from "./front-end.js";
import type { RPCHandler } from "./handler.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { CONNECT_OPTIONS, SERVE_OPTIONS, clientQuery, resolveOptions } from "./options.js";
import type { MetaLimits } from "./meta/meta.js";
import type { LifecycleHooks } from "./lifecycle.js";
import { IdempotencyCache, type IdempotencyOptions } from "./meta/idempotency.js";
import { isTelemetry, loadTelemetry, type TelemetryOptions } from "./telemetry/telemetry.js";
import { RPCProxy, type ProxyOptions } from "./proxy.js";
import type { ObjectServer } from "./objects.js";
import { PeerSession, type SessionOptions } from "./session.js";
import { loadSerializers } from "./serializers/index.js";
import { lookupScheme, parseEndpoint, refuseCredentials } from "./transport-registry.js";
import type { ConnectOptionsByScheme, LooseOptions, SchemeOf, Server, ServeOptionsByScheme, TransportOptions } from "./transport.js";
import { loadPublisher, urlResolverFor, type Publisher } from "./url-resolvers.js";

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

/** What `connect(url, options)` takes for a URL of type `U`: exact for `"tcp://..."`, `"ws://..."` literals. */
export type ConnectOptions<U = string> = ProxyOptions & ByScheme<ConnectOptionsByScheme, U>;

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

/**
 * Connect to `url` and return the typed facade. Resolves once the connection
 * is authenticated and the serializer agreed; rejects with an `RpcError`
 * (`CONNECT_FAILED`, `AUTH_FAILED`, `INVALID_URL`, ...) otherwise.
 * With `handler`, the client serves it to the server on the same connection.
 */
export async function connect<T = never, U extends string | URL = string | URL>(
  url: U,
  options: ConnectOptions<U> = {} as ConnectOptions<U>,
): Promise<[T] extends [never] ? AnyRemote : Remote<T>> {
  type Facade = [T] extends [never] ? AnyRemote : Remote<T>;
  // PYRONAME:/PYROMETA: (src/url-resolvers.ts): look the URL up, then connect to it.
  const named = await urlResolverFor(url);
  if (named) return (await named.resolve(named.url, options as Record<string, unknown>, connect as (u: string, o: Record<string, unknown>) => Promise<unknown>)) as Facade;
  const ep = parseEndpoint(url);
  // `url#id` calls go to the object's methods (src/objects.ts, loaded only for such a URL).
  const objects = ep.url.hash !== "" || ep.url.href.endsWith("#") ? await import("./objects.js") : undefined;
  const object = objects?.splitObjectUrl(ep.url);
  if (object) ep.url = object.url;
  const forObject = (caller: Caller): Caller => (objects && object?.id !== undefined ? new objects.ObjectCaller(caller, object.id) : caller);
  const transport = await lookupScheme(ep.scheme);
  refuseCredentials(ep.url, transport);
  const given = options as { profile?: unknown };
  const profile = given.profile ?? ep.url.searchParams.get("profile") ?? undefined;
  const client = profile === undefined ? undefined : callerProfile(String(profile));
  const declared = transport.options?.connect;
  const core = isFrontEnd(transport) && declared ? undefined : CONNECT_OPTIONS;
  const specs = { ...core, ...declared, ...client?.options };
  const opts = resolveOptions(ep.url, options, specs, `connect("${ep.scheme}://...")`, declared !== undefined) as ProxyOptions & LooseOptions;
  if (isFrontEnd(transport)) {
    const caller: Caller = await transport.connect(ep.url, opts);
    return createFacade(forObject(caller), defaults(opts)) as Facade;
  }
  if (client) {
    // Another protocol's client (Python's recipe: docs/python.md), registered by its package.
    const caller = await client.open(() => transport.connect(ep.url, opts), opts as Record<string, unknown>);
    return createFacade(forObject(caller), defaults(opts)) as Facade;
  }
  if (opts.telemetry && !isTelemetry(opts.telemetry)) opts.telemetry = await loadTelemetry(opts.telemetry, targetOf(ep.url, transport.name));
  const proxy = await RPCProxy.open(() => transport.connect(ep.url, opts), opts);
  return createFacade(forObject(proxy)) as Facade;
}

function targetOf(url: URL, transport: string): { address: string | undefined; port: number | undefined; transport: string } {
  const port = url.port === "" ? undefined : Number(url.port);
  return { address: url.hostname || url.pathname || undefined, port, transport };
}

function defaults(opts: ProxyOptions): ProxyOptions | undefined {
  if (opts.timeout === undefined && opts.signal === undefined) return undefined;
  const d: ProxyOptions = {};
  if (opts.timeout !== undefined) d.timeout = opts.timeout;
  if (opts.signal !== undefined) d.signal = opts.signal;
  return d;
}
