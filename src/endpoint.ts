/**
 * URLs pick the transport: scheme -> transport registry, query-string
 * options, and the `serve` / `connect` entry points.
 */
import { RpcError } from "./errors.js";
import { createFacade, type AnyRemote, type Remote } from "./facade.js";
import type { RPCHandler } from "./handler.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { RPCProxy, type ProxyOptions } from "./proxy.js";
import { ServerSession, type FrameProtocol } from "./server-session.js";
import type { Listener, Server, Transport, TransportOptions } from "./transport.js";
import type { RecipeCallerOptions } from "./python/recipe-caller.js";

const transports = new Map<string, Transport>();

// Built-in transports load on first use through the package's own subpath
// exports, so a browser bundle or an install without zeromq never loads what
// it does not use. The specifier is computed to keep bundlers from inlining it.
const BUILTIN: Record<string, string> = {
  mem: "memory",
  tcp: "tcp",
  tls: "tcp",
  ws: "ws",
  wss: "ws",
  "zmq+tcp": "zmq",
  "zmq+ipc": "zmq",
  "xmlrpc+http": "xmlrpc",
  "xmlrpc+https": "xmlrpc",
};

function refuseCredentials(url: URL, transport: Transport): void {
  if ((url.password || url.username) && !transport.urlCredentials) {
    throw new RpcError("INVALID_URL", `${transport.name} URLs take no user or password (URLs get logged); pass secrets as options or environment variables`);
  }
}

/** Make a transport reachable by its URL schemes (replacing any earlier one). */
export function registerTransport(t: Transport): void {
  for (const s of t.schemes) transports.set(s, t);
}

/** The transport for a URL scheme (without the colon), loading a built-in one if needed. */
export async function getTransport(scheme: string): Promise<Transport> {
  const known = transports.get(scheme);
  if (known) return known;
  const sub = Object.prototype.hasOwnProperty.call(BUILTIN, scheme) ? BUILTIN[scheme] : undefined;
  if (!sub) throw new RpcError("INVALID_URL", `no transport for scheme '${scheme}:' (known: ${[...new Set([...Object.keys(BUILTIN), ...transports.keys()])].join(", ")})`);
  const specifier = `wirecall/${sub}`;
  let mod: { transport?: Transport };
  try {
    mod = (await import(specifier)) as { transport?: Transport };
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw new RpcError("INVALID_URL", `cannot load the transport for '${scheme}:' from ${specifier}`, { cause: err });
  }
  if (!mod.transport) throw new RpcError("INTERNAL_ERROR", `${specifier} exports no transport`);
  registerTransport(mod.transport);
  return transports.get(scheme) ?? mod.transport;
}

const NUMERIC = new Set(["timeout", "maxFrameSize", "handshakeTimeout", "maxInFlight", "closeTimeout", "maxPayload", "keepAlive"]);
const BOOLEAN = new Set(["reconnect", "introspection", "allowRemote", "refuseLegacyMd5"]);
const SECRET = new Set(["authkey", "password", "key", "passphrase"]);

/** Parse a URL and its query-string options (explicit options win over the query). */
export function parseEndpoint(url: string | URL): { url: URL; scheme: string; query: Record<string, unknown> } {
  let u: URL;
  try {
    u = typeof url === "string" ? new URL(url) : url;
  } catch (err) {
    throw new RpcError("INVALID_URL", `not a URL: ${JSON.stringify(String(url))}`, { cause: err });
  }
  const scheme = u.protocol.replace(/:$/, "");
  const query: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of u.searchParams) {
    if (SECRET.has(k)) throw new RpcError("INVALID_URL", `'${k}' must not be in a URL (URLs get logged); pass it as an option or environment variable`);
    if (NUMERIC.has(k)) {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new RpcError("INVALID_URL", `query option '${k}' must be a non-negative number, got '${v}'`);
      query[k] = n;
    } else if (BOOLEAN.has(k)) {
      query[k] = v === "" || v === "1" || v === "true" || v === "yes";
    } else {
      query[k] = v;
    }
  }
  return { url: u, scheme, query };
}

export interface ServeOptions extends TransportOptions {
  /** Calls running at once per connection before it stops being read (default 256). */
  maxInFlight?: number;
  /** How long `close()` waits for in-flight calls, ms (default 5000). */
  closeTimeout?: number;
  /** Other protocols recognised by a connection's first frame (e.g. the Python recipe). */
  protocols?: readonly FrameProtocol[];
}

class FrameServer implements Server {
  readonly #listener: Listener;
  readonly #sessions = new Set<ServerSession>();
  readonly #closeTimeout: number;
  #closing: Promise<void> | undefined;

  constructor(listener: Listener, closeTimeout: number) {
    this.#listener = listener;
    this.#closeTimeout = closeTimeout;
  }

  get url(): string {
    return this.#listener.url;
  }

  /** Connections currently open. */
  get connections(): number {
    return this.#sessions.size;
  }

  track(session: ServerSession): void {
    if (this.#closing) {
      session.start();
      session.abortAll(new RpcError("SHUTTING_DOWN", "the server is shutting down"));
      return;
    }
    this.#sessions.add(session);
    session.onClose = (s) => this.#sessions.delete(s);
    session.start();
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    await this.#listener.close();
    const sessions = [...this.#sessions];
    for (const s of sessions) s.beginShutdown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#closeTimeout);
    });
    await Promise.race([Promise.all(sessions.map((s) => s.idle())), deadline]);
    clearTimeout(timer);
    const reason = new RpcError("SHUTTING_DOWN", "the server closed");
    for (const s of sessions) s.abortAll(reason);
  }
}

/**
 * Serve `handler` at `url`. Port 0 picks a free port; `server.url` has the real one.
 * Options from the URL's query string apply unless given explicitly.
 */
export async function serve(handler: RPCHandler, url: string | URL, options: ServeOptions = {}): Promise<Server> {
  const ep = parseEndpoint(url);
  const opts = { ...ep.query, ...options } as ServeOptions;
  const transport = await getTransport(ep.scheme);
  refuseCredentials(ep.url, transport);
  if (transport.serve) return transport.serve(handler, ep.url, opts);
  const maxInFlight = opts.maxInFlight ?? DEFAULT_LIMITS.maxInFlight;
  const protocols = [...(opts.protocols ?? []), ...(transport.protocols ?? [])];
  const firstFrameTimeout = opts.handshakeTimeout ?? DEFAULT_LIMITS.handshakeTimeout;
  const sessionOpts = protocols.length > 0 ? { maxInFlight, protocols, firstFrameTimeout } : { maxInFlight, firstFrameTimeout };
  let server: FrameServer | undefined;
  const early: ServerSession[] = [];
  const listener = await transport.listen(ep.url, opts, (conn) => {
    const session = new ServerSession(handler, conn, sessionOpts);
    if (server) server.track(session);
    else early.push(session);
  });
  server = new FrameServer(listener, opts.closeTimeout ?? DEFAULT_LIMITS.closeTimeout);
  for (const s of early) server.track(s);
  return server;
}

/**
 * Connect to `url` and return the typed facade. Resolves once the connection
 * is authenticated and the serializer agreed; rejects with an `RpcError`
 * (`CONNECT_FAILED`, `AUTH_FAILED`, `INVALID_URL`, ...) otherwise.
 */
export async function connect<T = never>(
  url: string | URL,
  options: ProxyOptions & TransportOptions = {},
): Promise<[T] extends [never] ? AnyRemote : Remote<T>> {
  const ep = parseEndpoint(url);
  const opts = { ...ep.query, ...options } as ProxyOptions & TransportOptions;
  const transport = await getTransport(ep.scheme);
  refuseCredentials(ep.url, transport);
  if (opts.profile === "python") {
    // Python's RPCHandler recipe server (docs/python.md); loaded only when asked for.
    const { RecipeCaller } = await import("./python/recipe-caller.js");
    const caller = await RecipeCaller.open(() => transport.connect(ep.url, opts), opts as RecipeCallerOptions);
    return createFacade(caller, defaults(opts)) as [T] extends [never] ? AnyRemote : Remote<T>;
  }
  if (transport.connectCaller) {
    const caller = await transport.connectCaller(ep.url, opts);
    return createFacade(caller, defaults(opts)) as [T] extends [never] ? AnyRemote : Remote<T>;
  }
  const proxy = await RPCProxy.open(() => transport.connect(ep.url, opts), opts);
  return createFacade(proxy) as [T] extends [never] ? AnyRemote : Remote<T>;
}

function defaults(opts: ProxyOptions): ProxyOptions | undefined {
  if (opts.timeout === undefined && opts.signal === undefined) return undefined;
  const d: ProxyOptions = {};
  if (opts.timeout !== undefined) d.timeout = opts.timeout;
  if (opts.signal !== undefined) d.signal = opts.signal;
  return d;
}
