import { RpcError } from "../errors.js";
import { decodeLimitError, encodeLimitError, type DecodeLimits } from "./decode-limits.js";

/** How a serializer writes a value, which decides what the walk descends into. */
export type WalkKind = "json" | "superjson" | "msgpack";

interface WalkState {
  readonly kind: WalkKind;
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
export function checkEncodable(value: unknown, limits: Readonly<DecodeLimits>, kind: WalkKind): void {
  const st = state(limits, kind, false);
  const r = quick(value, 1, st);
  if (r === 0) return;
  if (r === OVER_SIZE) throw limitError(st, st.overLimit, TOO_BIG);
  if (r === OVER_CONTAINERS) throw limitError(st, "maxContainers", "arrays, objects, maps and sets");
  if (kind !== "superjson") throw limitError(st, "maxDepth", "nesting (or a cycle: an object that contains itself)");
  new Measure(state(limits, kind, false)).size(value, 1);
}

/**
 * Refuse (`PROTOCOL_ERROR`) a decoded value whose shared references expand
 * past `maxExpandedElements` or `maxDepth` once written out; time linear in
 * its distinct objects. For decoders that build shared references (superjson).
 */
export function checkDecodedExpansion(value: unknown, limits: Readonly<DecodeLimits>, kind: WalkKind): void {
  new Measure(state(limits, kind, true)).size(value, 1);
}

function state(limits: Readonly<DecodeLimits>, kind: WalkKind, decoding: boolean): WalkState {
  const elements = !decoding && limits.maxElements <= limits.maxExpandedElements;
  return {
    kind,
    max: elements ? limits.maxElements : limits.maxExpandedElements,
    overLimit: elements ? "maxElements" : "maxExpandedElements",
    maxContainers: limits.maxContainers,
    maxDepth: limits.maxDepth,
    decoding,
    visits: 0,
    containers: 0,
  };
}

function limitError(st: WalkState, limit: "maxDepth" | "maxElements" | "maxExpandedElements" | "maxContainers", what: string): RpcError {
  const value = limit === "maxDepth" ? st.maxDepth : limit === "maxContainers" ? st.maxContainers : st.max;
  return st.decoding ? decodeLimitError(st.kind, limit, value, what) : encodeLimitError(st.kind, limit, value, what);
}

const TOO_BIG = "the value written out (map keys included, shared references counted once per use)";

/** The children an encoder of `kind` writes for `v` (a non-binary object), passed to `each`; false stops. */
function children(v: object, kind: WalkKind, each: (c: unknown) => boolean): void {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!each(v[i])) return;
  } else if (v instanceof Map) {
    if (kind !== "json") for (const [k, x] of v) if (!each(k) || !each(x)) return;
  } else if (v instanceof Set) {
    if (kind !== "json") for (const x of v) if (!each(x)) return;
  } else if (v instanceof Error && kind !== "json") {
    each((v as { cause?: unknown }).cause);
  } else if (typeof (v as { toJSON?: unknown }).toJSON !== "function") {
    // What toJSON returns is the application's own choice, not walked here.
    for (const k in v) if (!each((v as Record<string, unknown>)[k])) return;
  }
}

/** True for values with no children to walk; throws for binary data msgpack cannot carry. */
function isLeaf(v: object, kind: WalkKind): boolean {
  if (ArrayBuffer.isView(v)) {
    if (kind === "msgpack" && !(v instanceof Uint8Array)) throw binaryError(v);
    return true;
  }
  if (kind === "msgpack" && isArrayBuffer(v)) throw binaryError(v);
  return v instanceof Date;
}

/** Walk without bookkeeping: 0, or why the value is over a limit. */
function quick(v: unknown, depth: number, st: WalkState): number {
  if (++st.visits > st.max) return OVER_SIZE;
  if (typeof v !== "object" || v === null) return 0;
  if (depth > st.maxDepth) return isLeaf(v, st.kind) ? 0 : OVER_DEPTH;
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
  if (isLeaf(v, st.kind)) return 0;
  if (++st.containers > st.maxContainers) return OVER_CONTAINERS;
  let r = 0;
  children(v, st.kind, (c) => (r = quick(c, depth + 1, st)) === 0);
  return r;
}

class Measure {
  readonly #st: WalkState;
  /** Written-out size and height of each object measured: shared ones are measured once. */
  readonly #done = new Map<object, { size: number; height: number }>();
  readonly #onPath = new Set<object>();
  #total = 0;

  constructor(st: WalkState) {
    this.#st = st;
  }

  /** Size and height of `v` written out, reached at `depth`. */
  size(v: unknown, depth: number): { size: number; height: number } {
    const st = this.#st;
    if (typeof v !== "object" || v === null) {
      this.#charge(1);
      return LEAF;
    }
    const seen = this.#done.get(v);
    if (seen) {
      this.#charge(seen.size);
      if (depth + seen.height - 1 > st.maxDepth) throw limitError(st, "maxDepth", "nesting");
      return seen;
    }
    if (this.#onPath.has(v)) {
      if (st.kind === "superjson") {
        this.#charge(1);
        return LEAF;
      }
      throw limitError(st, "maxDepth", "a cycle (an object that contains itself)");
    }
    this.#charge(1);
    if (isLeaf(v, st.kind)) return LEAF;
    if (depth > st.maxDepth) throw limitError(st, "maxDepth", "nesting");
    this.#onPath.add(v);
    let size = 1;
    let height = 0;
    children(v, st.kind, (c) => {
      const r = this.size(c, depth + 1);
      size += r.size;
      if (r.height > height) height = r.height;
      return true;
    });
    this.#onPath.delete(v);
    const out = { size, height: height + 1 };
    this.#done.set(v, out);
    return out;
  }

  // Every value written out is charged: a shared object once per use, so
  // the total is the written-out size and the walk stops as soon as it is
  // too large, whatever the sharing.
  #charge(n: number): void {
    this.#total += n;
    if (this.#total > this.#st.max) throw limitError(this.#st, "maxExpandedElements", TOO_BIG);
  }
}

const LEAF = { size: 1, height: 0 };
function isArrayBuffer(v: object): boolean {
  return v instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer);
}

function binaryError(v: object): RpcError {
  const name = (v as { constructor?: { name?: string } }).constructor?.name ?? "binary data";
  return new RpcError(
    "SERIALIZE_ERROR",
    `msgpack cannot carry a ${name}: only Uint8Array (and Buffer) travel, as bin. ` +
      `Send its bytes as new Uint8Array(x.buffer, x.byteOffset, x.byteLength) and rebuild it on the other side, or use the superjson serializer`,
  );
}
