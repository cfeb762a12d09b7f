import { SuperJSON } from "superjson";
import type { Serializer } from "./serializer.js";
import { fromBase64, toBase64 } from "./base64.js";
import { utf8Decode, utf8Encode } from "./utf8.js";

// A private instance, so registering Uint8Array does not change the global
// SuperJSON that the application may use for its own purposes.
const sj = new SuperJSON();
// Bytes travel as a base64 string: an array of byte values made a 64 KiB
// payload ~3.5x bigger on the wire and ~40x slower to encode and decode
// (benchmarks). Decoding still accepts the array form older peers send.
sj.registerCustom<Uint8Array, string | number[]>(
  {
    isApplicable: (v): v is Uint8Array => v instanceof Uint8Array,
    serialize: (v) => toBase64(v),
    deserialize: (v) => (typeof v === "string" ? fromBase64(v) : Uint8Array.from(v)),
  },
  "Uint8Array",
);

const MAX_PLAIN_DEPTH = 32;
const toTag = Object.prototype.toString;

/**
 * True when `v` is plain JSON data (finite numbers other than -0, strings,
 * booleans, null, arrays and plain objects, no undefined), for which
 * superjson's output is exactly `{"json":<JSON text>}`. Anything else, or
 * anything deeper than MAX_PLAIN_DEPTH (cycles included), takes superjson's
 * own path.
 */
function isPlain(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object": {
      if (v === null) return true;
      if (depth >= MAX_PLAIN_DEPTH) return false;
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

/** `superjson`: JSON text that keeps Date, BigInt, Map, Set, RegExp, undefined, URL, Error and Uint8Array. */
export const superjson: Serializer = {
  name: "superjson",
  binary: false,
  encode(value) {
    // Plain data skips superjson's walker (5x its JSON.stringify cost on a
    // 1 KiB object, benchmarks); the bytes are the ones superjson would write.
    if (isPlain(value, 0)) return utf8Encode(`{"json":${JSON.stringify(value)}}`);
    return utf8Encode(sj.stringify(value));
  },
  decode(frame) {
    return sj.parse(utf8Decode(frame));
  },
};
