import { Packr } from "msgpackr";
import type { Serializer } from "./serializer.js";

// Plain MessagePack any language decodes: no records/structures extension,
// Date as the standard timestamp extension (-1), Uint8Array as bin, BigInt
// as int64/uint64 (and every int64/uint64 on the wire decodes to BigInt, so
// BigInt round-trips; JS numbers never use those formats).
const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  mapsAsObjects: true,
  variableMapSize: true,
});

/** `msgpack`: binary MessagePack via msgpackr. */
export const msgpack: Serializer = {
  name: "msgpack",
  binary: true,
  encode(value) {
    return packr.pack(value);
  },
  decode(frame) {
    return packr.unpack(frame);
  },
};
