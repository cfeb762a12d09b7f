/**
 * `xmlrpc+http://host:port/path` and `xmlrpc+https://...` URLs: where to
 * listen or post, and the URL a server reports.
 */
import { RpcError } from "../../src/transport-sdk.js";

/** Path served when the URL names none, as Python's `ServerProxy` posts to it by default. */
export const DEFAULT_PATH = "/RPC2";

export interface HttpEndpoint {
  readonly secure: boolean;
  /** Host name or address, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** The request path; "/RPC2" when the URL has none. */
  readonly path: string;
  /** True when the URL named no path (a server then also answers on "/", like Python's). */
  readonly defaultPath: boolean;
  readonly username: string;
  readonly password: string;
}

/** Split an XML-RPC URL. Throws `INVALID_URL` for other schemes. */
export function httpEndpoint(url: URL): HttpEndpoint {
  const scheme = url.protocol.replace(/:$/, "");
  if (scheme !== "xmlrpc+http" && scheme !== "xmlrpc+https") {
    throw new RpcError("INVALID_URL", `not an XML-RPC URL: '${scheme}:' (use xmlrpc+http:// or xmlrpc+https://)`);
  }
  const secure = scheme === "xmlrpc+https";
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new RpcError("INVALID_URL", `an XML-RPC URL needs a host: ${url.href}`);
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const raw = url.pathname;
  const defaultPath = raw === "" || raw === "/";
  return {
    secure,
    host,
    port,
    path: defaultPath ? DEFAULT_PATH : raw,
    defaultPath,
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

/** The connectable URL of a bound server. */
export function formatUrl(secure: boolean, host: string, port: number, path: string): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return `${secure ? "xmlrpc+https" : "xmlrpc+http"}://${h}:${port}${path}`;
}
