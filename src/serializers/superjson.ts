import { SuperJSON } from "superjson";
import type { Serializer } from "./serializer.js";
import { utf8Decode, utf8Encode } from "./utf8.js";

// A private instance, so registering Uint8Array does not change the global
// SuperJSON that the application may use for its own purposes.
const sj = new SuperJSON();
sj.registerCustom<Uint8Array, number[]>(
  {
    isApplicable: (v): v is Uint8Array => v instanceof Uint8Array,
    serialize: (v) => Array.from(v),
    deserialize: (v) => Uint8Array.from(v),
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
