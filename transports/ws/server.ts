/**
 * The Node server side: a standalone HTTP(S) server per `serve("ws://...")`,
 * or a path on an existing one. Path and Origin are checked on the upgrade
 * request (404 / 403 before any WebSocket exists), and so, without an
 * authkey, is the peer's address: only loopback unless `allowRemote`, as on
 * TCP. The HMAC challenge, when an authkey is set, runs before the core sees
 * the connection; a message it reads that is longer than the challenge's
 * is refused at its header. Unfinished messages draw on the server's
 * {@link ReadBudget} (memory across connections, time per message).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { Server as TlsServer } from "node:tls";
import { WebSocketServer, type WebSocket } from "ws";
import { MAX_HANDSHAKE_MESSAGE, RpcError, resolveAuthkey, type Connection, type Listener } from "../../src/transport-sdk.js";
import { isLoopback } from "../net-address.js";
import { nodeHmac } from "../node-hmac.js";
import { ReadBudget } from "../read-budget.js";
import { authenticate } from "./auth.js";
import { MessageMeter } from "./message-meter.js";
import { DEFAULT_KEEPALIVE, handshakeTimeoutOf, maxPayloadOf, numberOption, type WsServerOptions } from "./options.js";
import { readLimitsOf } from "./server-options.js";
import { NodeWsSocket } from "./node-socket.js";
import { refuseUpgrade, routerFor } from "./upgrade-router.js";
import { WsConnection } from "./ws-connection.js";

/** Messages the server's side of the challenge reads: the answer to its challenge, the client's challenge, the client's verdict. */
const SERVER_HANDSHAKE_MESSAGES = 3;

/** Start serving WebSocket connections for `url`; `accept` gets each authenticated one. */
export async function listenWs(url: URL, options: WsServerOptions, accept: (conn: Connection) => void): Promise<Listener> {
  const given = options.httpServer as HttpServer | undefined;
  if (given !== undefined && (typeof given !== "object" || typeof (given as { on?: unknown }).on !== "function")) {
    throw new RpcError("INVALID_URL", "httpServer must be a node:http or node:https Server");
  }
  const secure = given ? given instanceof TlsServer : url.protocol === "wss:";
  const path = normalizePath(options.path ?? url.pathname);
  const server = given ?? (await startServer(url, secure, options));
  const endpoint = new Endpoint(server, !given, secure, path, url, options, accept);
  try {
    routerFor(server, !given).add(path, endpoint.onUpgrade);
  } catch (err) {
    if (!given) server.close();
    throw new RpcError("INVALID_URL", (err as Error).message);
  }
  return endpoint;
}

class Endpoint implements Listener {
  readonly #server: HttpServer;
  readonly #owned: boolean;
  readonly #secure: boolean;
  readonly #path: string;
  readonly #url: URL;
  readonly #accept: (conn: Connection) => void;
  readonly #wss: WebSocketServer;
  readonly #authkey: Uint8Array | undefined;
  /** Without an authkey and without `allowRemote`, only loopback peers may upgrade. */
  readonly #loopbackOnly: boolean;
  readonly #handshakeTimeout: number;
  readonly #keepAlive: number;
  readonly #highWaterMark: number | undefined;
  readonly #allowedOrigins: readonly string[] | "*" | undefined;
  readonly #onHandshakeError: ((err: Error, remoteAddress: string | undefined) => void) | undefined;
  /** Connections still in the HMAC challenge: closed with the listener. */
  readonly #authenticating = new Set<WsConnection>();
  /** What unfinished messages may cost, across this endpoint's connections. */
  readonly #budget: ReadBudget;
  #closed = false;

  constructor(
    server: HttpServer,
    owned: boolean,
    secure: boolean,
    path: string,
    url: URL,
    options: WsServerOptions,
    accept: (conn: Connection) => void,
  ) {
    this.#server = server;
    this.#owned = owned;
    this.#secure = secure;
    this.#path = path;
    this.#url = url;
    this.#accept = accept;
    this.#authkey = resolveAuthkey(options.authkey);
    this.#loopbackOnly = this.#authkey === undefined && options.allowRemote !== true;
    this.#handshakeTimeout = handshakeTimeoutOf(options);
    this.#keepAlive = numberOption(options.keepAlive, DEFAULT_KEEPALIVE);
    this.#highWaterMark = options.highWaterMark === undefined ? undefined : numberOption(options.highWaterMark, 0) || undefined;
    this.#allowedOrigins = options.allowedOrigins;
    this.#onHandshakeError = typeof options.onHandshakeError === "function" ? options.onHandshakeError : undefined;
    this.#budget = new ReadBudget(readLimitsOf(options));
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: maxPayloadOf(options),
      perMessageDeflate: false,
      // ws >= 8.18 takes this (not yet in @types/ws): how long a close waits for the peer's close frame.
    ...{ closeTimeout: 5_000 },
    });
    // Read by the Node client (client-node.ts, AUTH_HEADER), so an authkey mismatch fails at once.
    const auth = `X-Wirecall-Auth: ${this.#authkey ? "hmac" : "none"}`;
    this.#wss.on("headers", (headers: string[]) => headers.push(auth));
  }

  get url(): string {
    const addr = this.#server.address() as AddressInfo | string | null;
    let host = this.#url.host;
    if (addr && typeof addr === "object") {
      const ip = addr.address === "0.0.0.0" ? "127.0.0.1" : addr.address === "::" ? "::1" : addr.address;
      host = `${ip.includes(":") ? `[${ip}]` : ip}:${addr.port}`;
    }
    return `${this.#secure ? "wss" : "ws"}://${host}${this.#path}`;
  }

  readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.#closed) return refuseUpgrade(socket, 503, "Service Unavailable");
    if (this.#loopbackOnly && !isLoopback(req.socket.remoteAddress)) {
      this.#onHandshakeError?.(
        new RpcError("AUTH_FAILED", "refused a remote peer: without an authkey only loopback peers are accepted (allowRemote: true to change that)"),
        addressOf(req),
      );
      return refuseUpgrade(socket, 403, "Forbidden");
    }
    if (!originAllowed(req.headers.origin, req.headers.host, this.#allowedOrigins)) {
      this.#onHandshakeError?.(new RpcError("CONNECT_FAILED", `refused Origin ${JSON.stringify(req.headers.origin)} (not in allowedOrigins)`), addressOf(req));
      return refuseUpgrade(socket, 403, "Forbidden");
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#opened(ws, req, socket));
  };

  #opened(ws: WebSocket, req: IncomingMessage, socket: Duplex): void {
    const remoteAddress = addressOf(req);
    const info = { transport: this.#secure ? "wss" : "ws", remoteAddress };
    const conn = new WsConnection(
      new NodeWsSocket(ws, this.#keepAlive, false),
      this.#highWaterMark === undefined ? info : { ...info, highWaterMark: this.#highWaterMark },
    );
    const authkey = this.#authkey;
    const meter = this.#meter(socket, conn, authkey ? SERVER_HANDSHAKE_MESSAGES : 0);
    if (this.#closed) return conn.close(new RpcError("SHUTTING_DOWN", "the server is shutting down"));
    if (!authkey) return this.#accept(conn);
    this.#authenticating.add(conn);
    authenticate(conn, "server", authkey, nodeHmac, this.#handshakeTimeout).then(
      () => {
        this.#authenticating.delete(conn);
        if (this.#closed) conn.close(new RpcError("SHUTTING_DOWN", "the server is shutting down"));
        else this.#accept(conn);
      },
      (err: unknown) => {
        this.#authenticating.delete(conn);
        const e = err instanceof Error ? err : new RpcError("AUTH_FAILED", String(err));
        // Whatever it sends from now on ends the socket instead of being buffered.
        meter.refuse(e);
        this.#onHandshakeError?.(e, remoteAddress);
      },
    );
  }

  /**
   * Follow the socket's bytes ahead of `ws` (ws registered its own listener
   * during the upgrade, and nothing has been read yet), the first `capped`
   * messages limited to the challenge's size. A refused peer gets the close
   * frame with the reason; whatever it sends after that ends the socket at
   * once rather than being buffered while the close handshake waits.
   */
  #meter(socket: Duplex, conn: WsConnection, capped: number): { refuse(err: Error): void } {
    let refused = false;
    const refuse = (err: Error): void => {
      refused = true;
      account.release();
      conn.close(err);
    };
    const account = this.#budget.open(() => socket.isPaused(), refuse);
    const meter = new MessageMeter(account, MAX_HANDSHAKE_MESSAGE, capped);
    socket.prependListener("data", (chunk: Buffer) => {
      if (refused) return void socket.destroy();
      const err = meter.feed(chunk);
      if (err) refuse(err);
    });
    socket.once("close", () => account.release());
    return { refuse };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    routerFor(this.#server, this.#owned).remove(this.#path);
    const reason = new RpcError("SHUTTING_DOWN", "the server is shutting down");
    for (const conn of this.#authenticating) conn.close(reason);
    this.#authenticating.clear();
    this.#wss.close();
    if (this.#owned) {
      // Stops listening now; upgraded sockets close as the core shuts their sessions down.
      this.#server.close();
      this.#server.closeIdleConnections();
    }
  }
}

function addressOf(req: IncomingMessage): string | undefined {
  const a = req.socket.remoteAddress;
  return a === undefined ? undefined : `${a.includes(":") ? `[${a}]` : a}:${req.socket.remotePort}`;
}

/** Browsers send the page's origin; other clients send none and pass (the check is not authentication). */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[] | "*" | undefined): boolean {
  if (origin === undefined || allowed === "*") return true;
  if (allowed !== undefined) return allowed.includes(origin);
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

function normalizePath(p: string): string {
  if (p === "") return "/";
  return p.startsWith("/") ? p : `/${p}`;
}

async function startServer(url: URL, secure: boolean, options: WsServerOptions): Promise<HttpServer> {
  let server: HttpServer;
  if (secure) {
    if (options.pfx === undefined && (options.cert === undefined || options.key === undefined)) {
      throw new RpcError("INVALID_URL", "wss:// needs the cert and key options (PEM), or pfx");
    }
    const tls: Record<string, unknown> = {};
    for (const k of ["cert", "key", "ca", "pfx", "passphrase"] as const) if (options[k] !== undefined) tls[k] = options[k];
    server = createHttpsServer(tls) as unknown as HttpServer;
  } else {
    server = createHttpServer();
  }
  server.on("request", (_req, res) => {
    res.writeHead(426, { "Content-Type": "text/plain", Upgrade: "websocket", Connection: "close" });
    res.end("This endpoint speaks WebSocket (wirecall).\n");
  });
  const host = url.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new RpcError("CONNECT_FAILED", `cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  return server;
}
