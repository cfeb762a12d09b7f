import { toBase64 } from "./base64.js";
import { DEFAULT_DECODE_LIMITS, resolveDecodeLimits, undecodable, type DecodeLimits } from "./decode-limits.js";
import { JSON_WALK, checkEncodable } from "./expansion.js";
import { scanJson } from "./json-scan.js";
import type { Serializer } from "./serializer.js";
import { utf8Decode, utf8Encode } from "./utf8.js";

// JSON has no binary type. A Uint8Array (or Buffer) is sent as a base64
// string, which is what Python's and most JSON-RPC stacks do; the receiver
// gets that string back, not bytes. Use msgpack or superjson to keep bytes.
// `this[key]` is the holder's raw value, seen before Buffer#toJSON runs.
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (typeof raw === "object" && raw !== null && raw instanceof Uint8Array) return toBase64(raw);
  if (typeof value === "bigint") throw new TypeError("json cannot carry a BigInt; use the superjson or msgpack serializer");
  return value;
}

const MAX_SCAN_DEPTH = 32;
// The fast-path walk gives up past this many values or levels (or the
// encoder's own limits, if lower) and checkEncodable then decides, so a
// shared-reference DAG cannot make the walk itself explode, and a value the
// peer would refuse is never written.
const MAX_SCAN_VISITS = 100_000;
let visits = 0;
let maxVisits = MAX_SCAN_VISITS;
let maxLevels = MAX_SCAN_DEPTH;

/**
 * True when `replacer` could change the output: a bigint, or any object
 * other than arrays, plain objects and Dates (a Uint8Array, a class whose
 * toJSON might return one...). Otherwise JSON.stringify runs without the
 * replacer, which halves its cost (benchmarks) and writes the same text.
 * Too deep, too large (or cyclic) also answers true, and the caller then
 * checks the value's written-out size before JSON.stringify expands it.
 */
function needsReplacer(v: unknown, depth: number): boolean {
  if (++visits > maxVisits) return true;
  switch (typeof v) {
    case "bigint":
    case "function":
      return true;
    case "object": {
      if (v === null) return false;
      if (depth >= maxLevels) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (needsReplacer(v[i], depth + 1)) return true;
        return false;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto === Date.prototype) return false;
      if ((proto !== Object.prototype && proto !== null) || "toJSON" in v) return true;
      for (const k in v) if (needsReplacer((v as Record<string, unknown>)[k], depth + 1)) return true;
      return false;
    }
    default:
      return false;
  }
}

/**
 * A `json` serializer with its own decode limits (defaults:
 * DEFAULT_DECODE_LIMITS). Register it under the same name on both peers to
 * replace the default one: `registerSerializer(createJson({ maxElements: 1e7 }))`.
 */
export function createJson(overrides: Partial<DecodeLimits> = {}): Serializer {
  const limits = resolveDecodeLimits(overrides);
  // Keys are not counted by the fast path: half the element budget covers them.
  const fastVisits = Math.min(MAX_SCAN_VISITS, Math.floor(limits.maxElements / 2), limits.maxContainers);
  const fastLevels = Math.min(MAX_SCAN_DEPTH, limits.maxDepth);
  return {
    name: "json",
    binary: false,
    encode(value) {
      visits = 0;
      maxVisits = fastVisits;
      maxLevels = fastLevels;
      if (!needsReplacer(value, 0)) return utf8Encode(JSON.stringify(value));
      checkEncodable(value, limits, JSON_WALK);
      return utf8Encode(JSON.stringify(value, replacer));
    },
    decode(frame) {
      scanJson(frame, limits, "json");
      try {
        return JSON.parse(utf8Decode(frame));
      } catch (err) {
        throw undecodable("json", err);
      }
    },
  };
}

/** `json`: interop default. Dates become ISO strings, Uint8Array a base64 string, undefined in arrays null. */
export const json: Serializer = createJson(DEFAULT_DECODE_LIMITS);
