/**
 * Pyro4's wire protocol (Pyro4 4.x, protocol version 48): the message
 * codec, and the serpent, marshal and json serializers, data only, with
 * limits. See docs/pyro4.md. Node only (HMAC-SHA1 and zlib from node:*).
 */
export { DEFAULT_PYRO4_LIMITS, pyro4Limits } from "./limits.js";
export type { Pyro4Limits } from "./limits.js";
export {
  Flags,
  HEADER_SIZE,
  MsgType,
  PROTOCOL_VERSION,
  SerializerId,
  decodeHeader,
  digestsEqual,
  encodeMessage,
  messageHmac,
  verifyHmac,
} from "./message.js";
export type { EncodeOptions, HmacKey, MessageInit, PyroHeader, PyroMessage } from "./message.js";
export { MessageDecoder, Pyro4MessageError } from "./message-decoder.js";
export type { MessageDecoderOptions } from "./message-decoder.js";
export { COMPRESS_MIN_SIZE, decompress, maybeCompress } from "./compression.js";
export { PyComplex, PyTuple, Pyro4ExceptionWrapper, Pyro4RemoteError } from "./python-values.js";
export { DEFAULT_NS_PORT, PyroURI, uriFromState, uriState } from "./uri.js";
export type { PyroProtocol } from "./uri.js";
export { classDictFor, defaultClassHook, exceptionDict, serpentBytes } from "./class-dicts.js";
export type { ClassHook } from "./class-dicts.js";
export { decodeSerpent, parseSerpent } from "./serpent-decode.js";
export type { SerpentDecodeOptions } from "./serpent-decode.js";
export { SERPENT_HEADER, encodeSerpent, serpentText } from "./serpent-encode.js";
export type { SerpentEncodeOptions } from "./serpent-encode.js";
export { decodeMarshal } from "./marshal-decode.js";
export type { MarshalDecodeOptions } from "./marshal-decode.js";
export { encodeMarshal } from "./marshal-encode.js";
export { PYRO4_SERIALIZERS, jsonSerializer, marshalSerializer, serializerById, serpentSerializer } from "./serializers.js";
export type { Pyro4DecodeOptions, Pyro4Serializer, PyroCall } from "./serializers.js";

// The daemon and the client (`serve(handler, "pyro://host:port")`, `connect("PYRO:obj@host:port")`).
export { pyro4FrontEnd } from "./front-end.js";
export { Pyro4Daemon } from "./daemon.js";
export type { Pyro4ServeOptions } from "./daemon.js";
export { Pyro4Client } from "./client.js";
export type { Pyro4ConnectOptions } from "./client.js";
export { DAEMON_NAME, DEFAULT_FUNCTIONS_ID } from "./daemon-objects.js";
export type { PyroMetadata } from "./daemon-objects.js";

import { pyro4FrontEnd } from "./front-end.js";
/** The front-end this module provides, found by `connect`/`serve` for `pyro:` URLs (`PYRO:obj@host:port`, `pyro://host:port`). */
export const transport = pyro4FrontEnd;
export { DEFAULT_BROADCAST_PORT, startBroadcastResponder } from "./broadcast.js";
export type { BroadcastOptions, BroadcastResponder } from "./broadcast.js";
export { NAMESERVER_ID } from "./daemon-objects.js";
