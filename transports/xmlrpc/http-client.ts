/**
 * The client: a `Caller` that POSTs one methodCall per call over keep-alive
 * connections (any number in parallel), so `connect("xmlrpc+http://...")`
 * gives the same facade as every other transport and can call any XML-RPC
 * server (Python's SimpleXMLRPCServer included).
 */
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { RpcError, startCall, type OutgoingCall, type Caller, type CallerDefaults, type CallOptions, type TransportOptions } from "../../src/transport-sdk.js";
import { XMLRPC_LIMITS, decodeMethodResponse, encodeMethodCall, faultToError, type DecodeOptions, type EncodeOptions } from "../../protocols/xmlrpc/index.js";
import { basicAuthHeader, checkBasicAuthOption } from "./basic-auth.js";
import { decodeContent, readBody } from "./body.js";
import { httpEndpoint, type HttpEndpoint } from "./endpoint-url.js";
import { refuseAuthkey, refuseSerializer } from "./option-checks.js";

/**
 * Options of `connect("xmlrpc+http://...", options)`, besides the proxy's
 * `timeout` and `signal`. `authkey` and `serializer` are refused
 * (`INVALID_URL`): XML-RPC has no HMAC challenge and its own wire format.
 */
export interface XmlRpcClientOptions extends TransportOptions, EncodeOptions, DecodeOptions {
  /** Append the calling line's stack to errors a call rejects with (default true); see `ProxyOptions.captureStack`. */
  captureStack?: boolean;
  /** Largest response body accepted (after gzip decoding), bytes. Default 16 MiB (`XMLRPC_LIMITS.client`). */
  maxFrameSize?: number;
  /**
   * HTTP Basic credentials sent with every request, as an option rather than
   * in the URL (URLs get logged). `false`: this client sends none on
   * purpose (WIRECALL_AUTHKEY is then not refused).
   */
  basicAuth?: { username: string; password: string } | false;
  /** Open (and close) one connection in `connect()` so an unreachable server fails there with `CONNECT_FAILED`. Default true; false is lazy like Python's ServerProxy. */
  probe?: boolean;
  /** Time limit for the probe, ms. Default 10000. */
  handshakeTimeout?: number;
  /** Ask for gzip-compressed answers (`Accept-Encoding: gzip`), as Python's client does. Default true; false saves CPU on fast links. */
  gzip?: boolean;
  /** Extra HTTP headers sent with every request (e.g. Authorization). */
  headers?: Record<string, string>;
  /** For `xmlrpc+https`: trusted CA certificates (PEM), e.g. for a self-signed server. */
  ca?: string | Buffer | (string | Buffer)[];
  /** For `xmlrpc+https`: verify the server's certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** Any other `https.Agent` / TLS options (client cert, servername ...). */
  tls?: https.AgentOptions;
  /** Where errors of `$notify` calls go (there is no caller to reject). */
  onError?: (err: unknown) => void;
}

const CONNECT_ERRORS = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EADDRNOTAVAIL"]);
/** One-way calls have no caller waiting on them: no stack to append. */
const NO_STACK: CallerDefaults = { captureStack: false };

function isTlsFailure(err: NodeJS.ErrnoException): boolean {
  const c = err.code ?? "";
  return c.startsWith("ERR_TLS") || c.includes("CERT") || c.startsWith("ERR_SSL") || /SELF_SIGNED|UNABLE_TO_VERIFY/.test(c);
}

/** An XML-RPC client for one endpoint URL. Most code uses the facade from `connect()` instead. */
export class XmlRpcClient implements Caller {
  readonly #ep: HttpEndpoint;
  readonly #options: XmlRpcClientOptions;
  readonly #agent: http.Agent;
  readonly #limit: number;
  readonly #headers: Record<string, string>;
  readonly #pending = new Set<OutgoingCall>();
  readonly #callDefaults: CallerDefaults;
  #closed = false;

  constructor(url: URL, options: XmlRpcClientOptions = {}) {
    this.#ep = httpEndpoint(url);
    this.#options = options;
    this.#callDefaults = options.captureStack === false ? NO_STACK : {};
    refuseSerializer(options);
    const basic = checkBasicAuthOption(options.basicAuth);
    if (typeof basic === "function") throw new RpcError("INVALID_URL", "a client's basicAuth is { username, password } (or false), not a function");
    const inUrl = this.#ep.username !== "" || this.#ep.password !== "";
    if (inUrl && basic) throw new RpcError("INVALID_URL", "Basic auth credentials are given twice: in the URL and as the basicAuth option; keep one");
    const header = Object.keys(options.headers ?? {}).some((k) => k.toLowerCase() === "authorization");
    refuseAuthkey(options, "client", inUrl || (basic !== undefined && basic !== false) || header);
    this.#limit = options.maxFrameSize ?? XMLRPC_LIMITS.client.maxFrameSize;
    this.#agent = this.#ep.secure ? new https.Agent({ keepAlive: true, ...this.#tlsOptions() }) : new http.Agent({ keepAlive: true });
    this.#headers = {
      "User-Agent": "wirecall-xmlrpc",
      "Accept-Encoding": options.gzip === false ? "identity" : "gzip",
      ...options.headers,
    };
    if (inUrl) this.#headers.Authorization = basicAuthHeader(this.#ep.username, this.#ep.password);
    else if (basic) this.#headers.Authorization = basicAuthHeader(basic.username, basic.password);
  }

  #tlsOptions(): tls.ConnectionOptions {
    const o: tls.ConnectionOptions = { ...this.#options.tls };
    if (this.#options.ca !== undefined) o.ca = this.#options.ca;
    if (this.#options.rejectUnauthorized !== undefined) o.rejectUnauthorized = this.#options.rejectUnauthorized;
    if (o.servername === undefined && net.isIP(this.#ep.host) === 0) o.servername = this.#ep.host;
    return o;
  }

  /** The endpoint as `http(s)://host:port/path`, for messages. */
  get target(): string {
    const h = this.#ep.host.includes(":") ? `[${this.#ep.host}]` : this.#ep.host;
    return `${this.#ep.secure ? "https" : "http"}://${h}:${this.#ep.port}${this.#ep.path}`;
  }

  /** Open and close one connection, so that a wrong address fails now rather than at the first call. */
  async probe(): Promise<void> {
    const timeout = this.#options.handshakeTimeout ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const sock = this.#ep.secure
        ? tls.connect({ host: this.#ep.host, port: this.#ep.port, ...this.#tlsOptions() })
        : net.connect({ host: this.#ep.host, port: this.#ep.port });
      const timer = setTimeout(() => sock.destroy(new Error(`no connection within ${timeout} ms`)), timeout);
      sock.once(this.#ep.secure ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        sock.destroy();
        resolve();
      });
      sock.once("error", (err) => {
        clearTimeout(timer);
        reject(new RpcError("CONNECT_FAILED", `cannot reach the XML-RPC server at ${this.target}: ${err.message}`, { cause: err }));
      });
    });
  }

  call(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RpcError("CONNECTION_CLOSED", `cannot call '${name}': the proxy is closed`));
    // Timeout, signal and the caller's stack: the one implementation every client shares.
    const { promise, call } = startCall(name, args, kwargs, options, this.#callDefaults);
    if (call) this.#request(call, undefined);
    return promise;
  }

  /**
   * XML-RPC has no one-way calls: this sends the call and resolves once the
   * request is written, without waiting for the answer. The answer is read
   * and dropped; a fault or failure goes to the `onError` option.
   */
  notify(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>): Promise<void> {
    if (this.#closed) return Promise.reject(new RpcError("CONNECTION_CLOSED", `cannot call '${name}': the proxy is closed`));
    return new Promise<void>((resolve, reject) => {
      let sent = false;
      const { promise, call } = startCall(name, args, kwargs, undefined, NO_STACK);
      promise.catch((err: unknown) => {
        if (!sent) reject(err);
        else this.#options.onError?.(err);
      });
      if (call) {
        this.#request(call, () => {
          sent = true;
          resolve();
        });
      }
    });
  }

  /** Abort calls in flight (`CONNECTION_CLOSED`) and close every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const reason = new RpcError("CONNECTION_CLOSED", "the proxy was closed");
    for (const call of [...this.#pending]) {
      call.reject(reason);
      call.onAbandon?.(call);
    }
    this.#agent.destroy();
  }

  /** Send one call as one HTTP request; settles `call` with the answer. */
  #request(call: OutgoingCall, onSent: (() => void) | undefined): void {
    const name = call.name;
    if (call.kwargs !== undefined && Object.keys(call.kwargs).length > 0) {
      call.reject(new RpcError("INVALID_PARAMS", `${name}() got keyword arguments, which XML-RPC cannot carry (pass them positionally or as one struct)`));
      return;
    }
    let body: Buffer;
    try {
      body = Buffer.from(encodeMethodCall(name, call.args, this.#options), "utf8");
    } catch (err) {
      call.reject(err);
      return;
    }
    const mod = this.#ep.secure ? https : http;
    const req = mod.request({
      agent: this.#agent,
      host: this.#ep.host,
      port: this.#ep.port,
      path: this.#ep.path,
      method: "POST",
      headers: { ...this.#headers, "Content-Type": "text/xml", "Content-Length": body.length },
    });
    this.#pending.add(call);
    const settle = (err: Error | undefined, value?: unknown): void => {
      this.#pending.delete(call);
      if (err) call.reject(err);
      else call.resolve(value);
    };
    // Timed out, aborted or closed: the request goes, its connection with it.
    call.onAbandon = () => {
      this.#pending.delete(call);
      req.destroy();
    };
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (call.settled) return;
      const connectFailed = CONNECT_ERRORS.has(err.code ?? "") || isTlsFailure(err);
      settle(
        connectFailed
          ? new RpcError("CONNECT_FAILED", `cannot reach the XML-RPC server at ${this.target}: ${err.message}`, { cause: err })
          : new RpcError("CONNECTION_CLOSED", `the connection to ${this.target} failed during '${name}': ${err.message}`, { cause: err }),
      );
    });
    if (onSent) req.once("finish", onSent);
    req.on("response", (res) => {
      this.#response(name, res).then(
        (v) => settle(undefined, v),
        (err: Error) => {
          if (!call.settled) res.destroy();
          settle(err);
        },
      );
    });
    req.end(body);
  }

  async #response(name: string, res: http.IncomingMessage): Promise<unknown> {
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      res.resume();
      const msg = `the XML-RPC server at ${this.target} answered '${name}' with HTTP ${status} ${res.statusMessage ?? ""}`.trim();
      if (status === 413) throw new RpcError("PAYLOAD_TOO_LARGE", msg, { data: { status } });
      if (status === 401) throw new RpcError("AUTH_FAILED", `${msg}: the server wants HTTP Basic auth (basicAuth option, or user:password@ in the URL)`, { data: { status } });
      if (status === 403) throw new RpcError("AUTH_FAILED", `${msg}: the server refused this peer (a server without basicAuth serves only loopback peers unless allowRemote)`, { data: { status } });
      if (status === 503) throw new RpcError("SHUTTING_DOWN", msg, { data: { status } });
      throw new RpcError("PROTOCOL_ERROR", msg, { data: { status } });
    }
    const declared = Number(res.headers["content-length"] ?? "0");
    if (declared > this.#limit) throw new RpcError("PAYLOAD_TOO_LARGE", `the answer to '${name}' is ${declared} bytes, over the ${this.#limit}-byte limit (option maxFrameSize)`);
    const raw = await readBody(res, this.#limit, `answer to '${name}'`);
    const bytes = await decodeContent(raw, res.headers["content-encoding"], this.#limit, `answer to '${name}'`);
    const answer = decodeMethodResponse(bytes, this.#options);
    if (answer.kind === "fault") throw faultToError(answer.fault);
    return answer.value;
  }
}
