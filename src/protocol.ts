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
import { isCallId } from "./call-id.js";
import { isWireError, rpcError, type WireError } from "./errors.js";
import { utf8Decode, utf8Encode } from "./serializers/utf8.js";

/** Protocol version spoken by this implementation. */
export const PROTOCOL_VERSION = 1;

/** Envelope kinds: the first element of every envelope array. */
export const Kind = { Call: 0, Reply: 1, Error: 2, Notify: 3, Cancel: 4 } as const;

/** Call ids are integers from 0 to 2^53-1 chosen by the caller, unique among its calls in flight. */
export type CallId = number;
export type Kwargs = Record<string, unknown>;

export type CallMsg = readonly [typeof Kind.Call, CallId, string, unknown[], Kwargs?];
export type ReplyMsg = readonly [typeof Kind.Reply, CallId, unknown];
export type ErrorMsg = readonly [typeof Kind.Error, CallId | null, WireError];
export type NotifyMsg = readonly [typeof Kind.Notify, string, unknown[], Kwargs?];
export type CancelMsg = readonly [typeof Kind.Cancel, CallId];
export type Envelope = CallMsg | ReplyMsg | ErrorMsg | NotifyMsg | CancelMsg;

const isId: (v: unknown) => v is CallId = isCallId;

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
  /** 1: this side reads and sends call headers: metadata, deadlines, idempotency keys (docs/protocol.md, "Call headers"). */
  meta?: number;
}

export function encodeHello(h: Hello): Uint8Array {
  return utf8Encode(JSON.stringify(h));
}

/** Hellos are small; a larger first frame is never parsed as one. */
export const MAX_HELLO_BYTES = 4096;

/** Index of the first byte that is not JSON whitespace. */
function skipSpace(frame: Uint8Array): number {
  let i = 0;
  while (i < frame.length && (frame[i] === 0x20 || frame[i] === 0x0a || frame[i] === 0x0d || frame[i] === 0x09)) i++;
  return i;
}

const KEY = utf8Encode('"wirecall"');

/** True when the bytes `"wirecall"` occur in `frame`. */
function mentionsWirecall(frame: Uint8Array, from: number): boolean {
  const first = KEY[0] as number;
  const last = frame.length - KEY.length;
  outer: for (let i = frame.indexOf(first, from); i >= 0 && i <= last; i = frame.indexOf(first, i + 1)) {
    for (let j = 1; j < KEY.length; j++) if (frame[i + j] !== KEY[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * The frame parsed as a JSON object naming "wirecall", when it is one. The
 * zmq transport asks this of every frame: a JSON object frame (superjson)
 * without the key costs a byte search, not a parse.
 */
function jsonObject(frame: Uint8Array, anyKeys = false): Record<string, unknown> | undefined {
  if (frame.length > MAX_HELLO_BYTES) return undefined;
  const start = skipSpace(frame);
  if (frame[start] !== 0x7b || !(anyKeys || mentionsWirecall(frame, start))) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(utf8Decode(frame));
  } catch {
    return undefined;
  }
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** What is wrong with `o` as a hello, or undefined when it is one. */
function helloProblem(o: Record<string, unknown>): string | undefined {
  if (!Object.hasOwn(o, "wirecall")) return `"wirecall" is not one of its keys`;
  if (typeof o.wirecall !== "number") return `its "wirecall" is ${JSON.stringify(o.wirecall)}, not the protocol version number`;
  if (o.serializer !== undefined && typeof o.serializer !== "string") return `its "serializer" is not a string`;
  if (o.error !== undefined && !isWireError(o.error)) return `its "error" is not an error object {name, message, code}`;
  return undefined;
}

/**
 * Decode a hello, or return undefined when the frame is not one. Any JSON
 * object with a numeric `wirecall` is a hello, whatever its key order or
 * whitespace (docs/protocol.md, "The hello").
 */
export function decodeHello(frame: Uint8Array): Hello | undefined {
  const o = jsonObject(frame);
  return o && helloProblem(o) === undefined ? (o as unknown as Hello) : undefined;
}

/**
 * For a first frame that is a JSON object but not a valid hello (a typo in
 * a key, the version as a string...; without a hello the first frame must
 * be an envelope array, so no JSON object is valid there): what is wrong, so the peer hears it
 * instead of being served JSON it did not ask for. Undefined otherwise.
 */
export function helloMistake(frame: Uint8Array): string | undefined {
  const o = jsonObject(frame, true);
  const problem = o && helloProblem(o);
  return problem && `the first frame is a JSON object but not a hello (${problem}); a hello is {"wirecall": ${PROTOCOL_VERSION}, "serializer": "json" | "msgpack" | ...}`;
}
