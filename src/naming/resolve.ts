/**
 * `connect("PYRONAME:name[@host:port]")` and `connect("PYROMETA:tag[,tag][@host:port]")`:
 * ask a name server for the URL, then connect to that URL (any transport,
 * any object; `PYRO:` once wirecall/pyro4 is there). The name server is the
 * one in the URL after `@` (`host:port` means tcp, a full URL is used as
 * is), else the `nameserver` option, else `WIRECALL_NS` (Node), else
 * `tcp://127.0.0.1:9090`. Like Pyro, the name is resolved once, at connect.
 */
import { RpcError } from "../errors.js";
import { resolveOptions } from "../option-errors.js";
import { CONNECT_OPTIONS } from "../options.js";
import { SERVE_OPTIONS } from "../serve-options.js";
import type { UrlResolver } from "../url-resolvers.js";
import { defaultNameServerUrl, locateNS, nameServerUrl, NameServerClient, type LocateOptions } from "./locate.js";

/** Options `connect()` takes for `PYRONAME:`/`PYROMETA:` URLs, besides the target's own. */
export interface NameLookupOptions {
  /** The name server (URL, `host:port`, or a client from `locateNS`) when the URL names none. */
  nameserver?: string | NameServerClient;
  /** How to connect to the name server; default: the same options as the target (as Pyro uses one HMAC key for both). */
  nameserverOptions?: LocateOptions;
}

/** Split `name@location` at the first `@`, as Pyro does. */
function splitLocation(url: URL): { what: string; location: string | undefined } {
  let body: string;
  try {
    body = decodeURIComponent(url.pathname);
  } catch (err) {
    throw new RpcError("INVALID_URL", `${url.href} is not valid percent-encoding`, { cause: err });
  }
  const at = body.indexOf("@");
  const what = at < 0 ? body : body.slice(0, at);
  const location = at < 0 ? undefined : body.slice(at + 1);
  if (what === "" || url.host !== "") {
    throw new RpcError("INVALID_URL", `${url.href}: write ${url.protocol.toUpperCase()}name or ${url.protocol.toUpperCase()}name@host:port`);
  }
  if (location === "") throw new RpcError("INVALID_URL", `${url.href}: nothing after '@' (give host:port or drop the '@')`);
  return { what, location };
}

/**
 * The URL's query string read as options by the one option parser (the core's
 * options typed, others as text): the target's transport is not known yet.
 */
function queryOptions(url: URL): Record<string, unknown> {
  return resolveOptions(url, {}, { ...SERVE_OPTIONS, ...CONNECT_OPTIONS }, `${url.protocol.replace(/:$/, "")}://...`, false);
}

export const connectByName: UrlResolver = async (url, options, connect) => {
  const meta = url.protocol.toLowerCase() === "pyrometa:";
  const { what, location } = splitLocation(url);
  const { nameserver, nameserverOptions, ...rest } = options as NameLookupOptions & Record<string, unknown>;
  // Query-string options (timeout, serializer...) apply to the target, as on any URL.
  const target: Record<string, unknown> = { ...queryOptions(url), ...rest };
  let ns: NameServerClient;
  let own = true;
  if (location === undefined && nameserver instanceof NameServerClient) {
    ns = nameserver;
    own = false;
  } else {
    const address = location !== undefined ? nameServerUrl(location) : typeof nameserver === "string" ? nameserver : defaultNameServerUrl();
    const { handler: _handler, ...forNs } = target;
    ns = await locateNS(address, nameserverOptions ?? (forNs as LocateOptions));
  }
  let resolved: string;
  try {
    if (meta) {
      const tags = what.split(",").filter((t) => t !== "");
      const found = Object.values(await ns.list({ metadataAll: tags }));
      if (found.length === 0) {
        throw new RpcError("NAME_NOT_FOUND", `no registration at the name server ${ns.url} has all the metadata ${JSON.stringify(tags)}`);
      }
      // Pyro's simple load spreading: one of them at random.
      resolved = found[Math.floor(Math.random() * found.length)] as string;
    } else {
      resolved = await ns.lookup(what);
    }
  } finally {
    if (own) await ns.close();
  }
  if (/^pyro(name|meta):/i.test(resolved)) {
    throw new RpcError("INVALID_URL", `${url.href} resolves to ${resolved}, another name lookup: register the URL it stands for instead`);
  }
  return connect(resolved, target);
};
