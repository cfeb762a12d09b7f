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

/** `json`: interop default. Dates become ISO strings, Uint8Array a base64 string, undefined in arrays null. */
export const json: Serializer = {
  name: "json",
  binary: false,
  encode(value) {
    return utf8Encode(JSON.stringify(value, replacer));
  },
  decode(frame) {
    return JSON.parse(utf8Decode(frame));
  },
};
