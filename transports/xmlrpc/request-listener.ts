/**
 * The HTTP face of an XML-RPC server: one `(req, res)` listener that checks
 * method, path, type and size, reads the body and hands it to the codec's
 * `handleXmlRpcRequest`. Used by the standalone server, by `attachXmlRpc`,
 * and directly by frameworks (`app.post("/RPC2", listener)`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { DEFAULT_LIMITS, RpcError, type RPCHandler } from "../../src/transport-sdk.js";
import { XMLRPC_LIMITS, handleXmlRpcRequest, type XmlRpcDispatchOptions } from "../../protocols/xmlrpc/index.js";
import { isLoopback } from "../net-address.js";
import { checkBasicAuth, checkBasicAuthOption, type BasicAuthOption, type BasicAuthVerifier } from "./basic-auth.js";
import { acceptsGzip, decodeContent, gzipBody, readBody } from "./body.js";

export interface XmlRpcListenerOptions extends XmlRpcDispatchOptions {
  /** Largest request body, in bytes, before and after gzip decoding; larger gets HTTP 413. Default 4 MiB (`XMLRPC_LIMITS.server`). */
  maxFrameSize?: number;
  /**
   * HTTP Basic authentication every request must carry (else HTTP 401): one
   * `{ username, password }` or a function checking the pair. `false` says
   * on purpose that there is none. Use it over HTTPS outside loopback.
   */
  basicAuth?: BasicAuthOption;
  /**
   * Without `basicAuth`, serve peers that are not on loopback (default
   * false: they get HTTP 403), as tcp:// and ws:// do without an authkey.
   * Set it when something in front authenticates (a reverse proxy on
   * loopback needs nothing: its address is loopback).
   */
  allowRemote?: boolean;
  /** Told of each request refused before it was read: a remote peer without `allowRemote`, or failed Basic auth (`AUTH_FAILED`). */
  onHandshakeError?: (err: RpcError, remoteAddress: string | undefined) => void;
  /**
   * Refuse request Content-Types other than XML (`text/xml`, `application/xml`,
   * `*+xml`) with HTTP 415; a missing Content-Type is accepted. Default true:
   * a browser form can post `text/plain` across origins without a preflight,
   * XML it cannot. Python's server accepts any type; set false to match it.
   */
  strictContentType?: boolean;
  /** gzip responses larger than this many bytes when the client accepts gzip (Python's threshold is 1400). `false` never compresses. Default 1400. */
  gzipThreshold?: number | false;
  /** Paths answered; others get 404. Undefined answers every path (when mounted by a framework's router). */
  paths?: readonly string[];
}

/** Default request-body limit (`XMLRPC_LIMITS.server.maxFrameSize`): requests come from peers the server may not trust. */
export const DEFAULT_MAX_BODY = XMLRPC_LIMITS.server.maxFrameSize;

const XML_TYPE = /^(?:text\/xml|application\/xml|[\w.+-]+\/[\w.-]+\+xml)\s*(?:;|$)/i;

function pathOf(url: string | undefined): string {
  const u = url ?? "/";
  const q = u.indexOf("?");
  return q < 0 ? u : u.slice(0, q);
}

/** One request being served, so shutdown can wait for it or abort it. */
interface Active {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/** Serves XML-RPC requests for one handler and keeps count of those in flight. */
export class XmlRpcRequestListener {
  readonly #handler: RPCHandler;
  readonly #options: XmlRpcListenerOptions;
  readonly #limit: number;
  readonly #auth: BasicAuthVerifier | undefined;
  readonly #loopbackOnly: boolean;
  readonly #active = new Set<Active>();
  #closing = false;

  constructor(handler: RPCHandler, options: XmlRpcListenerOptions = {}) {
    this.#handler = handler;
    this.#options = options;
    this.#limit = options.maxFrameSize ?? DEFAULT_MAX_BODY;
    const auth = checkBasicAuthOption(options.basicAuth);
    this.#auth = auth === false ? undefined : auth;
    this.#loopbackOnly = this.#auth === undefined && options.allowRemote !== true;
  }

  /** Requests currently being served. */
  get inFlight(): number {
    return this.#active.size;
  }

  /** True when `url` (a request's path and query) is one this listener answers. */
  owns(url: string | undefined): boolean {
    const paths = this.#options.paths;
    return paths === undefined || paths.includes(pathOf(url));
  }

  /** The `(req, res)` function to give to `http.createServer` or a router. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    this.#serve(req, res).catch((err: unknown) => {
      // #serve answers every failure itself; this is the last resort for a bug.
      this.#handler.options.onError?.(err, undefined);
      if (!res.headersSent) plain(res, 500, "internal error", true);
      else res.destroy();
    });
  };

  /**
   * Refuse new requests (503), wait up to `timeout` ms for those in flight,
   * then abort the rest (their handlers' `ctx.signal` fires).
   */
  async shutdown(timeout: number = DEFAULT_LIMITS.closeTimeout): Promise<void> {
    this.#closing = true;
    const pending = [...this.#active];
    if (pending.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout);
    });
    await Promise.race([Promise.all(pending.map((a) => a.done)), deadline]);
    clearTimeout(timer);
    const reason = new RpcError("SHUTTING_DOWN", "the server closed");
    for (const a of this.#active) a.controller.abort(reason);
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.owns(req.url)) return plain(res, 404, "no XML-RPC endpoint at this path", false);
    if (this.#closing) return plain(res, 503, "the server is shutting down", true);
    if (this.#loopbackOnly && !isLoopback(req.socket.remoteAddress)) {
      this.#refused("refused a remote peer: without basicAuth only loopback peers are served (allowRemote: true to change that)", req);
      return plain(res, 403, "this XML-RPC server serves only loopback peers", true);
    }
    if (this.#auth && !(await checkBasicAuth(this.#auth, req.headers.authorization))) {
      this.#refused(req.headers.authorization ? "wrong Basic auth user or password" : "a request without Basic auth credentials", req);
      res.setHeader("WWW-Authenticate", 'Basic realm="xmlrpc", charset="UTF-8"');
      return plain(res, 401, "authentication required", true);
    }
    if (req.method !== "POST") {
      res.setHeader("Allow", "POST");
      return plain(res, 405, "XML-RPC requests are POSTed", false);
    }
    const type = req.headers["content-type"];
    if (type !== undefined && (this.#options.strictContentType ?? true) && !XML_TYPE.test(type)) {
      return plain(res, 415, "XML-RPC requests are text/xml", !req.complete);
    }
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > this.#limit) return plain(res, 413, `request body over the ${this.#limit}-byte limit`, true);

    const controller = new AbortController();
    let finish!: () => void;
    const active: Active = { controller, done: new Promise<void>((r) => (finish = r)) };
    this.#active.add(active);
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(new RpcError("CONNECTION_CLOSED", "the client disconnected"));
    });
    try {
      const raw = await readBody(req, this.#limit, "request body");
      const body = await decodeContent(raw, req.headers["content-encoding"], this.#limit, "request body");
      const peer = { transport: "xmlrpc", remoteAddress: remoteOf(req) };
      const xml = await handleXmlRpcRequest(this.#handler, body, peer, this.#options, controller.signal);
      if (res.destroyed) return;
      await this.#respond(req, res, xml);
    } catch (err) {
      if (res.headersSent || res.destroyed) return;
      const code = (err as RpcError).code;
      if (code === "PAYLOAD_TOO_LARGE") return plain(res, 413, (err as Error).message, true);
      const status = ((err as RpcError).data as { status?: number } | undefined)?.status;
      if (code === "PROTOCOL_ERROR" && status) return plain(res, status, (err as Error).message, true);
      res.destroy();
    } finally {
      this.#active.delete(active);
      finish();
    }
  }

  #refused(message: string, req: IncomingMessage): void {
    const report = this.#options.onHandshakeError;
    if (report) report(new RpcError("AUTH_FAILED", message), remoteOf(req));
  }

  async #respond(req: IncomingMessage, res: ServerResponse, xml: string): Promise<void> {
    let body: Uint8Array = Buffer.from(xml, "utf8");
    const threshold = this.#options.gzipThreshold ?? 1400;
    if (threshold !== false && body.length > threshold && acceptsGzip(req.headers["accept-encoding"])) {
      body = await gzipBody(body);
      res.setHeader("Content-Encoding", "gzip");
    }
    if (res.destroyed) return;
    res.statusCode = 200;
    res.setHeader("Content-Type", "text/xml; charset=utf-8");
    res.setHeader("Content-Length", body.length);
    if (this.#closing) res.setHeader("Connection", "close");
    res.end(body);
  }
}

function remoteOf(req: IncomingMessage): string | undefined {
  const s = req.socket;
  if (!s.remoteAddress) return undefined;
  return s.remoteAddress.includes(":") ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
}

/**
 * A short text/plain answer. `close` ends the connection after it: the
 * request body may be unread (too large, wrong type), so the connection
 * cannot carry another request.
 */
function plain(res: ServerResponse, status: number, text: string, close: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${text}\n`;
  res.statusCode = status;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  if (close) res.setHeader("Connection", "close");
  res.end(body);
}
