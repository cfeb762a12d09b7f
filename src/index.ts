/**
 * wirecall: RPC with pluggable transports and serializers.
 * This module re-exports the public API; it loads no transport by itself.
 */
export { RPCHandler } from "./handler.js";
export type { CallContext, HandlerOptions, Middleware, RegisterOptions } from "./handler.js";
export { RPCProxy } from "./proxy.js";
export type { Dialer, ProxyOptions, ReconnectOptions } from "./proxy.js";
export type { CallOptions, CallerDefaults } from "./caller.js";
export { createFacade } from "./facade.js";
export type { AnyRemote, Caller, ProxyControls, Remote } from "./facade.js";
export { kw, KwargsMarker, readParams, bindArguments } from "./params.js";
export type { Param, ParamSpec } from "./params.js";
export { connect, serve } from "./endpoint.js";
export type { ServeOptions } from "./endpoint.js";
export { registerTransport, getTransport, parseEndpoint } from "./transport-registry.js";
export { PeerSession } from "./session.js";
export type { SessionOptions } from "./session.js";
export { registerFrameProtocol } from "./frame-protocol.js";
export type { FrameProtocol, SessionLike } from "./frame-protocol.js";
export type { FrontEnd } from "./front-end.js";
export { ServerCall } from "./call-context.js";
export type { PeerInfo } from "./call-context.js";
export {
  ErrorCodes,
  RpcError,
  RemoteError,
  registerError,
  unregisterError,
  toWireError,
  fromWireError,
  isWireError,
} from "./errors.js";
export type { ErrorCode, RpcErrorOptions, WireError } from "./errors.js";
export { Kind, PROTOCOL_VERSION, validateEnvelope, encodeHello, decodeHello } from "./protocol.js";
export type { Envelope, CallMsg, ReplyMsg, ErrorMsg, NotifyMsg, CancelMsg, Hello, CallId } from "./protocol.js";
export { json, superjson, msgpack, registerSerializer, getSerializer, listSerializers } from "./serializers/index.js";
export { createJson, createSuperjson, createMsgpack, DEFAULT_DECODE_LIMITS } from "./serializers/index.js";
export type { Serializer, DecodeLimits } from "./serializers/index.js";
export { DEFAULT_LIMITS } from "./limits.js";
export type { Limits } from "./limits.js";
export type { Connection, ConnectionSink, Listener, Server, Transport, TransportOptions } from "./transport.js";
export * from "./auth/index.js";
export * from "./python/index.js";
