/**
 * The four ways the Python recipe puts `(name, args, kwargs)` on a
 * `multiprocessing.connection` Connection, told apart frame by frame, and
 * the reply in the same idiom:
 *
 * 1. `conn.send(json.dumps((name, args, kwargs)))`: a pickled str of JSON.
 * 2. `conn.send(pickle.dumps((name, args, kwargs)))`: a pickled bytes holding a pickle.
 * 3. `conn.send((name, args, kwargs))`: the tuple pickled directly.
 * 4. `conn.send_bytes(json.dumps(...).encode())`: raw JSON bytes.
 *
 * Errors go back as a pickled builtin exception in idioms 2 and 3, and as
 * `{"__error__": {"name", "message", "code"}}` in the JSON idioms.
 */
import { ErrorCodes, RpcError } from "../../src/errors.js";
import { toWireError } from "../../src/errors-to-wire.js";
import { utf8Decode, utf8Encode } from "../../src/serializers/utf8.js";
import { decodePickle, pickleProtocol } from "./pickle-decoder.js";
import { encodeLimitError, resolvePickleLimits, type PickleLimits } from "./pickle-limits.js";
import { encodePickle, PyTuple } from "./pickle-encoder.js";
import { pythonExceptionName, PythonError } from "./python-exceptions.js";
import { parsePythonJson, stringifyPythonJson } from "./python-json.js";

/** 1: pickled JSON str; 2: pickled bytes of a pickle; 3: pickled tuple; 4: raw JSON bytes. */
export type Idiom = 1 | 2 | 3 | 4;

/** Names accepted wherever an idiom is chosen (`?idiom=pickle`). */
export const IDIOM_NAMES: Readonly<Record<string, Idiom>> = Object.freeze({
  "json-str": 1,
  "pickle-bytes": 2,
  pickle: 3,
  "json-bytes": 4,
});

/** The idiom for an option value: 1-4, "1"-"4", or one of {@link IDIOM_NAMES}. */
export function parseIdiom(v: unknown): Idiom {
  if (v === 1 || v === 2 || v === 3 || v === 4) return v;
  if (typeof v === "string") {
    if (v === "1" || v === "2" || v === "3" || v === "4") return Number(v) as Idiom;
    if (Object.prototype.hasOwnProperty.call(IDIOM_NAMES, v)) return IDIOM_NAMES[v] as Idiom;
  }
  throw new RpcError("INVALID_URL", `unknown Python idiom ${JSON.stringify(v)} (use 1-4 or ${Object.keys(IDIOM_NAMES).join(", ")})`);
}

/** The key of the JSON idioms' error object. */
export const JSON_ERROR_KEY = "__error__";

/** A decoded recipe request. `python` is the peer's major version as its pickle protocol shows (3 when unknown). */
export interface RecipeRequest {
  readonly idiom: Idiom;
  readonly python: 2 | 3;
  readonly name: string;
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown> | undefined;
}

/**
 * A frame that is a recipe message but not a valid request: answered with an
 * error. When `fatal` (a pickle the decoder refused) the connection is closed
 * after that answer; otherwise it stays open.
 */
export interface RecipeBadRequest {
  readonly idiom: Idiom;
  readonly python: 2 | 3;
  readonly error: RpcError;
  readonly fatal?: boolean;
}

function refusal(err: unknown, idiom: Idiom, python: 2 | 3): RecipeBadRequest {
  const error = err instanceof RpcError ? err : new RpcError("PROTOCOL_ERROR", String(err));
  return { idiom, python, error, fatal: true };
}

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * True when `frame` looks like a recipe message rather than wirecall's: a
 * pickle with a PROTO opcode (every Python's `Connection.send` writes
 * protocol 2 or later), or JSON text of an array whose first element is a
 * string (a wirecall envelope starts with a number). Never throws.
 */
export function isRecipeFrame(frame: Uint8Array): boolean {
  if (frame.length >= 3 && frame[0] === 0x80) {
    const proto = frame[1] as number;
    return proto >= 2 && proto <= 5;
  }
  let i = 0;
  while (isWs(frame[i])) i++;
  if (frame[i] !== 0x5b) return false; // [
  i++;
  while (isWs(frame[i])) i++;
  return frame[i] === 0x22; // "
}

/** First non-whitespace byte or char is "[": JSON text, never a pickle (no opcode is "["). */
function startsLikeJson(v: string | Uint8Array): boolean {
  let i = 0;
  if (typeof v === "string") {
    while (isWs(v.charCodeAt(i))) i++;
    return v.charCodeAt(i) === 0x5b;
  }
  while (isWs(v[i])) i++;
  return v[i] === 0x5b;
}

const PY2_STR_OPS = new Set([0x53, 0x54, 0x55]); // STRING, BINSTRING, SHORT_BINSTRING

/**
 * The JSON text of idiom 1, or undefined. Python 3 sends it as a str; Python
 * 2's json.dumps returns a byte string, which pickles exactly like the
 * byte string of idiom 2's pickle.dumps, so the content decides.
 */
function outerText(outer: unknown, frame: Uint8Array): string | undefined {
  if (typeof outer === "string") {
    const py2Str = pickleProtocol(frame) <= 2 && PY2_STR_OPS.has(frame[2] as number);
    return !py2Str || startsLikeJson(outer) ? outer : undefined;
  }
  if (outer instanceof Uint8Array && startsLikeJson(outer)) {
    try {
      return utf8Decode(outer);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function decodeJsonText(text: string, limits: Partial<PickleLimits>): unknown {
  return parsePythonJson(text, limits);
}

/**
 * Decode one request frame. Returns a request, or a bad request to answer
 * with an error (marked `fatal` when a pickle was refused: the connection is
 * then closed). Throws `RpcError` `PROTOCOL_ERROR` when the frame is not a
 * recipe message at all.
 */
export function decodeRequest(frame: Uint8Array, limits?: Partial<PickleLimits>): RecipeRequest | RecipeBadRequest {
  limits = resolvePickleLimits(limits);
  let idiom: Idiom;
  let python: 2 | 3 = 3;
  let call: unknown;
  if (frame[0] === 0x80) {
    python = pickleProtocol(frame) <= 2 ? 2 : 3;
    let outer: unknown;
    try {
      outer = decodePickle(frame, limits);
    } catch (err) {
      // The idiom is unknown: a pickled exception is what idiom 3 expects and what the others can at least show.
      return refusal(err, 3, python);
    }
    const text = outerText(outer, frame);
    if (text !== undefined) {
      idiom = 1;
      try {
        call = decodeJsonText(text, limits);
      } catch (err) {
        return { idiom, python, error: err as RpcError };
      }
    } else if (outer instanceof Uint8Array || typeof outer === "string") {
      idiom = 2;
      // Python 2's pickle.dumps defaults to protocol 0: ASCII text, decoded above as a str.
      try {
        call = decodePickle(typeof outer === "string" ? utf8Encode(outer) : outer, limits);
      } catch (err) {
        return refusal(err, idiom, python);
      }
    } else {
      idiom = 3;
      call = outer;
    }
  } else if (isRecipeFrame(frame)) {
    idiom = 4;
    try {
      call = decodeJsonText(utf8Decode(frame), limits);
    } catch (err) {
      const e = err instanceof RpcError ? err : new RpcError("PROTOCOL_ERROR", "json: invalid UTF-8");
      return { idiom, python, error: e };
    }
  } else {
    throw new RpcError("PROTOCOL_ERROR", "not a Python recipe message (neither a pickle nor a JSON array)");
  }
  return shape(call, idiom, python);
}

function shape(call: unknown, idiom: Idiom, python: 2 | 3): RecipeRequest | RecipeBadRequest {
  const badShape = (what: string): RecipeBadRequest => ({
    idiom,
    python,
    error: new RpcError("PROTOCOL_ERROR", `a recipe request is (name, args, kwargs); ${what}`),
  });
  if (!Array.isArray(call) || call.length < 2 || call.length > 3) return badShape("got something else");
  const [name, args, kwargs] = call as [unknown, unknown, unknown];
  if (typeof name !== "string") return badShape("the name is not a str");
  if (!Array.isArray(args)) return badShape("args is not a tuple or list");
  if (kwargs !== undefined && kwargs !== null && !isPlainRecord(kwargs)) return badShape("kwargs is not a dict with str keys");
  const kw = kwargs === undefined || kwargs === null || Object.keys(kwargs).length === 0 ? undefined : kwargs;
  return { idiom, python, name, args, kwargs: kw };
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Encode a successful result in `idiom`, for a peer of Python major version
 * `python`. Past `limits.maxEncodedSize` or `maxEncodedValues` it throws
 * `PAYLOAD_TOO_LARGE` instead of building the frame.
 */
export function encodeReply(idiom: Idiom, python: 2 | 3, value: unknown, limits?: Partial<PickleLimits>): Uint8Array {
  const opts = { python, limits };
  switch (idiom) {
    case 1:
      return encodePickle(stringifyPythonJson(value, undefined, limits), opts);
    case 2:
      return encodePickle(encodePickle(value, opts), opts);
    case 3:
      return encodePickle(value, opts);
    case 4:
      return checkedUtf8(stringifyPythonJson(value, undefined, limits), limits);
  }
}

/** UTF-8 of JSON text, within maxEncodedSize bytes (the text was checked in characters: up to 3 bytes each). */
function checkedUtf8(text: string, limits: Partial<PickleLimits> | undefined): Uint8Array {
  const b = utf8Encode(text);
  const max = resolvePickleLimits(limits).maxEncodedSize;
  if (b.length > max) throw encodeLimitError(`json: ${b.length} bytes`, "maxEncodedSize", max);
  return b;
}

/** The JSON idioms' error object: `{"__error__": {"name": <Python class>, "message", "code"}}`. */
export function jsonErrorObject(err: unknown, python: 2 | 3): Record<string, unknown> {
  const e = err as { message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : String(err);
  const code = typeof e?.code === "string" && e.code ? e.code : ErrorCodes.REMOTE_ERROR;
  return { [JSON_ERROR_KEY]: { name: pythonExceptionName(err, python), message, code } };
}

/** Longest error message sent back; a longer one (a handler's own) is cut, saying so. */
const MAX_ERROR_MESSAGE = 64 * 1024;

/** Encode an error in `idiom`: a builtin exception (pickled idioms) or the JSON error object. Never throws. */
export function encodeErrorReply(idiom: Idiom, python: 2 | 3, err: unknown): Uint8Array {
  // Through the wire form, which never throws, so hostile getters cannot break the reply.
  const w = toWireError(err);
  const message = w.message.length > MAX_ERROR_MESSAGE ? `${w.message.slice(0, MAX_ERROR_MESSAGE)}... (${w.message.length} characters, cut)` : w.message;
  const code = w.code.length > 256 ? w.code.slice(0, 256) : w.code;
  const e = Object.assign(new Error(message), { code });
  Object.defineProperty(e, "name", { value: w.name, configurable: true, writable: true });
  if (idiom === 1 || idiom === 4) return encodeReply(idiom, python, jsonErrorObject(e, python));
  return encodeReply(idiom, python, e);
}

/**
 * Encode a request as a Python recipe client would send it. Pickles are
 * protocol 2 (read by Python 2.7 and 3): `(name, args, kwargs)` as a tuple
 * with args a tuple, as the recipe's `do_rpc(*args, **kwargs)` builds it.
 */
export function encodeRequest(
  idiom: Idiom,
  name: string,
  args: readonly unknown[],
  kwargs: Record<string, unknown> | undefined,
  limits?: Partial<PickleLimits>,
): Uint8Array {
  const kw = kwargs ?? {};
  const opts = { python: 2, limits } as const;
  switch (idiom) {
    case 1:
      return encodePickle(stringifyPythonJson([name, args, kw], undefined, limits), opts);
    case 2:
      return encodePickle(encodePickle(new PyTuple([name, new PyTuple(args), kw]), opts), opts);
    case 3:
      return encodePickle(new PyTuple([name, new PyTuple(args), kw]), opts);
    case 4:
      return checkedUtf8(stringifyPythonJson([name, args, kw], undefined, limits), limits);
  }
}

/** A reply read by a recipe client: the value, or the remote error to reject with. */
export type RecipeReply = { ok: true; value: unknown } | { ok: false; error: Error };

/**
 * Decode the reply to a request sent in `idiom`. A Python exception (pickled
 * idioms) or a `{"__error__": {...}}` object (JSON idioms) becomes an error.
 * Throws `RpcError` `PROTOCOL_ERROR` when the frame does not decode.
 */
export function decodeReply(idiom: Idiom, frame: Uint8Array, limits?: Partial<PickleLimits>): RecipeReply {
  limits = resolvePickleLimits(limits);
  let value: unknown;
  switch (idiom) {
    case 1: {
      const text = decodePickle(frame, limits);
      if (typeof text !== "string") throw new RpcError("PROTOCOL_ERROR", "expected a pickled JSON str as the reply");
      value = decodeJsonText(text, limits);
      break;
    }
    case 2: {
      let inner = decodePickle(frame, limits);
      // Python 2's pickle.dumps (protocol 0) is ASCII, which decodes as a str.
      if (typeof inner === "string") inner = utf8Encode(inner);
      if (!(inner instanceof Uint8Array)) {
        // A server that replies with conn.send(exc) instead of conn.send(pickle.dumps(exc)).
        if (inner instanceof PythonError) return { ok: false, error: inner };
        throw new RpcError("PROTOCOL_ERROR", "expected a pickled bytes as the reply");
      }
      value = decodePickle(inner, limits);
      break;
    }
    case 3:
      value = decodePickle(frame, limits);
      break;
    case 4: {
      let text: string;
      try {
        text = utf8Decode(frame);
      } catch {
        throw new RpcError("PROTOCOL_ERROR", "json: invalid UTF-8");
      }
      value = decodeJsonText(text, limits);
      break;
    }
  }
  if (value instanceof PythonError) return { ok: false, error: value };
  if ((idiom === 1 || idiom === 4) && isJsonError(value)) {
    const w = value[JSON_ERROR_KEY] as Record<string, unknown>;
    const name = typeof w.name === "string" && w.name ? w.name : "Exception";
    const message = typeof w.message === "string" ? w.message : "";
    const attrs: Record<string, unknown> = typeof w.code === "string" && w.code ? { code: w.code } : {};
    return { ok: false, error: new PythonError(name, [message], attrs) };
  }
  return { ok: true, value };
}

function isJsonError(v: unknown): v is Record<string, unknown> {
  if (!isPlainRecord(v)) return false;
  const keys = Object.keys(v);
  const w = v[JSON_ERROR_KEY];
  return keys.length === 1 && keys[0] === JSON_ERROR_KEY && typeof w === "object" && w !== null && !Array.isArray(w);
}
