/**
 * `serve(handler, "pyro://host:port")`: a Pyro4 daemon that Python's Pyro4
 * clients call as `PYRO:<object id>@host:port`. See docs/pyro.md.
 */
import net from "node:net";
import { DEFAULT_LIMITS, RpcError, resolveAuthkey, type RPCHandler, type Server } from "../../src/transport-sdk.js";
import { isLoopback } from "../../transports/net-address.js";
import { DaemonConnection, type DaemonSettings } from "./daemon-connection.js";
import { DEFAULT_FUNCTIONS_ID, ObjectView } from "./daemon-objects.js";
import { pyro4Limits, type Pyro4Limits } from "./limits.js";
import { pyroSerializer, type SerpentBytes } from "./serializer-choice.js";
import type { Pyro4Serializer } from "./serializers.js";
import { hostPortOf, pyroUriText } from "./url.js";
import { startBroadcastResponder, type BroadcastOptions, type BroadcastResponder } from "./broadcast.js";
import { NAMESERVER_ID } from "./daemon-objects.js";

/** Options of `serve(handler, "pyro://host:port", options)`. */
export interface Pyro4ServeOptions {
  /** The HMAC key Pyro4 clients set as `_pyroHmacKey` (else WIRECALL_AUTHKEY; none: no HMAC). A message with a wrong or missing HMAC is refused. */
  authkey?: string | Uint8Array | false;
  /** Without an authkey only loopback clients are served, unless this is true. */
  allowRemote?: boolean;
  /** Serializers accepted (Pyro4's SERIALIZERS_ACCEPTED). Default all three: serpent, json, marshal. */
  serializers?: readonly ("serpent" | "json" | "marshal")[];
  /** How serpent answers carry bytes: "literal" (default, `b'...'`: bytes on the Python side) or "dict" (Pyro4's own base64 dict; `serpent.tobytes()` reads either). */
  serpentBytes?: SerpentBytes;
  /**
   * Handler names whose Pyro4 metadata says one-way (`@Pyro4.oneway` on the
   * Python side): a Pyro4 proxy then sends them without waiting. E.g.
   * `["greeter.note"]`, or `["note"]` for a plain function.
   */
  oneway?: readonly string[];
  /** The Pyro object id plain functions (names without a dot) are served under; default "functions"; false: not served. */
  functionsId?: string | false;
  /** One-way calls running at once per connection (default 256); past it the connection is not read. */
  maxInFlight?: number;
  /** Item streams (generator results) open at once per connection (default 64). */
  maxStreams?: number;
  /** The CONNECT handshake must arrive within this many ms (default 10000). */
  handshakeTimeout?: number;
  /** Close a connection idle this long, ms (default 600000; 0: never). */
  idleTimeout?: number;
  /** `close()` waits this long (ms) for running calls (default 5000). */
  closeTimeout?: number;
  /** Compress answers of 200 bytes or more with zlib, as Pyro4's COMPRESSION does (default false). */
  compression?: boolean;
  /** Codec limits; `maxMessageSize` defaults to 16 MiB here (wirecall's maxFrameSize). */
  limits?: Partial<Pyro4Limits>;
  /** Errors with no caller to go to: one-way calls, refused connections. */
  onError?: (err: unknown) => void;
  /** Clients refused before their handshake completed (wrong HMAC key, not Pyro4, remote without a key). */
  onHandshakeError?: (err: Error, remoteAddress: string | undefined) => void;
  /**
   * When the handler serves the name server (`Pyro.NameServer`, as
   * `startNameServer("pyro://...")` does): answer Pyro4's broadcast
   * discovery, so `Pyro4.locateNS()` without an address finds it. `true`:
   * port 9091 on the daemon's host; or `{ port, host }`.
   */
  broadcast?: boolean | BroadcastOptions;
}


/** A running Pyro4 daemon. */
export class Pyro4Daemon implements Server {
  readonly #server: net.Server;
  readonly #conns = new Set<DaemonConnection>();
  readonly #closeTimeout: number;
  readonly #host: string;
  readonly #port: number;
  #closing: Promise<void> | undefined;
  #broadcast: BroadcastResponder | undefined;

  private constructor(server: net.Server, host: string, port: number, closeTimeout: number) {
    this.#server = server;
    this.#host = host;
    this.#port = port;
    this.#closeTimeout = closeTimeout;
  }

  /** Start a daemon serving `handler` on `url` (`pyro://host:port`; port 0 picks one). */
  static async start(handler: RPCHandler, url: URL, options: Pyro4ServeOptions = {}): Promise<Pyro4Daemon> {
    const { host, port } = hostPortOf(url);
    const key = resolveAuthkey(options.authkey);
    const serializers = new Map<number, Pyro4Serializer>();
    for (const name of options.serializers ?? ["serpent", "json", "marshal"]) {
      const s = pyroSerializer(name, options.serpentBytes);
      serializers.set(s.id, s);
    }
    const functionsId = options.functionsId === false ? undefined : (options.functionsId ?? DEFAULT_FUNCTIONS_ID);
    const settings: DaemonSettings = {
      view: new ObjectView(handler, functionsId, new Set(options.oneway ?? [])),
      hmacKey: key,
      limits: pyro4Limits({ maxMessageSize: DEFAULT_LIMITS.maxFrameSize, ...options.limits }),
      serializers,
      maxInFlight: options.maxInFlight ?? DEFAULT_LIMITS.maxInFlight,
      maxStreams: options.maxStreams ?? 64,
      handshakeTimeout: options.handshakeTimeout ?? DEFAULT_LIMITS.handshakeTimeout,
      idleTimeout: options.idleTimeout ?? 600_000,
      compression: options.compression === true,
      exposeStack: handler.options.exposeStack === true,
      onError: options.onError,
      onHandshakeError: options.onHandshakeError,
    };
    const open = key !== undefined || options.allowRemote === true;
    let daemon: Pyro4Daemon | undefined;
    const server = net.createServer((socket) => {
      if (!daemon || daemon.#closing) return void socket.destroy();
      if (!open && !isLoopback(socket.remoteAddress)) {
        socket.destroy();
        const err = new RpcError("AUTH_FAILED", "refused a remote Pyro4 client: without an authkey only loopback clients are served (allowRemote: true to change that)");
        options.onError?.(err);
        options.onHandshakeError?.(err, socket.remoteAddress);
        return;
      }
      const conns = daemon.#conns;
      const conn = new DaemonConnection(socket, settings);
      conns.add(conn);
      conn.onClose = (c) => conns.delete(c);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new RpcError("CONNECT_FAILED", `cannot listen on ${url.href}: ${err.message}`, { cause: err }));
      server.once("error", onError);
      server.listen({ host, port }, () => {
        server.off("error", onError);
        resolve();
      });
    });
    server.on("error", () => {});
    daemon = new Pyro4Daemon(server, host, (server.address() as net.AddressInfo).port, options.closeTimeout ?? DEFAULT_LIMITS.closeTimeout);
    if (options.broadcast) {
      if (!settings.view.handler.has(`${NAMESERVER_ID}.lookup`)) {
        await daemon.close();
        throw new RpcError("INVALID_OPTION", `broadcast: this handler serves no name server ('${NAMESERVER_ID}'); use startNameServer("pyro://...", { broadcast: true })`);
      }
      try {
        daemon.#broadcast = await startBroadcastResponder(daemon.urlOf(NAMESERVER_ID), host, options.broadcast === true ? {} : options.broadcast);
      } catch (err) {
        await daemon.close();
        throw err;
      }
    }
    return daemon;
  }

  /** `pyro://host:port`: what `serve()` was given, with the real port. */
  get url(): string {
    return `pyro://${this.#host.includes(":") ? `[${this.#host}]` : this.#host}:${this.#port}`;
  }

  /** The Pyro4 URI of the object registered as `id`: `PYRO:id@host:port`, for Python's `Pyro4.Proxy` and for `connect()`. */
  urlOf(id: string): string {
    return pyroUriText(id, this.#host, this.#port);
  }

  /** Connections open now. */
  get connections(): number {
    return this.#conns.size;
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  /** The UDP port answering Pyro4's name server discovery, when `broadcast` is on. */
  get broadcastPort(): number | undefined {
    return this.#broadcast?.port;
  }

  async #close(): Promise<void> {
    await this.#broadcast?.close();
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const conns = [...this.#conns];
    for (const c of conns) c.beginShutdown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#closeTimeout)));
    await Promise.race([Promise.all(conns.map((c) => c.idle())), deadline]);
    clearTimeout(timer);
    const reason = new RpcError("SHUTTING_DOWN", "the Pyro4 daemon closed");
    for (const c of [...this.#conns]) c.destroy(reason);
    await stopped;
  }
}
