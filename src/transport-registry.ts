/**
 * URL scheme -> transport (framed) or front-end (request/response), and the
 * query-string options of an endpoint URL. Built-in transports load on
 * first use through the package's own subpath exports (./transport-builtins.ts).
 */
import { RpcError } from "./errors.js";
import { isFrontEnd, type FrontEnd } from "./front-end.js";
import type { Transport } from "./transport.js";

/** What a URL scheme can lead to: a framed transport or a request/response front-end. */
export type AnyTransport = Transport | FrontEnd;

const transports = new Map<string, AnyTransport>();

/** Refuse `user:password@` in a URL unless the transport uses it (URLs get logged). */
export function refuseCredentials(url: URL, transport: AnyTransport): void {
  if ((url.password || url.username) && !transport.urlCredentials) {
    throw new RpcError("INVALID_URL", `${transport.name} URLs take no user or password (URLs get logged); pass secrets as options or environment variables`);
  }
}

/** Make a transport or front-end reachable by its URL schemes (replacing any earlier one). */
export function registerTransport(t: AnyTransport): void {
  for (const s of t.schemes) transports.set(s, t);
}

/**
 * The framed transport for a URL scheme (without the colon), loading a
 * built-in one if needed. A scheme served by a request/response front-end
 * (XML-RPC) is refused with `INVALID_URL`: it has no connections to hand out.
 */
export async function getTransport(scheme: string): Promise<Transport> {
  const t = await lookupScheme(scheme);
  if (isFrontEnd(t)) {
    throw new RpcError("INVALID_URL", `${scheme}: is served by the ${t.name} request/response front-end, not a framed transport: use serve()/connect()`);
  }
  return t;
}

/**
 * The transport or front-end for a URL scheme, loading a built-in one if
 * needed (src/transport-builtins.ts, loaded only then: a page that registered
 * its transport never fetches it).
 */
export async function lookupScheme(scheme: string): Promise<AnyTransport> {
  const known = transports.get(scheme);
  if (known) return known;
  const t = await (await import("./transport-builtins.js")).loadBuiltin(scheme, transports.keys());
  registerTransport(t);
  return transports.get(scheme) ?? t;
}

/** Parse a URL (its query string is read by `serve`/`connect` against the transport's declared options). */
export function parseEndpoint(url: string | URL): { url: URL; scheme: string } {
  let u: URL;
  try {
    u = typeof url === "string" ? new URL(url) : url;
  } catch (err) {
    throw new RpcError("INVALID_URL", `not a URL: ${JSON.stringify(String(url))}`, { cause: err });
  }
  const scheme = u.protocol.replace(/:$/, "");
  return { url: u, scheme };
}
