/**
 * The envelope: what one frame carries once decoded by the serializer.
 * See docs/protocol.md for the normative description.
 *
 *   [0, id, name, args, kwargs?]   call
 *   [1, id, result]                reply
 *   [2, id, error]                 error (id null: a connection-level error)
 *   [3, name, args, kwargs?]       one-way call, never answered
 *   [4, id]                        cancel a call in flight
 */
import { isWireError, rpcError, type WireError } from "./errors.js";
import { utf8Decode, utf8Encode } from "./serializers/utf8.js";

/** Protocol version spoken by this implementation. */
export const PROTOCOL_VERSION = 1;

/** Envelope kinds: the first element of every envelope array. */
export const Kind = { Call: 0, Reply: 1, Error: 2, Notify: 3, Cancel: 4 } as const;

/** Call ids are unsigned integers chosen by the caller, unique among its calls in flight. */
export type CallId = number;
export type Kwargs = Record<string, unknown>;

export type CallMsg = readonly [typeof Kind.Call, CallId, string, unknown[], Kwargs?];
export type ReplyMsg = readonly [typeof Kind.Reply, CallId, unknown];
export type ErrorMsg = readonly [typeof Kind.Error, CallId | null, WireError];
export type NotifyMsg = readonly [typeof Kind.Notify, string, unknown[], Kwargs?];
export type CancelMsg = readonly [typeof Kind.Cancel, CallId];
export type Envelope = CallMsg | ReplyMsg | ErrorMsg | NotifyMsg | CancelMsg;

function isId(v: unknown): v is CallId {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function isKwargs(v: unknown): v is Kwargs | undefined | null {
  return v === undefined || v === null || (typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array));
}

/**
 * Validate a decoded frame. Returns the envelope, or throws an `RpcError`
 * with code `PROTOCOL_ERROR`. The only place that trusts the wire's shape.
 */
export function validateEnvelope(v: unknown): Envelope {
  if (!Array.isArray(v) || v.length < 2) throw rpcError("PROTOCOL_ERROR", "frame is not an envelope array");
  const kind = v[0] as unknown;
  switch (kind) {
    case Kind.Call:
      if (v.length >= 4 && v.length <= 5 && isId(v[1]) && typeof v[2] === "string" && Array.isArray(v[3]) && isKwargs(v[4])) {
        return v as unknown as CallMsg;
      }
      break;
    case Kind.Reply:
      if (v.length === 3 && isId(v[1])) return v as unknown as ReplyMsg;
      break;
    case Kind.Error:
      if (v.length === 3 && (isId(v[1]) || v[1] === null) && isWireError(v[2])) return v as unknown as ErrorMsg;
      break;
    case Kind.Notify:
      if (v.length >= 3 && v.length <= 4 && typeof v[1] === "string" && Array.isArray(v[2]) && isKwargs(v[3])) {
        return v as unknown as NotifyMsg;
      }
      break;
    case Kind.Cancel:
      if (v.length === 2 && isId(v[1])) return v as unknown as CancelMsg;
      break;
    default:
      throw rpcError("PROTOCOL_ERROR", `unknown envelope kind ${typeof kind === "number" ? kind : `of type ${typeof kind}`}`);
  }
  throw rpcError("PROTOCOL_ERROR", `malformed envelope of kind ${String(kind)}`);
}

/** Best-effort id of an invalid frame, so its caller can still get an error reply. */
export function salvageId(v: unknown): CallId | null {
  return Array.isArray(v) && v[0] === Kind.Call && isId(v[1]) ? v[1] : null;
}

/**
 * The hello, always JSON text regardless of the serializer it negotiates.
 * Client -> server: {"wirecall": 1, "serializer": "msgpack"}
 * Server -> client: {"wirecall": 1, "serializer": "msgpack"} or
 *                   {"wirecall": 1, "error": {name, message, code}} then close.
 */
export interface Hello {
  wirecall: number;
  serializer?: string;
  error?: WireError;
  /** 1: this side carries streams and references (docs/protocol.md, "Streams and references"). */
  refs?: number;
}

export function encodeHello(h: Hello): Uint8Array {
  return utf8Encode(JSON.stringify(h));
}

// Cheap pre-check so that non-hello first frames (a peer that skipped the
// hello, or another protocol) are not fully parsed twice.
const HELLO_PREFIX = utf8Encode('{"wirecall"');

/** Decode a hello, or return undefined when the frame is not one. */
export function decodeHello(frame: Uint8Array): Hello | undefined {
  if (frame.length > 4096 || frame.length < HELLO_PREFIX.length) return undefined;
  for (let i = 0; i < HELLO_PREFIX.length; i++) if (frame[i] !== HELLO_PREFIX[i]) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(utf8Decode(frame));
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || typeof (v as Hello).wirecall !== "number") return undefined;
  const h = v as Hello;
  if (h.serializer !== undefined && typeof h.serializer !== "string") return undefined;
  if (h.error !== undefined && !isWireError(h.error)) return undefined;
  return h;
}
