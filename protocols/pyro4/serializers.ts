/**
 * Pyro4's serializers as a daemon front-end or a client needs them: by the
 * id in the message header, with the call layout each one uses for INVOKE
 * bodies. Serpent is Pyro4's default; json is plain JSON with Pyro4's call
 * dict; marshal is Python's marshal format.
 */
import { ErrorCodes, RpcError } from "../../src/errors.js";
import { classDictFor, defaultClassHook, type ClassHook } from "./class-dicts.js";
import { pyro4Limits, type Pyro4Limits } from "./limits.js";
import { decodeMarshal } from "./marshal-decode.js";
import { encodeMarshal } from "./marshal-encode.js";
import { SerializerId } from "./message.js";
import { PyTuple } from "./python-values.js";
import { decodeSerpent } from "./serpent-decode.js";
import { encodeSerpent, type SerpentEncodeOptions } from "./serpent-encode.js";

/**
 * An INVOKE body: which object, which method, positional and keyword
 * arguments. For a batch (Flags.BATCH) the method is "<batch>" and `args`
 * is the list of `[method, args, kwargs]` calls.
 */
export interface PyroCall {
  objectId: string;
  method: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

export interface Pyro4DecodeOptions {
  limits?: Partial<Pyro4Limits>;
  /** What to make of dicts tagged with "__class__" (default: NaN and exceptions understood, the rest kept as dicts). */
  classHook?: ClassHook;
}

/** One Pyro4 serializer. `loads` refuses with `PROTOCOL_ERROR`/`PAYLOAD_TOO_LARGE`, `dumps` with `SERIALIZE_ERROR`. */
export interface Pyro4Serializer {
  /** The id in the message header. */
  readonly id: number;
  /** Pyro4's name for it (`Pyro4.config.SERIALIZER`). */
  readonly name: string;
  dumps(value: unknown): Uint8Array;
  loads(data: Uint8Array, options?: Pyro4DecodeOptions): unknown;
  dumpsCall(objectId: string, method: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Uint8Array;
  loadsCall(data: Uint8Array, options?: Pyro4DecodeOptions): PyroCall;
}

function badCall(serializer: string, why: string): never {
  throw new RpcError(ErrorCodes.PROTOCOL_ERROR, `Pyro4 ${serializer}: not a call (${why})`);
}

/** Check the decoded call layout: (object id, method, args, kwargs). */
function toCall(serializer: string, objectId: unknown, method: unknown, args: unknown, kwargs: unknown): PyroCall {
  if (typeof objectId !== "string") badCall(serializer, "the object id is not a str");
  if (typeof method !== "string") badCall(serializer, "the method name is not a str");
  if (!Array.isArray(args)) badCall(serializer, "the arguments are not a tuple or list");
  // A batch call (Flags.BATCH) carries None: its calls' own kwargs are inside `args`.
  if (kwargs === null) return { objectId, method, args, kwargs: {} };
  if (typeof kwargs !== "object" || Array.isArray(kwargs) || kwargs instanceof Map || kwargs instanceof Set) {
    badCall(serializer, "the keyword arguments are not a dict with str keys");
  }
  return { objectId, method, args, kwargs: kwargs as Record<string, unknown> };
}

/** Serpent (id 1), Pyro4's default. */
export function serpentSerializer(options: SerpentEncodeOptions = {}): Pyro4Serializer {
  return {
    id: SerializerId.serpent,
    name: "serpent",
    dumps: (value) => encodeSerpent(value, options),
    loads: (data, o = {}) => decodeSerpent(data, o),
    dumpsCall: (objectId, method, args, kwargs) => encodeSerpent(new PyTuple([objectId, method, new PyTuple(args), kwargs]), options),
    loadsCall(data, o = {}) {
      const v = decodeSerpent(data, o);
      if (!Array.isArray(v) || v.length !== 4) badCall("serpent", "expected a 4-tuple");
      return toCall("serpent", v[0], v[1], v[2], v[3]);
    },
  };
}

/** Marshal (id 3): Python's marshal format, versions 0-4; data only. */
export function marshalSerializer(): Pyro4Serializer {
  return {
    id: SerializerId.marshal,
    name: "marshal",
    dumps: (value) => encodeMarshal(value),
    loads: (data, o = {}) => decodeMarshal(data, o),
    dumpsCall: (objectId, method, args, kwargs) => encodeMarshal(new PyTuple([objectId, method, [...args], kwargs])),
    loadsCall(data, o = {}) {
      const v = decodeMarshal(data, o);
      if (!Array.isArray(v) || v.length !== 4) badCall("marshal", "expected a 4-tuple");
      return toCall("marshal", v[0], v[1], v[2], v[3]);
    },
  };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** JSON.stringify's replacer: what JSON has no form for goes as Pyro4's json serializer sends it. */
function jsonReplacer(this: unknown, _key: string, v: unknown): unknown {
  if (typeof v === "bigint") {
    if (v >= -9007199254740991n && v <= 9007199254740991n) return Number(v);
    throw new RpcError(ErrorCodes.SERIALIZE_ERROR, "Pyro4 json: an int beyond 2^53 does not survive JSON in JavaScript; use the serpent serializer");
  }
  if (v instanceof Set) return [...v];
  if (v instanceof PyTuple) return v.items;
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) {
      if (typeof k !== "string") throw new RpcError(ErrorCodes.SERIALIZE_ERROR, "Pyro4 json: dict keys must be str");
      o[k] = x;
    }
    return o;
  }
  if (v instanceof Uint8Array) return { data: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64"), encoding: "base64" };
  if (v !== null && typeof v === "object") {
    const cd = classDictFor(v);
    if (cd) return cd;
  }
  if (typeof v === "number" && !Number.isFinite(v)) throw new RpcError(ErrorCodes.SERIALIZE_ERROR, "Pyro4 json: NaN and Infinity are not JSON; use the serpent serializer");
  return v;
}

function jsonDumps(value: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, jsonReplacer);
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw new RpcError(ErrorCodes.SERIALIZE_ERROR, `Pyro4 json: ${(err as Error).message}`, { cause: err });
  }
  return Buffer.from(text ?? "null", "utf8");
}

function jsonLoads(data: Uint8Array, o: Pyro4DecodeOptions): unknown {
  const lim = pyro4Limits(o.limits);
  if (data.length > lim.maxMessageSize) throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `Pyro4 json: ${data.length} bytes exceed the limit of ${lim.maxMessageSize}`);
  const hook = o.classHook ?? defaultClassHook;
  try {
    // JSON.parse keeps "__proto__" as an own key; the reviver runs bottom-up, as Pyro4's recreate_classes does.
    return JSON.parse(utf8.decode(data), (_k, v: unknown) => {
      if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, "__class__")) {
        const cls = (v as Record<string, unknown>).__class__;
        return hook(typeof cls === "string" ? cls : "", v as Record<string, unknown>);
      }
      return v;
    });
  } catch (err) {
    throw new RpcError(ErrorCodes.PROTOCOL_ERROR, `Pyro4 json: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * JSON (id 2). Ints beyond 2^53 lose precision in JavaScript's JSON, as in
 * every JSON peer; use serpent where they matter.
 */
export function jsonSerializer(): Pyro4Serializer {
  return {
    id: SerializerId.json,
    name: "json",
    dumps: jsonDumps,
    loads: (data, o = {}) => jsonLoads(data, o),
    dumpsCall: (objectId, method, args, kwargs) => jsonDumps({ object: objectId, method, params: args, kwargs }),
    loadsCall(data, o = {}) {
      const v = jsonLoads(data, o) as Record<string, unknown> | null;
      if (v === null || typeof v !== "object" || Array.isArray(v)) badCall("json", "expected an object");
      return toCall("json", v.object, v.method, v.params, v.kwargs);
    },
  };
}

/** The serializers this module speaks, by header id. */
export const PYRO4_SERIALIZERS: ReadonlyMap<number, Pyro4Serializer> = new Map<number, Pyro4Serializer>([
  [SerializerId.serpent, serpentSerializer()],
  [SerializerId.json, jsonSerializer()],
  [SerializerId.marshal, marshalSerializer()],
]);

/** The serializer for a header id; `PROTOCOL_ERROR` naming it when it is one this side does not speak (pickle, dill, ...). */
export function serializerById(id: number): Pyro4Serializer {
  const s = PYRO4_SERIALIZERS.get(id);
  if (s) return s;
  const name = Object.entries(SerializerId).find(([, v]) => v === id)?.[0];
  throw new RpcError(
    ErrorCodes.PROTOCOL_ERROR,
    `Pyro4: serializer ${name ? `'${name}' (id ${id})` : `id ${id}`} is not supported; use serpent, json or marshal (Pyro4.config.SERIALIZER)`,
  );
}
