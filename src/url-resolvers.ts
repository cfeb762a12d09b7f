/**
 * The seam through which the name server (src/naming/) plugs into
 * `connect` and `serve` without the core importing it:
 *
 * - URL schemes that name something to look up rather than a place to
 *   dial: `PYRONAME:name[@host:port]` and `PYROMETA:tag[,tag...][@host:port]`
 *   ask a name server for a URL, then `connect()` dials that one. A
 *   resolver turns such a URL into a connected facade; `connect` is passed
 *   in so resolvers need not import the module that calls them.
 * - `server.publish(name)`: the function that gives a server `publish` and
 *   `unpublish`.
 *
 * Both are registered as loaders by the entry modules (src/naming/register.ts,
 * imported by src/core-api.ts) and loaded on first use, so a page that never
 * looks a name up never downloads the name server's client.
 */
import type { CallOptions } from "./call-types.js";
import { RpcError } from "./errors.js";
import type { ObjectServer } from "./objects.js";
import type { ProxyOptions } from "./proxy.js";
import type { TransportOptions } from "./transport.js";

/** Connects to what `url` names; `connect` is `connect()` itself. */
export type UrlResolver = (
  url: URL,
  options: Record<string, unknown>,
  connect: (url: string, options: Record<string, unknown>) => Promise<unknown>,
) => Promise<unknown>;

const resolvers = new Map<string, UrlResolver>();
const loaders = new Map<string, () => Promise<UrlResolver>>();

/** Make `scheme:` URLs resolve through `resolver` (replacing any earlier one). */
export function registerUrlResolver(scheme: string, resolver: UrlResolver): void {
  const s = scheme.toLowerCase();
  loaders.delete(s);
  resolvers.set(s, resolver);
}

/** Like {@link registerUrlResolver}, with the resolver loaded (once) by the first URL of `scheme:`. */
export function registerUrlResolverLoader(scheme: string, load: () => Promise<UrlResolver>): void {
  const s = scheme.toLowerCase();
  resolvers.delete(s);
  loaders.set(s, load);
}

/** The resolver for `url`'s scheme, or undefined when the URL is dialled as is. */
export async function urlResolverFor(url: string | URL): Promise<{ url: URL; resolve: UrlResolver } | undefined> {
  const text = String(url);
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(text);
  const scheme = m?.[1]?.toLowerCase();
  if (scheme === undefined) return undefined;
  let resolve = resolvers.get(scheme);
  if (!resolve) {
    const load = loaders.get(scheme);
    if (!load) return undefined;
    resolve = await load();
    // Unless another resolver was registered while this one loaded.
    if (loaders.get(scheme) === load) {
      loaders.delete(scheme);
      resolvers.set(scheme, resolve);
    }
  }
  try {
    return { url: typeof url === "string" ? new URL(url) : url, resolve };
  } catch (err) {
    throw new RpcError("INVALID_URL", `not a URL: ${JSON.stringify(text)}`, { cause: err });
  }
}

/** A name server client as `server.publish` uses it: what `locateNS()` returns. */
export interface NameServerHandle {
  /** The name server's address. */
  readonly url: string;
  register(name: string, url: string, options?: { metadata?: Iterable<string>; ttl?: number }, call?: CallOptions): Promise<void>;
  lookup(name: string, options?: CallOptions): Promise<string>;
  remove(name: string, options?: CallOptions): Promise<number>;
  close(): Promise<void>;
}

/** How long a published name lives without renewal unless `ttl` says otherwise (ms). */
export const DEFAULT_PUBLISH_TTL = 30_000;

/** Options of `server.publish(name, options)`. */
export interface PublishOptions {
  /** The name server: URL, `host:port` (tcp), or a `locateNS` client. Default: `WIRECALL_NS`, else tcp://127.0.0.1:9090. */
  nameserver?: string | NameServerHandle;
  /** How to connect to the name server (authkey...): `locateNS` options. */
  nameserverOptions?: ProxyOptions & TransportOptions;
  /** Tags, for `list({ metadataAll })` and `PYROMETA:`. */
  metadata?: Iterable<string>;
  /** Lease length in ms (default {@link DEFAULT_PUBLISH_TTL}, 30000); renewed every ttl/3. */
  ttl?: number;
  /**
   * The object registered: its id on this server (default: `name`), or
   * `null` for the server's URL itself (its plain functions).
   */
  object?: string | null;
}

/** What `serve()` adds to a server for the name server. */
export interface Publisher {
  /** Register `name` with a name server and keep it registered; resolves with the URL registered. */
  publish(name: string, options?: PublishOptions): Promise<string>;
  /** Stop renewing `name` and remove it from its name server. */
  unpublish(name: string): Promise<void>;
}

/** Gives a server `publish`/`unpublish` and makes its close() unpublish first (src/naming/publish.ts). */
export type AddPublisher = <S extends ObjectServer>(server: S) => S & Publisher;

let publisherLoader: (() => Promise<AddPublisher>) | undefined;
let publisher: AddPublisher | undefined;

/** Set how `serve()` gives its servers `publish`: `load` runs (once) at the first `serve()`. */
export function registerPublisher(load: () => Promise<AddPublisher>): void {
  publisherLoader = load;
  publisher = undefined;
}

/**
 * The registered publisher, loaded (once). Without one (the core imported
 * without an entry module) the servers it is given get `publish` and
 * `unpublish` that reject with a coded error saying what to import.
 */
export async function loadPublisher(): Promise<AddPublisher> {
  if (publisher) return publisher;
  if (!publisherLoader) return withoutPublisher;
  const load = publisherLoader;
  const loaded = await load();
  if (publisherLoader === load) publisher = loaded;
  return loaded;
}

function withoutPublisher<S extends ObjectServer>(server: S): S & Publisher {
  const missing = (): Promise<never> =>
    Promise.reject(new RpcError("MISSING_DEPENDENCY", 'server.publish needs the name server client: import "wirecall" (or wirecall/ws, wirecall/naming), which registers it'));
  return Object.assign(server, { publish: missing, unpublish: missing });
}
