/**
 * Pyro4's wire message (protocol version 48, Pyro4 4.x): a 24-byte header,
 * annotation chunks, then the serialized body. See docs/pyro4.md.
 *
 * Header, all big-endian:
 *
 *     0  4  "PYRO"
 *     4  2  protocol version (48)
 *     6  2  message type (MsgType)
 *     8  2  flags (Flags)
 *    10  2  sequence number
 *    12  4  data length (signed; 0..2^31-1)
 *    16  2  serializer id (SerializerId)
 *    18  2  total length of the annotation chunks
 *    20  2  reserved (0)
 *    22  2  checksum: (type + version + data length + annotations length
 *           + serializer id + flags + seq + 0x34E9) & 0xFFFF
 *
 * Each annotation chunk: 4 ASCII bytes of key, 2 bytes of length, the value.
 *
 * With an HMAC key, Pyro4 adds the annotation "HMAC": HMAC-SHA1 with the key
 * over the data, then over every other annotation value in key order. A
 * message with an HMAC annotation on a side without a key, or without one on
 * a side with a key, is refused, as Pyro4 refuses it.
 *
 * This file uses node:crypto (HMAC-SHA1): protocols/ is never part of the
 * browser bundle.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { ErrorCodes, RpcError } from "../../src/errors.js";

/** The only protocol version Pyro4 4.x speaks (`Pyro4.constants.PROTOCOL_VERSION`). */
export const PROTOCOL_VERSION = 48;
/** Bytes in the fixed header. */
export const HEADER_SIZE = 24;
const MAGIC = [0x50, 0x59, 0x52, 0x4f] as const; // "PYRO"
const CHECKSUM_MAGIC = 0x34e9;
/** Pyro4 keeps the data length in a signed 32-bit field. */
const MAX_DATA_SIZE = 0x7fffffff;

/** Message types. */
export const MsgType = {
  /** Client -> daemon: the handshake, `{"handshake": ..., "object": id}`. */
  CONNECT: 1,
  /** Daemon -> client: handshake accepted (with metadata when META_ON_CONNECT was asked). */
  CONNECTOK: 2,
  /** Daemon -> client: handshake refused; the body is the reason (a str). */
  CONNECTFAIL: 3,
  /** Client -> daemon: a call `(object id, method, args, kwargs)`. */
  INVOKE: 4,
  /** Daemon -> client: the call's result, or its exception with Flags.EXCEPTION. */
  RESULT: 5,
  /** Either way: a ping, answered by a ping with the same sequence number. */
  PING: 6,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

/** Message flags (a bit set). */
export const Flags = {
  /** RESULT: the body is an exception, to be raised on the caller. */
  EXCEPTION: 1 << 0,
  /** The body is zlib-compressed. */
  COMPRESSED: 1 << 1,
  /** INVOKE: no RESULT is sent back. */
  ONEWAY: 1 << 2,
  /** INVOKE/RESULT: a batch of calls; the args are `[(method, args, kwargs), ...]`, the result a list. */
  BATCH: 1 << 3,
  /** CONNECT/CONNECTOK: the daemon answers with the object's metadata in the handshake reply. */
  META_ON_CONNECT: 1 << 4,
  /** RESULT: the call returned an iterator; annotation STRM holds the stream id. */
  ITEMSTREAMRESULT: 1 << 5,
  /** INVOKE: the client passed a serialized blob that the daemon must not deserialize. */
  KEEPSERIALIZED: 1 << 6,
} as const;

/** Serializer ids as Pyro4 numbers them ("never change this" in Pyro4's source). */
export const SerializerId = {
  serpent: 1,
  json: 2,
  marshal: 3,
  pickle: 4,
  dill: 5,
  msgpack: 6,
  cloudpickle: 7,
} as const;

/** One Pyro4 message. Annotation keys are 4 ASCII characters. */
export interface PyroMessage {
  type: number;
  flags: number;
  /** 0..65535; a RESULT carries its INVOKE's number. */
  seq: number;
  serializerId: number;
  /** Annotation chunks in wire order, without "HMAC" (that one is checked and removed by the decoder, and added by the encoder). */
  annotations: Map<string, Uint8Array>;
  /** The serialized body, still compressed when `flags & Flags.COMPRESSED`. */
  data: Uint8Array;
}

/** The fields of a header, as {@link decodeHeader} reads them. */
export interface PyroHeader {
  type: number;
  flags: number;
  seq: number;
  dataSize: number;
  serializerId: number;
  annotationsSize: number;
}

/** A key given as text is used as its UTF-8 bytes, as Python's Pyro4 does with a str `_pyroHmacKey`. */
export type HmacKey = string | Uint8Array;

function keyBytes(key: HmacKey | undefined): Uint8Array | undefined {
  if (key === undefined) return undefined;
  const k = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  // Pyro4 treats an empty key as "no key" (`if self.hmac_key:`).
  return k.length > 0 ? k : undefined;
}

function protocolError(message: string): RpcError {
  return new RpcError(ErrorCodes.PROTOCOL_ERROR, `Pyro4: ${message}`);
}

function checksum(h: PyroHeader): number {
  return (h.type + PROTOCOL_VERSION + h.dataSize + h.annotationsSize + h.serializerId + h.flags + h.seq + CHECKSUM_MAGIC) & 0xffff;
}

/**
 * Read and check the 24-byte header at `offset`: magic, version, checksum,
 * a known message type and a non-negative data length. The caller checks
 * the sizes against its limits before buffering the body.
 */
export function decodeHeader(bytes: Uint8Array, offset = 0): PyroHeader {
  if (bytes.length - offset < HEADER_SIZE) throw protocolError(`a header is ${HEADER_SIZE} bytes, got ${bytes.length - offset}`);
  for (let i = 0; i < 4; i++) {
    if (bytes[offset + i] !== MAGIC[i]) throw protocolError("not a Pyro4 message (no 'PYRO' magic); is the peer speaking Pyro4?");
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER_SIZE);
  const version = v.getUint16(4);
  if (version !== PROTOCOL_VERSION) {
    throw protocolError(`protocol version ${version} is not supported (Pyro4 4.x speaks ${PROTOCOL_VERSION}; Pyro5 is a different protocol)`);
  }
  const h: PyroHeader = {
    type: v.getUint16(6),
    flags: v.getUint16(8),
    seq: v.getUint16(10),
    dataSize: v.getInt32(12),
    serializerId: v.getUint16(16),
    annotationsSize: v.getUint16(18),
  };
  if (v.getUint16(22) !== checksum(h)) throw protocolError("header checksum mismatch");
  if (h.dataSize < 0) throw protocolError(`negative data length ${h.dataSize}`);
  if (h.type < MsgType.CONNECT || h.type > MsgType.PING) throw protocolError(`unknown message type ${h.type}`);
  return h;
}

/**
 * The HMAC Pyro4 puts in the "HMAC" annotation: HMAC-SHA1 over the data,
 * then every annotation value except "HMAC" itself, in key order.
 */
export function messageHmac(key: HmacKey, data: Uint8Array, annotations: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const k = keyBytes(key);
  if (!k) throw new TypeError("an HMAC key must not be empty");
  const mac = createHmac("sha1", k).update(data);
  // Python sorts the str keys by code point; for 4 ASCII characters that is the default JS sort.
  const keys = [...annotations.keys()].filter((n) => n !== "HMAC").sort();
  for (const n of keys) mac.update(annotations.get(n) as Uint8Array);
  return mac.digest();
}

/** Constant-time comparison of two digests (different lengths compare unequal). */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What {@link encodeMessage} needs; `annotations` may be omitted. */
export interface MessageInit {
  type: number;
  flags?: number;
  seq: number;
  serializerId: number;
  annotations?: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>;
  data: Uint8Array;
}

export interface EncodeOptions {
  /** Adds the "HMAC" annotation (Python's `_pyroHmacKey`). */
  hmacKey?: HmacKey;
  /** Refuse to build a body (annotations + data) larger than this, as Pyro4 does with MAX_MESSAGE_SIZE. */
  maxMessageSize?: number;
}

function annotationEntries(a: MessageInit["annotations"]): [string, Uint8Array][] {
  if (!a) return [];
  return a instanceof Map ? [...(a as ReadonlyMap<string, Uint8Array>)] : Object.entries(a as Record<string, Uint8Array>);
}

/** A checked annotation key as its 4 ASCII bytes. */
function keyCodes(key: string): number[] {
  if (key.length !== 4 || !/^[\x20-\x7e]{4}$/.test(key)) {
    throw new RpcError(ErrorCodes.SERIALIZE_ERROR, `Pyro4: an annotation key must be 4 printable ASCII characters, got ${JSON.stringify(key)}`);
  }
  return [key.charCodeAt(0), key.charCodeAt(1), key.charCodeAt(2), key.charCodeAt(3)];
}

/**
 * Encode one message: header, annotations (plus "HMAC" when a key is given),
 * data, in one buffer to be written with one `socket.write` (Pyro4 sends in
 * one go too: split writes meet Nagle's algorithm).
 */
export function encodeMessage(msg: MessageInit, options: EncodeOptions = {}): Uint8Array {
  const entries = annotationEntries(msg.annotations).filter(([k]) => k !== "HMAC");
  const key = keyBytes(options.hmacKey);
  if (key) entries.push(["HMAC", messageHmac(key, msg.data, new Map(entries))]);
  let annotationsSize = 0;
  for (const [k, v] of entries) {
    keyCodes(k);
    if (v.length > 0xffff) throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `Pyro4: annotation ${k} is ${v.length} bytes; at most 65535 fit`);
    annotationsSize += 6 + v.length;
  }
  if (annotationsSize > 0xffff) throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `Pyro4: annotations total ${annotationsSize} bytes; at most 65535 fit`);
  const dataSize = msg.data.length;
  if (dataSize > MAX_DATA_SIZE) throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `Pyro4: a body of ${dataSize} bytes does not fit the 2 GB length field`);
  if (options.maxMessageSize !== undefined && dataSize + annotationsSize > options.maxMessageSize) {
    throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `Pyro4: message of ${dataSize + annotationsSize} bytes exceeds the limit of ${options.maxMessageSize}`);
  }
  const h: PyroHeader = {
    type: msg.type,
    flags: msg.flags ?? 0,
    seq: msg.seq,
    dataSize,
    serializerId: msg.serializerId,
    annotationsSize,
  };
  for (const f of ["type", "flags", "seq", "serializerId"] as const) {
    if (!Number.isInteger(h[f]) || h[f] < 0 || h[f] > 0xffff) throw new RpcError(ErrorCodes.SERIALIZE_ERROR, `Pyro4: ${f} must be 0..65535, got ${h[f]}`);
  }
  const out = new Uint8Array(HEADER_SIZE + annotationsSize + dataSize);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint16(4, PROTOCOL_VERSION);
  v.setUint16(6, h.type);
  v.setUint16(8, h.flags);
  v.setUint16(10, h.seq);
  v.setInt32(12, dataSize);
  v.setUint16(16, h.serializerId);
  v.setUint16(18, annotationsSize);
  v.setUint16(20, 0);
  v.setUint16(22, checksum(h));
  let at = HEADER_SIZE;
  for (const [k, val] of entries) {
    out.set(keyCodes(k), at);
    v.setUint16(at + 4, val.length);
    out.set(val, at + 6);
    at += 6 + val.length;
  }
  out.set(msg.data, at);
  return out;
}

/**
 * Check a received message's "HMAC" annotation as Pyro4 does: with a key, it
 * must be present and match (constant-time); without a key, it must be
 * absent. Throws `AUTH_FAILED`.
 */
export function verifyHmac(key: HmacKey | undefined, data: Uint8Array, annotations: ReadonlyMap<string, Uint8Array>): void {
  const k = keyBytes(key);
  const got = annotations.get("HMAC");
  if (k && got) {
    if (!digestsEqual(got, messageHmac(k, data, annotations))) throw new RpcError(ErrorCodes.AUTH_FAILED, "Pyro4: message HMAC mismatch (wrong HMAC key?)");
  } else if (k) {
    throw new RpcError(ErrorCodes.AUTH_FAILED, "Pyro4: message carries no HMAC but an HMAC key is set (the peer has no key; set _pyroHmacKey on the Python side)");
  } else if (got) {
    throw new RpcError(ErrorCodes.AUTH_FAILED, "Pyro4: message carries an HMAC but no HMAC key is set here (pass the peer's key as authkey)");
  }
}
