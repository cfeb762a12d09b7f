/**
 * The XML-RPC codec: value mapping, message encode/decode, faults and the
 * transport-free request handler. Browser-safe (no node:* imports). The HTTP
 * server and client live in transports/xmlrpc (`wirecall/xmlrpc`).
 */
export { FaultCodes, codecError } from "./codec-error.js";
export { encodeBase64, decodeBase64 } from "./base64.js";
export { formatDateTime, parseDateTime } from "./iso8601.js";
export { encodeValue } from "./value-encode.js";
export type { EncodeOptions } from "./value-encode.js";
export { decodeValue } from "./value-decode.js";
export type { ValueLimits } from "./value-decode.js";
export { XMLRPC_LIMITS } from "./limits.js";
export type { XmlRpcLimits, XmlRpcServerLimits } from "./limits.js";
export { parseXml } from "./xml-parse.js";
export type { XmlElement, XmlNode } from "./xml-parse.js";
export { decodeXmlBytes } from "./text-encoding.js";
export { encodeMethodCall, decodeMethodCall, encodeMethodResponse, decodeMethodResponse, encodeFault } from "./message.js";
export type { DecodeOptions, Fault, MethodCall, MethodResponse } from "./message.js";
export { FAULT_CODE_OF, codeOfFault, errorToFault, faultToError, parseFaultString } from "./faults.js";
export { handleXmlRpcRequest } from "./dispatch.js";
export type { XmlRpcDispatchOptions } from "./dispatch.js";
export { multicall } from "./multicall.js";
export type { BatchedCall, CallerLike } from "./multicall.js";
export { xmlrpc as xmlrpcSerializer } from "./serializer.js";
