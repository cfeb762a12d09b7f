/**
 * `connect`: a URL picks the transport (src/transport-registry.ts); a framed
 * transport's connection gets a {@link RPCProxy} (one peer session per
 * connection), a request/response front-end calls its own way. `serve` is
 * ./serve.ts, re-exported here: nothing a client runs reaches it.
 */
import type { AnyRemote, Caller, Remote } from "./call-types.js";
import { createFacade } from "./facade.js";
import { isFrontEnd } from "./front-end.js";
import { CONNECT_OPTIONS, readExplicit } from "./options.js";
import { RPCProxy, type ProxyOptions } from "./proxy.js";
import { lookupScheme, parseEndpoint, refuseCredentials } from "./transport-registry.js";
import type { ConnectOptionsByScheme, LooseOptions, SchemeOf, TransportOptions } from "./transport.js";
import { urlResolverFor } from "./url-resolvers.js";

export { serve } from "./serve.js";
export type { ServeOptions, ServeOptionsFor } from "./serve.js";

/** The options of the scheme's transport when the compiler knows it (a literal URL), else any. */
// Unknown schemes: any name (checked at run time), and typed option objects without an index signature too.
type Loose = TransportOptions | LooseOptions;
type ByScheme<M, U> = [SchemeOf<U>] extends [never] ? Loose : SchemeOf<U> extends keyof M ? M[SchemeOf<U>] : Loose;

/** What `connect(url, options)` takes for a URL of type `U`: exact for `"tcp://..."`, `"ws://..."` literals. */
export type ConnectOptions<U = string> = ProxyOptions & ByScheme<ConnectOptionsByScheme, U>;

/**
 * Connect to `url` and return the typed facade. Resolves once the connection
 * is authenticated and the serializer agreed; rejects with an `RpcError`
 * (`CONNECT_FAILED`, `AUTH_FAILED`, `INVALID_URL`, ...) otherwise.
 * With `handler`, the client serves it to the server on the same connection.
 */
export async function connect<T = never, U extends string | URL = string | URL>(
  url: U,
  options: ConnectOptions<U> = {} as ConnectOptions<U>,
): Promise<[T] extends [never] ? AnyRemote : Remote<T>> {
  type Facade = [T] extends [never] ? AnyRemote : Remote<T>;
  // PYRONAME:/PYROMETA: (src/url-resolvers.ts): look the URL up, then connect to it.
  const named = await urlResolverFor(url);
  if (named) return (await named.resolve(named.url, options as Record<string, unknown>, connect as (u: string, o: Record<string, unknown>) => Promise<unknown>)) as Facade;
  const ep = parseEndpoint(url);
  // `url#id` calls go to the object's methods (src/objects.ts, loaded only for such a URL).
  const objects = ep.url.hash !== "" || ep.url.href.endsWith("#") ? await import("./objects.js") : undefined;
  const object = objects?.splitObjectUrl(ep.url);
  if (object) ep.url = object.url;
  const forObject = (caller: Caller): Caller => (objects && object?.id !== undefined ? new objects.ObjectCaller(caller, object.id) : caller);
  const transport = await lookupScheme(ep.scheme);
  refuseCredentials(ep.url, transport);
  const given = options as { profile?: unknown };
  const profile = given.profile ?? ep.url.searchParams.get("profile") ?? undefined;
  // Another protocol's client (Python's recipe: docs/python.md), registered by its package (src/caller-profile.ts, loaded only then).
  const client = profile === undefined ? undefined : (await import("./caller-profile.js")).callerProfile(String(profile));
  const declared = transport.options?.connect;
  const core = isFrontEnd(transport) && declared ? undefined : CONNECT_OPTIONS;
  const specs = { ...core, ...declared, ...client?.options };
  const opts = Object.create(null) as ProxyOptions & LooseOptions;
  const strict = declared !== undefined;
  // The query string's reader loads only for a URL that has one (src/option-query.ts), and the words
  // of a refusal only for a refused option (src/option-errors.ts): a plain page fetches neither.
  const problem = (ep.url.search === "" ? undefined : (await import("./option-query.js")).readQuery(ep.url, specs, strict, undefined, opts)) ?? readExplicit(options, specs, strict, opts);
  if (problem) throw (await import("./option-errors.js")).optionError(problem, specs, `connect("${ep.scheme}://...")`);
  // A front-end's or a profile's caller (src/other-clients.ts, loaded only then).
  if (isFrontEnd(transport) || client) return (await (await import("./other-clients.js")).connectOther(transport, ep.url, opts, client, forObject)) as Facade;
  if (opts.telemetry) {
    // Loaded only when asked for (src/telemetry/telemetry.ts, then OpenTelemetry).
    const t = await import("./telemetry/telemetry.js");
    if (!t.isTelemetry(opts.telemetry)) opts.telemetry = await t.loadTelemetry(opts.telemetry, t.targetOf(ep.url, transport.name));
  }
  const proxy = await RPCProxy.open(() => transport.connect(ep.url, opts), opts);
  return createFacade(forObject(proxy)) as Facade;
}
