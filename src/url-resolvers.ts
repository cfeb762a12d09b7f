/**
 * URL schemes that name something to look up rather than a place to dial:
 * `PYRONAME:name[@host:port]` and `PYROMETA:tag[,tag...][@host:port]` ask a
 * name server for a URL, then `connect()` dials that one. A resolver turns
 * such a URL into a connected facade; `connect` is passed in so resolvers
 * need not import the module that calls them. Loaded on first use.
 */
import { RpcError } from "./errors.js";

/** Connects to what `url` names; `connect` is `connect()` itself. */
export type UrlResolver = (
  url: URL,
  options: Record<string, unknown>,
  connect: (url: string, options: Record<string, unknown>) => Promise<unknown>,
) => Promise<unknown>;

const resolvers = new Map<string, UrlResolver>();

const BUILTIN: Record<string, () => Promise<UrlResolver>> = {
  pyroname: async () => (await import("./naming/resolve.js")).connectByName,
  pyrometa: async () => (await import("./naming/resolve.js")).connectByName,
};

/** Make `scheme:` URLs resolve through `resolver` (replacing any earlier one). */
export function registerUrlResolver(scheme: string, resolver: UrlResolver): void {
  resolvers.set(scheme.toLowerCase(), resolver);
}

/** The resolver for `url`'s scheme, or undefined when the URL is dialled as is. */
export async function urlResolverFor(url: string | URL): Promise<{ url: URL; resolve: UrlResolver } | undefined> {
  const text = String(url);
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(text);
  const scheme = m?.[1]?.toLowerCase();
  if (scheme === undefined) return undefined;
  let resolve = resolvers.get(scheme);
  if (!resolve && Object.prototype.hasOwnProperty.call(BUILTIN, scheme)) {
    resolve = await (BUILTIN[scheme] as () => Promise<UrlResolver>)();
    resolvers.set(scheme, resolve);
  }
  if (!resolve) return undefined;
  try {
    return { url: typeof url === "string" ? new URL(url) : url, resolve };
  } catch (err) {
    throw new RpcError("INVALID_URL", `not a URL: ${JSON.stringify(text)}`, { cause: err });
  }
}
