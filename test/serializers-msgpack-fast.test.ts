/**
 * The small-frame msgpack decoder (src/serializers/msgpack-fast.ts) against
 * the full path (scanMsgpack, then msgpackr with the serializer's options):
 * whatever it takes it must build exactly as msgpackr does, and only frames
 * the full path accepts; it gives up on the rest, which then meet every
 * check of the full path (the decode limits included, for small frames too).
 * And its encode twin: an array of scalars and arrays of scalars is written
 * as msgpackr writes it, and skips the encode check only where that check
 * could not refuse it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { RpcError, createMsgpack, msgpack } from "../src/index.js";
import { DEFAULT_DECODE_LIMITS } from "../src/serializers/decode-limits.js";
import { FAST_ELEMENTS, MISS, fastDecode, fastEncodeShallow } from "../src/serializers/msgpack-fast.js";
import { scanMsgpack } from "../src/serializers/msgpack-scan.js";

// The options of src/serializers/msgpack.ts: the reference decoder.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true, encodeUndefinedAsNil: true, int64AsType: "auto" as "bigint" });

/** What the full path makes of `frame`: the value, or the error it throws. */
function full(frame: Uint8Array): { value: unknown } | { error: unknown } {
  try {
    scanMsgpack(frame, DEFAULT_DECODE_LIMITS);
    return { value: packr.unpack(frame) as unknown };
  } catch (error) {
    return { error };
  }
}

/** The fast decoder takes `frame` only as the full path does, and builds the same value. */
function agrees(frame: Uint8Array): boolean {
  const fast = fastDecode(frame);
  if (fast === MISS) return false;
  const ref = full(frame);
  assert.ok("value" in ref, `the fast decoder took a frame the full path refuses: ${Buffer.from(frame).toString("hex")}`);
  assert.deepStrictEqual(fast, ref.value, `frame ${Buffer.from(frame).toString("hex")}`);
  return true;
}

const scalar = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
  fc.integer({ min: -40, max: 200 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 8, unit: "binary" }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.uint8Array({ maxLength: 4 }),
);
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalar, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 20 }),
  object: fc.dictionary(fc.string({ maxLength: 4 }), tie("value"), { maxKeys: 3 }),
}));

describe("msgpack small-frame decoder", () => {
  it("decodes what it takes exactly as msgpackr does (property, real encodings)", () => {
    let taken = 0;
    fc.assert(
      fc.property(anyValue, (v) => {
        if (agrees(packr.pack(v))) taken++;
      }),
      { numRuns: 3000 },
    );
    // The property must not pass by refusing everything.
    assert.ok(taken > 500, `took ${taken} of 3000`);
  });

  it("takes the envelopes of plain calls and answers, and gives up on the rest", () => {
    for (const env of [[0, 1, "add", [1, 2]], [1, 4294967295, 3], [0, 70000, "system.listMethods", []], [1, 2, -1.5], [3, "note", [true, false, null, -33, -200, -40000, -2147483648]], [1, 1, [[[1]]]]]) {
      assert.ok(agrees(packr.pack(env)), JSON.stringify(env));
    }
    for (const env of [[0, 1, "add", [1, 2], { z: 3 }], [1, 1, new Uint8Array(3)], [1, 1, 2n ** 40n], [1, 1, "é"], [1, 1, "x".repeat(33)], [1, 1, [[[[1]]]]], new Array(FAST_ELEMENTS).fill(0)]) {
      assert.equal(fastDecode(packr.pack(env)), MISS, JSON.stringify(env, (_k, x) => (typeof x === "bigint" ? String(x) : x)));
    }
  });

  it("gives each frame its own names: the last name of a length is reused only for the same bytes", () => {
    for (const name of ["add", "sub", "add", "ad", "adx", "add", "é", "sub"]) {
      for (const env of [[0, 1, name, [name]], [3, name, [name]], [1, 1, name], [2, 1, name]]) {
        const got = fastDecode(packr.pack(env));
        if (got === MISS) assert.equal(name, "é");
        else assert.deepStrictEqual(got, env);
      }
    }
  });

  it("takes no frame the full path refuses: random bytes and mutated real frames (property)", () => {
    const frame = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      fc.tuple(anyValue, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat({ max: 3 })).map(([v, edits, cut]) => {
        const b = Uint8Array.from(packr.pack(v));
        for (const [at, byte] of edits) b[at % b.length] = byte;
        return b.subarray(0, Math.max(1, b.length - cut));
      }),
    );
    fc.assert(fc.property(frame, (f) => void agrees(f)), { numRuns: 20000 });
  });

  it("leaves small frames over a serializer's own limits to the full path, which refuses them", () => {
    const shallow = createMsgpack({ maxDepth: 2 });
    assert.throws(() => shallow.decode(msgpack.encode([1, 1, [[2]]])), (e: unknown) => e instanceof RpcError && e.code === "PROTOCOL_ERROR" && /maxDepth/.test(e.message));
    assert.deepEqual(shallow.decode(msgpack.encode([1, 1, [2]])), [1, 1, [2]]);
    const few = createMsgpack({ maxElements: 4 });
    assert.throws(() => few.decode(msgpack.encode([1, 2, 3, 4, 5])), (e: unknown) => e instanceof RpcError && e.code === "PROTOCOL_ERROR" && /maxElements/.test(e.message));
    assert.deepEqual(few.decode(msgpack.encode([1, 2, 3])), [1, 2, 3]);
    // Truncated and trailing bytes get the full path's errors.
    const f = msgpack.encode([0, 1, "add", [1, 2]]);
    assert.throws(() => msgpack.decode(f.subarray(0, f.length - 1)), (e: unknown) => e instanceof RpcError && e.code === "PROTOCOL_ERROR" && /msgpack frame refused/.test(e.message));
    assert.throws(() => msgpack.decode(Uint8Array.from([...f, 0])), (e: unknown) => e instanceof RpcError && e.code === "PROTOCOL_ERROR" && /after the value/.test(e.message));
  });

  it("encode: a shallow array skips the encode check only within the limits that check applies", () => {
    assert.deepEqual(Buffer.from(msgpack.encode([1, 7, 3])), Buffer.from(packr.pack([1, 7, 3])));
    const few = createMsgpack({ maxElements: 3 });
    // The array and its three members are four values: over the limit, flat or not.
    for (const f of [(v: unknown) => few.encode(v), (v: unknown) => few.encodeParts?.(v)]) {
      assert.throws(() => f([1, 2, 3]), (e: unknown) => e instanceof RpcError && e.code === "SERIALIZE_ERROR" && /maxElements/.test(e.message));
      assert.deepEqual(Buffer.from(f([1, 2]) as Uint8Array), Buffer.from(packr.pack([1, 2])));
    }
    // Nested: the outer array, its two members and the inner array's two are five values.
    const five = createMsgpack({ maxElements: 4 });
    assert.throws(() => five.encode([0, [1, 2]]), (e: unknown) => e instanceof RpcError && e.code === "SERIALIZE_ERROR" && /maxElements/.test(e.message));
    assert.throws(() => createMsgpack({ maxDepth: 1 }).encode([0, [1]]), (e: unknown) => e instanceof RpcError && e.code === "SERIALIZE_ERROR" && /maxDepth/.test(e.message));
    assert.throws(() => createMsgpack({ maxContainers: 2 }).encode([[1], [2]]), (e: unknown) => e instanceof RpcError && e.code === "SERIALIZE_ERROR" && /maxContainers/.test(e.message));
    // An Array subclass may be an extension of msgpackr's: msgpackr writes it.
    class Tagged extends Array<number> {}
    assert.equal(fastEncodeShallow(Tagged.from([1, 2])), undefined);
    assert.equal(fastEncodeShallow([0, Tagged.from([1])]), undefined);
    // A typed array other than bytes is refused whether or not it sits in a flat-looking envelope.
    assert.throws(() => msgpack.encodeParts?.([1, 1, new Float64Array(2)]), (e: unknown) => e instanceof RpcError && e.code === "SERIALIZE_ERROR");
  });

  it("encode: writes arrays of scalars and of arrays of scalars byte for byte as msgpackr does (property)", () => {
    let taken = 0;
    const member = fc.oneof(
      scalar,
      fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -(2 ** 31), -(2 ** 31) - 1, 0.5, undefined, ""),
      fc.string({ minLength: 28, maxLength: 34 }),
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(member, member, fc.array(member, { maxLength: 17 })), { maxLength: 18 }), (v) => {
        const expected = Buffer.from(packr.pack(v));
        const got = fastEncodeShallow(v);
        if (got !== undefined) {
          taken++;
          assert.deepEqual(Buffer.from(got), expected);
        }
        // Whoever writes it, the serializer's bytes are msgpackr's.
        assert.deepEqual(Buffer.from(msgpack.encode(v)), expected);
      }),
      { numRuns: 5000 },
    );
    assert.ok(taken > 1000, `took ${taken} of 5000`);
  });

  it("gives up on a large hostile frame within its first values (cost independent of the frame's size)", () => {
    // An array announcing 65535 values, then 4 MiB of nested array headers.
    const big = new Uint8Array(4 * 1024 * 1024).fill(0x91);
    big.set([0xdc, 0xff, 0xff], 0);
    const small = big.subarray(0, 4096);
    const cpu = (f: Uint8Array): number => {
      const t0 = process.cpuUsage();
      for (let i = 0; i < 2000; i++) assert.equal(fastDecode(f), MISS);
      const d = process.cpuUsage(t0);
      return d.user + d.system;
    };
    cpu(small);
    const [a, b] = [cpu(small), cpu(big)];
    // 1000 times the bytes: a decoder that read them all would take ~1000 times as long.
    assert.ok(b < a * 10 + 50_000, `4 MiB frame ${b} µs vs 4 KiB frame ${a} µs for 2000 decodes`);
  });
});
