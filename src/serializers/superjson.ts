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

/** `superjson`: JSON text that keeps Date, BigInt, Map, Set, RegExp, undefined, URL, Error and Uint8Array. */
export const superjson: Serializer = {
  name: "superjson",
  binary: false,
  encode(value) {
    return utf8Encode(sj.stringify(value));
  },
  decode(frame) {
    return sj.parse(utf8Decode(frame));
  },
};
