/**
 * Standalone XML-RPC servers on node:http / node:https (keep-alive), and
 * `attachXmlRpc` to serve at a path of an HTTP server you already run.
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { DEFAULT_LIMITS, objectUrl, RpcError, type RPCHandler, type Server, type TransportOptions } from "../../src/transport-sdk.js";
import { checkBasicAuthOption } from "./basic-auth.js";
import { DEFAULT_PATH, formatUrl, httpEndpoint } from "./endpoint-url.js";
import { refuseAuthkey, refuseSerializer } from "./option-checks.js";
import { XmlRpcRequestListener, type XmlRpcListenerOptions } from "./request-listener.js";

/**
 * Options of `serve(handler, "xmlrpc+http://...", options)`. `authkey` and
 * `serializer` are refused (`INVALID_URL`): XML-RPC has no HMAC challenge
 * and its own wire format; use `basicAuth`.
 */
export interface XmlRpcServeOptions extends TransportOptions, Omit<XmlRpcListenerOptions, "paths"> {
  /** How long `close()` waits for requests in flight before aborting them, ms. Default 5000. */
  closeTimeout?: number;
  /** Idle keep-alive connections are closed after this many ms. Default 5000 (Node's). */
  keepAliveTimeout?: number;
  /** A client must send a whole request (headers and body) within this many ms, or gets 408. Default 60000. */
  requestTimeout?: number;
  /** For `xmlrpc+https`: certificate chain (PEM). */
  cert?: string | Buffer | (string | Buffer)[];
  /** For `xmlrpc+https`: private key (PEM). */
  key?: string | Buffer | (string | Buffer)[];
  /** Any other `https.createServer` options (ca, pfx, passphrase, requestCert ...). */
  tls?: https.ServerOptions;
}

/** A running standalone XML-RPC server. */
export class XmlRpcServer implements Server {
  readonly #http: http.Server;
  readonly #requests: XmlRpcRequestListener;
  readonly #url: string;
  readonly #closeTimeout: number;
  #closing: Promise<void> | undefined;

  /** @internal use `serve()` or {@link serveXmlRpc}. */
  constructor(httpServer: http.Server, requests: XmlRpcRequestListener, url: string, closeTimeout: number) {
    this.#http = httpServer;
    this.#requests = requests;
    this.#url = url;
    this.#closeTimeout = closeTimeout;
  }

  /** e.g. `xmlrpc+http://127.0.0.1:40123/RPC2`, the real port filled in. */
  get url(): string {
    return this.#url;
  }

  /** The URL of the object registered as `id`: `url#id`. */
  urlOf(id: string): string {
    return objectUrl(this.#url, id);
  }

  /** The node:http(s) server, for its events and settings. */
  get httpServer(): http.Server {
    return this.#http;
  }

  /** Requests being served right now. */
  get inFlight(): number {
    return this.#requests.inFlight;
  }

  /**
   * Stop accepting connections, answer 503 to new requests on open ones, let
   * requests in flight finish (up to `closeTimeout`, then abort them), and
   * close every connection. Idempotent.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#http.closeIdleConnections();
    await this.#requests.shutdown(this.#closeTimeout);
    this.#http.closeAllConnections();
    await closed;
  }
}

/**
 * Serve `handler` over XML-RPC at an `xmlrpc+http://` or `xmlrpc+https://`
 * URL (port 0 picks one). `user:password@` in the URL is the `basicAuth`
 * every request must carry; the reported `server.url` leaves it out.
 */
export async function serveXmlRpc(handler: RPCHandler, url: URL, options: XmlRpcServeOptions = {}): Promise<XmlRpcServer> {
  const ep = httpEndpoint(url);
  const paths = ep.defaultPath ? [DEFAULT_PATH, "/"] : [ep.path];
  refuseSerializer(options);
  let basicAuth = checkBasicAuthOption(options.basicAuth);
  if (ep.username !== "" || ep.password !== "") {
    if (basicAuth !== undefined) throw new RpcError("INVALID_URL", "Basic auth is given twice: in the URL and as the basicAuth option; keep one");
    basicAuth = { username: ep.username, password: ep.password };
  }
  refuseAuthkey(options, "server", basicAuth !== undefined && basicAuth !== false);
  const listenerOptions = basicAuth === undefined ? { ...options, paths } : { ...options, basicAuth, paths };
  const requests = new XmlRpcRequestListener(handler, listenerOptions);
  let server: http.Server;
  if (ep.secure) {
    const tls: https.ServerOptions = { ...options.tls };
    if (options.cert !== undefined) tls.cert = options.cert;
    if (options.key !== undefined) tls.key = options.key;
    if (tls.cert === undefined && tls.pfx === undefined) {
      throw new RpcError("INVALID_URL", "xmlrpc+https needs a certificate: pass the cert and key options (or tls.pfx)");
    }
    server = https.createServer(tls, requests.listener);
  } else {
    server = http.createServer(requests.listener);
  }
  server.keepAliveTimeout = options.keepAliveTimeout ?? 5000;
  server.requestTimeout = options.requestTimeout ?? 60_000;
  server.headersTimeout = Math.min(server.requestTimeout || 60_000, 60_000);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new RpcError("CONNECT_FAILED", `cannot listen on ${ep.host}:${ep.port}: ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(ep.port, ep.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return new XmlRpcServer(server, requests, formatUrl(ep.secure, ep.host, port, ep.path) + url.search, options.closeTimeout ?? DEFAULT_LIMITS.closeTimeout);
}

/** What {@link attachXmlRpc} returns. */
export interface AttachedXmlRpc {
  /** The path served. */
  readonly path: string;
  /** Requests being served right now. */
  readonly inFlight: number;
  /**
   * Give the path back to the server's other request listeners, let
   * requests in flight finish (up to `closeTimeout`), abort the rest. The
   * HTTP server itself stays up. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Serve `handler` over XML-RPC at `path` of an existing HTTP(S) server.
 * Requests to `path` go to XML-RPC; every other request goes to the
 * server's own `request` listeners (those registered before this call), or
 * gets 404 if it had none. Attach after the app's listener is in place.
 */
export function attachXmlRpc(
  server: http.Server | https.Server,
  handler: RPCHandler,
  options: Omit<XmlRpcListenerOptions, "paths"> & { path?: string; closeTimeout?: number } = {},
): AttachedXmlRpc {
  const path = options.path ?? DEFAULT_PATH;
  if (!path.startsWith("/")) throw new TypeError(`an XML-RPC path must start with '/': ${JSON.stringify(path)}`);
  const requests = new XmlRpcRequestListener(handler, { ...options, paths: [path] });
  const others = server.listeners("request") as ((req: http.IncomingMessage, res: http.ServerResponse) => void)[];
  const router = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (requests.owns(req.url) || others.length === 0) {
      requests.listener(req, res);
      return;
    }
    for (const l of others) l.call(server, req, res);
  };
  server.removeAllListeners("request");
  server.on("request", router);
  let closing: Promise<void> | undefined;
  return {
    path,
    get inFlight() {
      return requests.inFlight;
    },
    close() {
      return (closing ??= (async () => {
        server.off("request", router);
        for (const l of others) server.on("request", l);
        await requests.shutdown(options.closeTimeout ?? DEFAULT_LIMITS.closeTimeout);
      })());
    },
  };
}
