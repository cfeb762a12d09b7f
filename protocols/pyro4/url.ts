/**
 * The URL forms of the `pyro` scheme: `pyro://host:port` (a daemon address,
 * for `serve` and for `connect` with dotted names or `#object`) and Pyro4's
 * own `PYRO:object@host:port` (one object), which `new URL` reads as the
 * scheme `pyro` with the path `object@host:port`.
 */
import { RpcError } from "../../src/transport-sdk.js";
import { PyroURI } from "./uri.js";

/** Host and port of `pyro://host:port` (port 0 allowed for serve). */
export function hostPortOf(url: URL): { host: string; port: number } {
  if (url.host === "") {
    throw new RpcError("INVALID_URL", `serve() takes pyro://host:port (the daemon's address), got ${url.href}; Python clients then use PYRO:<object id>@host:port`);
  }
  if (url.pathname !== "" && url.pathname !== "/") throw new RpcError("INVALID_URL", `pyro://host:port takes no path, got ${url.href}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? 0 : Number(url.port);
  return { host, port };
}

/** `PYRO:id@host:port` as Python's `str(uri)` prints it. */
export function pyroUriText(id: string, host: string, port: number): string {
  return String(new PyroURI("PYRO", id, host, port));
}

/** Where `connect()` dials and which object it calls (undefined: the method name is `object.method`). */
export interface PyroTarget {
  host: string;
  port: number;
  objectId: string | undefined;
}

/** Read a `pyro:` connect URL: `PYRO:obj@host:port` or `pyro://host:port`. */
export function pyroTarget(url: URL): PyroTarget {
  if (url.host !== "") {
    const { host, port } = hostPortOf(url);
    if (port === 0) throw new RpcError("INVALID_URL", `${url.href}: connect() needs the daemon's port`);
    return { host, port, objectId: undefined };
  }
  // PYRO:obj@host:port (any case; the query, if any, holds options and is not part of the URI).
  const text = `PYRO:${decodeURIComponent(url.pathname)}`;
  const uri = PyroURI.parse(text);
  if (uri.host === null || uri.port === null) throw new RpcError("INVALID_URL", `${text}: connect() needs a host and port (unix sockets are not supported)`);
  return { host: uri.host, port: uri.port, objectId: uri.object as string };
}
