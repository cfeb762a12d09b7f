/**
 * `wirecall/transport`: what a transport or front-end author needs, apart
 * from the main entry (which holds what applications call). See
 * docs/transport-authors.md.
 *
 * - Framed transports implement {@link Transport} (connect/listen of
 *   {@link Connection}s), usually by extending {@link ConnectionBase}; the
 *   core runs one peer session on each connection end.
 * - Request/response front-ends (XML-RPC over HTTP) implement
 *   {@link FrontEnd}: they serve an `RPCHandler` their own way and give the
 *   client a {@link Caller} built on {@link startCall}.
 * - Both are found by URL scheme once passed to {@link registerTransport}.
 */
// The seam.
export type { Connection, ConnectionSink, Listener, Server, Transport, TransportOptions } from "./transport.js";
export { ConnectionBase } from "./connection-base.js";
export type { ConnectionBaseOptions } from "./connection-base.js";
export { isFrontEnd } from "./front-end.js";
export type { FrontEnd } from "./front-end.js";
export { registerFrameProtocol, frameProtocolsOf } from "./frame-protocol.js";
export type { FrameProtocol, SessionLike } from "./frame-protocol.js";
export { registerCallerProfile } from "./caller-profile.js";
export { CONNECT_OPTIONS } from "./options.js";
export { checkOption, nearestName, resolveOptions } from "./option-errors.js";
export { SERVE_OPTIONS } from "./serve-options.js";
export type { OptionSpec, OptionSpecs, OptionType } from "./options.js";
export type { CallerProfile } from "./caller-profile.js";
export { registerTransport, getTransport, parseEndpoint } from "./transport-registry.js";
export type { AnyTransport } from "./transport-registry.js";

// Authentication: the mutual HMAC challenge of multiprocessing.connection, as src/auth/index.ts lists it.
export * from "./auth/index.js";

// Callers and serving, for front-ends.
export { withCallerStack, OutgoingCall } from "./caller.js";
export { startCall } from "./start-call.js";
export type { CallerDefaults } from "./caller.js";
export type { Caller, CallOptions } from "./call-types.js";
export { createFacade } from "./facade.js";
export { objectUrl } from "./objects.js";
export { ServerCall } from "./call-context.js";
export type { PeerInfo } from "./call-context.js";
export { PeerSession } from "./session.js";
export { FrameServer } from "./serve-frames.js";
export type { SessionOptions } from "./session.js";
export { RPCProxy } from "./proxy.js";
export type { Dialer } from "./proxy.js";
export { readParams, bindArguments } from "./params.js";
export type { Param, ParamSpec } from "./params.js";

// The envelope and the error form (docs/protocol.md).
export { Kind, PROTOCOL_VERSION, validateEnvelope, encodeHello, decodeHello } from "./protocol.js";
export type { Envelope, CallMsg, ReplyMsg, ErrorMsg, NotifyMsg, CancelMsg, Hello, CallId } from "./protocol.js";
export { isWireError } from "./errors.js";
export { fromWireError } from "./errors-from-wire.js";
export { toWireError } from "./errors-to-wire.js";
export type { WireError } from "./errors.js";

// What transports share with applications, so one import does.
export { RpcError, ErrorCodes } from "./errors.js";
export { DEFAULT_LIMITS } from "./limits.js";
export type { Limits } from "./limits.js";
export { json } from "./serializers/index.js";
export type { RPCHandler } from "./handler.js";
