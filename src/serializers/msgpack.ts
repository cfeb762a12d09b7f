import { Packr } from "msgpackr";
import { DEFAULT_DECODE_LIMITS, resolveDecodeLimits, undecodable, type DecodeLimits } from "./decode-limits.js";
import { checkEncodable } from "./expansion.js";
import { MSGPACK_WALK } from "./rich-walks.js";
import { fastDecode, fastEncodeShallow, fastFits, MISS } from "./msgpack-fast.js";
import { packParts } from "./msgpack-parts.js";
import { scanMsgpack } from "./msgpack-scan.js";
import type { Serializer } from "./serializer.js";

// Plain MessagePack any language decodes: no records/structures extension,
// Date as the standard timestamp extension (-1), Uint8Array as bin, BigInt
// as int64/uint64, undefined as nil
// (msgpackr's own default is its extension 0). msgpackr's extension table is
// global and its decoder builds Sets, Errors, RegExps, typed arrays and
// shared structures from extensions: scanMsgpack refuses every extension but
// the timestamp before msgpackr sees a frame.
// "auto" is in msgpackr's decoder (unpack.js) but not in its typings.
const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  mapsAsObjects: true,
  variableMapSize: true,
  encodeUndefinedAsNil: true,
  // Other languages write any integer above 2^32 as int64/uint64 (Python's
  // 2**40): decoded as a number when it is exact as one (|n| <= 2^53), so
  // add(2**40, 1) works; only beyond that a BigInt. A BigInt sent within that
  // range therefore arrives as a number (docs/protocol.md, "Integers").
  int64AsType: "auto" as "bigint",
});

/**
 * A `msgpack` serializer with its own decode limits (defaults:
 * DEFAULT_DECODE_LIMITS). Register it under the same name on both peers to
 * replace the default one: `registerSerializer(createMsgpack({ maxElements: 1e7 }))`.
 */
export function createMsgpack(overrides: Partial<DecodeLimits> = {}): Serializer {
  const limits = resolveDecodeLimits(overrides);
  // Small frames of small values are decoded directly (./msgpack-fast.ts), when the limits let all of them through.
  const fast = fastFits(limits);
  // An array of scalars and arrays of scalars is all the encode check would count (itself and
  // its members, two levels): one within these counts passes it, and holds no binary value for
  // packParts to find.
  const shallow: Shallow = {
    maxValues: Math.min(limits.maxElements, limits.maxExpandedElements),
    maxContainers: limits.maxContainers,
    nest: limits.maxDepth >= 2,
  };
  return {
    name: "msgpack",
    binary: true,
    encode(value) {
      if (isShallow(value, shallow)) return fastEncodeShallow(value) ?? packr.pack(value);
      // Refuses typed arrays other than bytes (msgpackr would fill most of
      // their bin from uninitialised memory) and shared-reference DAGs that
      // would be written out exponentially.
      checkEncodable(value, limits, MSGPACK_WALK);
      return packr.pack(value);
    },
    encodeParts(value) {
      if (isShallow(value, shallow)) return fastEncodeShallow(value) ?? packr.pack(value);
      checkEncodable(value, limits, MSGPACK_WALK);
      return packParts(packr, value);
    },
    decode(frame) {
      if (fast) {
        const v = fastDecode(frame);
        if (v !== MISS) return v;
      }
      scanMsgpack(frame, limits);
      try {
        return packr.unpack(frame);
      } catch (err) {
        throw undecodable("msgpack", err);
      }
    },
  };
}

/** What the encode check allows (see createMsgpack). */
interface Shallow {
  readonly maxValues: number;
  readonly maxContainers: number;
  readonly nest: boolean;
}

/**
 * An array of scalars, and (with `nest`) arrays of scalars, within the
 * encode check's counts: a plain answer (`[1, id, 3]`), a plain call
 * (`[0, id, "add", [1, 2]]`), a cancel.
 */
function isShallow(v: unknown, limits: Shallow): v is unknown[] {
  if (!Array.isArray(v)) return false;
  let values = 1 + v.length;
  let containers = 1;
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== "object" || x === null) continue;
    if (!limits.nest || !Array.isArray(x)) return false;
    containers++;
    values += x.length;
    for (let j = 0; j < x.length; j++) {
      const y: unknown = x[j];
      if (typeof y === "object" && y !== null) return false;
    }
  }
  return values <= limits.maxValues && containers <= limits.maxContainers;
}

/** `msgpack`: binary, plain MessagePack via msgpackr (only the timestamp extension). */
export const msgpack: Serializer = createMsgpack(DEFAULT_DECODE_LIMITS);
