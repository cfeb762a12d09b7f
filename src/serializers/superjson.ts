import { SuperJSON } from "superjson";
import type { Serializer } from "./serializer.js";
import { toBase64 } from "./base64.js";
import { fromBase64 } from "./base64-decode.js";
import { DEFAULT_DECODE_LIMITS, resolveDecodeLimits, undecodable, type DecodeLimits } from "./decode-limits.js";
import { checkEncodable } from "./expansion.js";
import { SUPERJSON_WALK } from "./rich-walks.js";
import { scanJson } from "./json-scan.js";
import { deserializeSuperjson } from "./superjson-decode.js";
import { utf8Decode, utf8Encode } from "./utf8.js";

// A private instance, so registering Uint8Array does not change the global
// SuperJSON that the application may use for its own purposes.
const sj = new SuperJSON();
// Bytes travel as a base64 string: an array of byte values made a 64 KiB
// payload ~3.5x bigger on the wire and ~40x slower to encode and decode
// (benchmarks). Decoding (superjson-decode.ts) still accepts the array form
// older peers send.
sj.registerCustom<Uint8Array, string | number[]>(
  {
    isApplicable: (v): v is Uint8Array => v instanceof Uint8Array,
    serialize: (v) => toBase64(v),
    deserialize: (v) => (typeof v === "string" ? fromBase64(v) : Uint8Array.from(v)),
  },
  "Uint8Array",
);

const MAX_PLAIN_DEPTH = 32;
// The fast-path walk gives up past this many values or levels (or the
// encoder's own limits, if lower) and checkEncodable then decides, so a
// shared-reference DAG cannot make the walk itself explode, and a value the
// peer would refuse is never written.
const MAX_PLAIN_VISITS = 100_000;
let visits = 0;
let maxVisits = MAX_PLAIN_VISITS;
let maxLevels = MAX_PLAIN_DEPTH;
const toTag = Object.prototype.toString;

/**
 * True when `v` is plain JSON data (finite numbers other than -0, strings,
 * booleans, null, arrays and plain objects, no undefined), for which
 * superjson's output is exactly `{"json":<JSON text>}`. Anything else, or
 * anything deeper than MAX_PLAIN_DEPTH (cycles included), takes superjson's
 * own path.
 */
function isPlain(v: unknown, depth: number): boolean {
  if (++visits > maxVisits) return false;
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object": {
      if (v === null) return true;
      if (depth >= maxLevels) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isPlain(v[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if ((proto !== Object.prototype && proto !== null) || toTag.call(v) !== "[object Object]") return false;
      for (const k in v) {
        // superjson refuses these keys (it throws); let it.
        if (k === "__proto__" || k === "constructor" || k === "prototype") return false;
        if (!isPlain((v as Record<string, unknown>)[k], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * A `superjson` serializer with its own decode limits (defaults:
 * DEFAULT_DECODE_LIMITS). Register it under the same name on both peers to
 * replace the default one: `registerSerializer(createSuperjson({ maxBigIntDigits: 10000 }))`.
 */
export function createSuperjson(overrides: Partial<DecodeLimits> = {}): Serializer {
  const limits = resolveDecodeLimits(overrides);
  // Keys are not counted by the fast path: half the element budget covers them.
  const fastVisits = Math.min(MAX_PLAIN_VISITS, Math.floor(limits.maxElements / 2), limits.maxContainers);
  const fastLevels = Math.min(MAX_PLAIN_DEPTH, limits.maxDepth);
  // The {"json": ...} wrapper and the meta tree nest one level deeper than the value.
  const scanLimits = { ...limits, maxDepth: limits.maxDepth + 2 };
  return {
    name: "superjson",
    binary: false,
    encode(value) {
      // Plain data skips superjson's walker (5x its JSON.stringify cost on a
      // 1 KiB object, benchmarks); the bytes are the ones superjson would write.
      visits = 0;
      maxVisits = fastVisits;
      maxLevels = fastLevels;
      if (isPlain(value, 0)) return utf8Encode(`{"json":${JSON.stringify(value)}}`);
      // superjson writes every use of a shared object out in full (and marks
      // it as a reference): a small DAG would be written out exponentially.
      checkEncodable(value, limits, SUPERJSON_WALK);
      return utf8Encode(sj.stringify(value));
    },
    decode(frame) {
      scanJson(frame, scanLimits, "superjson");
      let payload: unknown;
      try {
        payload = JSON.parse(utf8Decode(frame));
      } catch (err) {
        throw undecodable("superjson", err);
      }
      return deserializeSuperjson(payload, limits);
    },
  };
}

/** `superjson`: JSON text that keeps Date, BigInt, Map, Set, RegExp, undefined, URL, Error and Uint8Array. */
export const superjson: Serializer = createSuperjson(DEFAULT_DECODE_LIMITS);
