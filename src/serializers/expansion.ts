import type { RpcError } from "../errors.js";
import { decodeLimitError, encodeLimitError, type DecodeLimits } from "./decode-limits.js";

/**
 * How a serializer writes a value, which decides what the walk descends
 * into. JSON's is here; msgpack's and superjson's (Map, Set, Error, binary
 * data msgpack refuses, and superjson's references) are in ./rich-walks.ts,
 * which only their own modules load.
 */
export interface Walk {
  readonly kind: "json" | "superjson" | "msgpack";
  /** True for values with no children to walk (binary data, Dates); throws for a value this serializer cannot carry. */
  leaf(v: object): boolean;
  /** The children an encoder of this kind writes for `v` (not binary), passed to `each`; false stops. */
  children(v: object, each: (c: unknown) => boolean): void;
  /**
   * A value deeper than `maxDepth` for the plain walk (which sees a cycle as
   * endless nesting): measure it again or throw. Without it, it is refused.
   */
  deep?(value: unknown, limits: Readonly<DecodeLimits>): void;
}

export interface WalkState {
  readonly walk: Walk;
  /** Values (map keys included) the walk may count; past it, `overLimit` names the limit. */
  readonly max: number;
  readonly overLimit: "maxElements" | "maxExpandedElements";
  readonly maxContainers: number;
  readonly maxDepth: number;
  readonly decoding: boolean;
  visits: number;
  containers: number;
}

const OVER_SIZE = 1;
const OVER_DEPTH = 2;
const OVER_CONTAINERS = 3;

/** JSON writes arrays and objects' own enumerable fields; a Map or Set is written as `{}`, and what toJSON returns is not walked. */
export const JSON_WALK: Walk = {
  kind: "json",
  leaf: (v) => ArrayBuffer.isView(v) || v instanceof Date,
  children(v, each) {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (!each(v[i])) return;
    } else if (!(v instanceof Map || v instanceof Set) && typeof (v as { toJSON?: unknown }).toJSON !== "function") {
      for (const k in v) if (!each((v as Record<string, unknown>)[k])) return;
    }
  },
};

/**
 * Refuse, before an encoder runs, a value the peer's decoder would refuse or
 * whose written form would explode (`SERIALIZE_ERROR` naming the limit, for
 * this call only, instead of a frame that fails the peer's whole
 * connection): more values (map keys included) than `maxElements` or
 * `maxExpandedElements`, more containers than `maxContainers`, deeper than
 * `maxDepth`. Every use of a shared subtree counts again, as an encoder
 * writes it out once per use (60 nested pairs of one shared array are 2^60
 * values). The walk stops at the first limit, so it costs at most that
 * many steps, and nothing per object for a tree. Cycles are refused for
 * json and msgpack; superjson writes them as references, so a value too
 * deep for the plain walk is measured again with back edges as one value.
 * For msgpack it also refuses binary data other than Uint8Array (and
 * Buffer): msgpackr would write a Float64Array's header with its byte
 * length but copy one byte per element, leaving the rest of the bin
 * uninitialised memory.
 */
export function checkEncodable(value: unknown, limits: Readonly<DecodeLimits>, walk: Walk): void {
  const st = walkState(limits, walk, false);
  const r = quick(value, 1, st);
  if (r === 0) return;
  if (r === OVER_SIZE) throw limitError(st, st.overLimit, TOO_BIG);
  if (r === OVER_CONTAINERS) throw limitError(st, "maxContainers", "arrays, objects, maps and sets");
  if (!walk.deep) throw limitError(st, "maxDepth", "nesting (or a cycle: an object that contains itself)");
  walk.deep(value, limits);
}

/** The budget of one walk: encoding counts against the lower of `maxElements` and `maxExpandedElements`, decoding against the latter. */
export function walkState(limits: Readonly<DecodeLimits>, walk: Walk, decoding: boolean): WalkState {
  const elements = !decoding && limits.maxElements <= limits.maxExpandedElements;
  return {
    walk,
    max: elements ? limits.maxElements : limits.maxExpandedElements,
    overLimit: elements ? "maxElements" : "maxExpandedElements",
    maxContainers: limits.maxContainers,
    maxDepth: limits.maxDepth,
    decoding,
    visits: 0,
    containers: 0,
  };
}

/** The refusal of a value over a limit: PROTOCOL_ERROR decoding, SERIALIZE_ERROR encoding. */
export function limitError(st: WalkState, limit: "maxDepth" | "maxElements" | "maxExpandedElements" | "maxContainers", what: string): RpcError {
  const value = limit === "maxDepth" ? st.maxDepth : limit === "maxContainers" ? st.maxContainers : st.max;
  return (st.decoding ? decodeLimitError : encodeLimitError)(st.walk.kind, limit, value, what);
}

export const TOO_BIG = "the value written out (map keys included, shared references counted once per use)";

/** Walk without bookkeeping: 0, or why the value is over a limit. */
function quick(v: unknown, depth: number, st: WalkState): number {
  if (++st.visits > st.max) return OVER_SIZE;
  if (typeof v !== "object" || v === null) return 0;
  if (depth > st.maxDepth) return st.walk.leaf(v) ? 0 : OVER_DEPTH;
  // Arrays and plain objects inline (no callback): they are most of any value.
  if (Array.isArray(v)) {
    if (++st.containers > st.maxContainers) return OVER_CONTAINERS;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x !== "object" || x === null) {
        if (++st.visits > st.max) return OVER_SIZE; // scalars without a call
        continue;
      }
      const r = quick(x, depth + 1, st);
      if (r !== 0) return r;
    }
    return 0;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) {
    if (++st.containers > st.maxContainers) return OVER_CONTAINERS;
    // An own toJSON is walked as a value (a function: nothing to count).
    for (const k in v) {
      const x = (v as Record<string, unknown>)[k];
      if (typeof x !== "object" || x === null) {
        st.visits += 2; // the key and a scalar
        if (st.visits > st.max) return OVER_SIZE;
        continue;
      }
      if (++st.visits > st.max) return OVER_SIZE; // the key
      const r = quick(x, depth + 1, st);
      if (r !== 0) return r;
    }
    return 0;
  }
  if (st.walk.leaf(v)) return 0;
  if (++st.containers > st.maxContainers) return OVER_CONTAINERS;
  let r = 0;
  st.walk.children(v, (c) => (r = quick(c, depth + 1, st)) === 0);
  return r;
}

