import { toBase64 } from "./base64.js";
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

/**
 * True when `replacer` could change the output: a bigint, or any object
 * other than arrays, plain objects and Dates (a Uint8Array, a class whose
 * toJSON might return one...). Otherwise JSON.stringify runs without the
 * replacer, which halves its cost (benchmarks) and writes the same text.
 * Too deep (or cyclic) also answers true, so JSON.stringify throws as before.
 */
function needsReplacer(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case "bigint":
    case "function":
      return true;
    case "object": {
      if (v === null) return false;
      if (depth >= MAX_SCAN_DEPTH) return true;
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

/** `json`: interop default. Dates become ISO strings, Uint8Array a base64 string, undefined in arrays null. */
export const json: Serializer = {
  name: "json",
  binary: false,
  encode(value) {
    return utf8Encode(needsReplacer(value, 0) ? JSON.stringify(value, replacer) : JSON.stringify(value));
  },
  decode(frame) {
    return JSON.parse(utf8Decode(frame));
  },
};
