/**
 * `serve` and `connect`: a URL picks the transport (src/transport-registry.ts);
 * framed transports get one {@link PeerSession} per connection end,
 * request/response front-ends serve and call their own way.
 */
import type { Caller } from "./caller.js";
import { callerProfile } from "./caller-profile.js";
import { createFacade, type AnyRemote, type Remote } from "./facade.js";
import { frameProtocolsOf, type FrameProtocol } from "./frame-protocol.js";
import { FrameServer } from "./serve-frames.js";
import { isFrontEnd } from "./front-end.js";
import type { RPCHandler } from "./handler.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { RPCProxy, type ProxyOptions } from "./proxy.js";
import { ObjectCaller, splitObjectUrl, withUrlOf, type ObjectServer } from "./objects.js";
import { PeerSession, type SessionOptions } from "./session.js";
import { lookupScheme, parseEndpoint, refuseCredentials } from "./transport-registry.js";
import type { Server, TransportOptions } from "./transport.js";

export interface ServeOptions extends TransportOptions {
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
}

/**
 * Serve `handler` at `url`. Port 0 picks a free port; `server.url` has the real one.
 * Options from the URL's query string apply unless given explicitly.
 */
export async function serve(handler: RPCHandler, url: string | URL, options: ServeOptions = {}): Promise<ObjectServer> {
  const ep = parseEndpoint(url);
  const opts = { ...ep.query, ...options } as ServeOptions;
  const transport = await lookupScheme(ep.scheme);
  refuseCredentials(ep.url, transport);
  if (isFrontEnd(transport)) return withUrlOf(await transport.serve(handler, ep.url, opts));
  const protocols = [...(opts.protocols ?? []), ...frameProtocolsOf(transport.name)];
  const sessionOpts: SessionOptions = {
    role: "server",
    handler,
    maxInFlight: opts.maxInFlight ?? DEFAULT_LIMITS.maxInFlight,
    firstFrameTimeout: opts.handshakeTimeout ?? DEFAULT_LIMITS.handshakeTimeout,
  };
  if (protocols.length > 0) sessionOpts.protocols = protocols;
  if (opts.idleTimeout !== undefined) sessionOpts.idleTimeout = opts.idleTimeout;
  let server: FrameServer | undefined;
  const early: PeerSession[] = [];
  const listener = await transport.listen(ep.url, opts, (conn) => {
    const session = new PeerSession(conn, sessionOpts);
    if (server) server.track(session);
    else early.push(session);
  });
  server = new FrameServer(listener, opts.closeTimeout ?? DEFAULT_LIMITS.closeTimeout, ep.url.search);
  for (const s of early) server.track(s);
  return server;
}

/**
 * Connect to `url` and return the typed facade. Resolves once the connection
 * is authenticated and the serializer agreed; rejects with an `RpcError`
 * (`CONNECT_FAILED`, `AUTH_FAILED`, `INVALID_URL`, ...) otherwise.
 * With `handler`, the client serves it to the server on the same connection.
 */
export async function connect<T = never>(
  url: string | URL,
  options: ProxyOptions & TransportOptions = {},
): Promise<[T] extends [never] ? AnyRemote : Remote<T>> {
  type Facade = [T] extends [never] ? AnyRemote : Remote<T>;
  const ep = parseEndpoint(url);
  const object = splitObjectUrl(ep.url);
  ep.url = object.url;
  const opts = { ...ep.query, ...options } as ProxyOptions & TransportOptions;
  const transport = await lookupScheme(ep.scheme);
  refuseCredentials(ep.url, transport);
  if (isFrontEnd(transport)) {
    const caller: Caller = await transport.connect(ep.url, opts);
    return createFacade(forObject(caller, object.id), defaults(opts)) as Facade;
  }
  const profile = (opts as { profile?: unknown }).profile;
  if (profile !== undefined) {
    // Another protocol's client (Python's recipe: docs/python.md), registered by its package.
    const caller = await callerProfile(String(profile))(() => transport.connect(ep.url, opts), opts as Record<string, unknown>);
    return createFacade(forObject(caller, object.id), defaults(opts)) as Facade;
  }
  const proxy = await RPCProxy.open(() => transport.connect(ep.url, opts), opts);
  return createFacade(forObject(proxy, object.id)) as Facade;
}

/** `url#id` calls go to the object's methods (src/objects.ts). */
function forObject(caller: Caller, id: string | undefined): Caller {
  return id === undefined ? caller : new ObjectCaller(caller, id);
}

function defaults(opts: ProxyOptions): ProxyOptions | undefined {
  if (opts.timeout === undefined && opts.signal === undefined) return undefined;
  const d: ProxyOptions = {};
  if (opts.timeout !== undefined) d.timeout = opts.timeout;
  if (opts.signal !== undefined) d.signal = opts.signal;
  return d;
}
