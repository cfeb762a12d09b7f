/**
 * The walks of msgpack and superjson for src/serializers/expansion.ts (they
 * write Maps, Sets and Errors' causes, which JSON does not; msgpack refuses
 * binary data it cannot carry), and the measure of a value with shared
 * references that superjson needs both ways. Only those serializers load
 * this file, so a page speaking JSON does not.
 */
import { RpcError } from "../errors.js";
import type { DecodeLimits } from "./decode-limits.js";
import { TOO_BIG, limitError, walkState, type Walk, type WalkState } from "./expansion.js";

/** The children msgpack and superjson write for `v` (not binary): elements, Map keys and values, Set members, an Error's cause, own fields. */
function children(v: object, each: (c: unknown) => boolean): void {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!each(v[i])) return;
  } else if (v instanceof Map) {
    for (const [k, x] of v) if (!each(k) || !each(x)) return;
  } else if (v instanceof Set) {
    for (const x of v) if (!each(x)) return;
  } else if (v instanceof Error) {
    each((v as { cause?: unknown }).cause);
  } else if (typeof (v as { toJSON?: unknown }).toJSON !== "function") {
    // What toJSON returns is the application's own choice, not walked here.
    for (const k in v) if (!each((v as Record<string, unknown>)[k])) return;
  }
}

/** msgpack: only Uint8Array (and Buffer) travel as bin. */
export const MSGPACK_WALK: Walk = {
  kind: "msgpack",
  leaf(v) {
    if (ArrayBuffer.isView(v)) {
      if (!(v instanceof Uint8Array)) throw binaryError(v);
      return true;
    }
    if (isArrayBuffer(v)) throw binaryError(v);
    return v instanceof Date;
  },
  children,
};

/** superjson: a value too deep for the plain walk may be a cycle, which superjson writes as a reference, so it is measured again with back edges as one value. */
export const SUPERJSON_WALK: Walk = {
  kind: "superjson",
  leaf(v) {
    if (!(v instanceof Date)) return ArrayBuffer.isView(v);
    // superjson writes an Invalid Date as its toJSON, null: it would arrive changed.
    if (Number.isNaN(v.getTime())) throw new RpcError("SERIALIZE_ERROR", "superjson cannot carry an Invalid Date (it would arrive as null); send null or a valid Date");
    return true;
  },
  children,
  deep: (value, limits) => void new Measure(walkState(limits, SUPERJSON_WALK, false)).size(value, 1),
};

/**
 * Refuse (`PROTOCOL_ERROR`) a decoded value whose shared references expand
 * past `maxExpandedElements` or `maxDepth` once written out; time linear in
 * its distinct objects. For decoders that build shared references (superjson).
 */
export function checkDecodedExpansion(value: unknown, limits: Readonly<DecodeLimits>): void {
  new Measure(walkState(limits, SUPERJSON_WALK, true)).size(value, 1);
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
      if (st.walk.kind === "superjson") {
        this.#charge(1);
        return LEAF;
      }
      throw limitError(st, "maxDepth", "a cycle (an object that contains itself)");
    }
    this.#charge(1);
    if (st.walk.leaf(v)) return LEAF;
    if (depth > st.maxDepth) throw limitError(st, "maxDepth", "nesting");
    this.#onPath.add(v);
    let size = 1;
    let height = 0;
    st.walk.children(v, (c) => {
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
