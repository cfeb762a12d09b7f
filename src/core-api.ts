/**
 * What the main entry (src/index.ts) exports, except the `msgpack` and
 * `superjson` serializer objects: the browser entry (transports/ws/browser.ts)
 * exports this, so a page bundle never reaches msgpackr or superjson unless
 * it names them (by name they load on first use: src/serializers/index.ts).
 * Add new public names here.
 */
// PYRONAME:, PYROMETA: and server.publish(), loaded on first use (src/url-resolvers.ts).
import "./naming/register.js";
import type { LocateOptions, NameServerClient } from "./naming/locate.js";

export { RPCHandler } from "./handler.js";
export type { HandlerOptions, Middleware, RegisterOptions } from "./handler.js";
export type { AnyRemote, CallContext, CallOptions, Caller, ProxyControls, Remote, RemoteResult, RetryPolicy } from "./call-types.js";
export { connect, serve } from "./endpoint.js";
export type { ConnectOptions, ServeOptions, ServeOptionsFor } from "./endpoint.js";
export type { ObjectServer } from "./objects.js";
export { startNameServer, DEFAULT_NAMESERVER_URL } from "./naming/start.js";
export type { NameServer, NameServerOptions, NameStore } from "./naming/start.js";
export type { NameServerClient } from "./naming/locate.js";
export type { ListOptions, LocateOptions, NameRecord, RegisterOptions as NameRegisterOptions } from "./naming/locate.js";
export { NameRegistry, NAMESERVER_NAME } from "./naming/registry.js";
export type { NameEntry, NameFilter, RegistrySnapshot } from "./naming/registry.js";
export { NameServerObject, NamingError } from "./naming/name-server-object.js";
export { DEFAULT_NAMING_LIMITS } from "./naming/naming-limits.js";
export { DEFAULT_PUBLISH_TTL } from "./url-resolvers.js";
export type { NameServerHandle, PublishOptions, Publisher } from "./url-resolvers.js";
export type { NameLookupOptions } from "./naming/resolve.js";

/**
 * Connect to the name server at `url` (default `WIRECALL_NS`, else
 * `tcp://127.0.0.1:9090`; `host:port` means tcp). Options are connect()'s
 * (authkey, serializer, timeout...).
 *
 * The client loads on first use, so a page that never looks a name up does
 * not download it.
 */
export async function locateNS(url?: string, options?: LocateOptions): Promise<NameServerClient> {
  return (await import("./naming/locate.js")).locateNS(url, options);
}
export type { NamingLimits } from "./naming/naming-limits.js";
export { RPCProxy } from "./proxy.js";
export type { ProxyOptions, ReconnectOptions } from "./proxy.js";
export type { CallerDefaults } from "./caller.js";
export { setCallStorage } from "./deadline.js";
export type { CallStorage } from "./deadline.js";
export { DEFAULT_META_LIMITS } from "./meta/limits.js";
export type { Meta, MetaLimits } from "./meta/meta.js";
export type { ConnectionInfo, LifecycleHooks } from "./lifecycle.js";
export type { TelemetryOptions } from "./telemetry/telemetry.js";
export type { IdempotencyOptions } from "./meta/idempotency.js";
export { ref, keep, release } from "./refs/marks.js";
export { DEFAULT_STREAM_WINDOW } from "./refs/stream-window.js";
export { kw, KwargsMarker } from "./params.js";
export { registerTransport } from "./transport-registry.js";
export { ErrorCodes, RpcError, RemoteError, registerError, unregisterError } from "./errors.js";
export type { ErrorCode, RpcErrorOptions } from "./errors.js";
export { json, registerSerializer, getSerializer, loadSerializer, listSerializers } from "./serializers/index.js";
export { createJson, DEFAULT_DECODE_LIMITS } from "./serializers/index.js";
export type { Serializer, DecodeLimits } from "./serializers/index.js";
export { DEFAULT_LIMITS } from "./limits.js";
export type { Limits } from "./limits.js";
export type { ConnectOptionsByScheme, LooseOptions, Server, ServeOptionsByScheme, TransportOptions } from "./transport.js";
