/**
 * Fuzz every decoder (json, superjson, msgpack) with fast-check: random
 * bytes, mutated real frames, and structures repeated many times (the shape
 * of every decoder killer found so far). Each input must decode or fail
 * with an RpcError, and cost time and memory in proportion to its bytes:
 * decode CPU time under a fixed allowance plus a per-byte one, and the heap and
 * external memory the decode leaves behind (result included) under a
 * fixed allowance plus a per-byte one.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { RpcError, json, msgpack, superjson, type Serializer } from "../src/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

// Generous on a loaded two-core machine; the killers this guards against
// cost seconds and gigabytes for kilobytes.
const TIME_FIXED_MS = 150;
const TIME_PER_BYTE_MS = 0.005; // 5 µs per byte
const MEM_FIXED = 8 * 1024 * 1024;
const MEM_PER_BYTE = 200;

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** CPU time (ms) of this process spent in `f`: far steadier than wall time on a loaded machine. */
function cpuMs(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

/** Decode `frame`; only RpcError may be thrown; time and memory per byte stay bounded. */
function check(s: Serializer, frame: Uint8Array, measureMemory: boolean): void {
  if (measureMemory) gc();
  const m0 = measureMemory ? memory() : 0;
  let result: unknown;
  const decode = () => {
    try {
      result = s.decode(frame);
    } catch (err) {
      if (!(err instanceof RpcError)) throw new Error(`${s.name} threw a ${(err as Error)?.name}: ${(err as Error)?.message}`);
      assert.ok(typeof err.code === "string" && err.code.length > 0);
    }
  };
  let ms = cpuMs(decode);
  if (measureMemory) {
    const grown = memory() - m0;
    const memBound = MEM_FIXED + frame.length * MEM_PER_BYTE;
    assert.ok(grown <= memBound, `${s.name}: ${(grown / 1048576).toFixed(1)} MiB for ${frame.length} bytes`);
  }
  result = undefined;
  const timeBound = TIME_FIXED_MS + frame.length * TIME_PER_BYTE_MS;
  // A slow run may be another process's doing (GC threads, a busy core): only
  // a second slow run fails.
  if (ms > timeBound) ms = Math.min(ms, cpuMs(decode));
  assert.ok(ms <= timeBound, `${s.name}: ${ms.toFixed(1)} ms of CPU for ${frame.length} bytes (bound ${timeBound.toFixed(0)} ms)`);
}

function concat(parts: (Uint8Array | string)[]): Uint8Array {
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
}

function repeat(unit: Uint8Array | string, times: number): Uint8Array {
  const u = typeof unit === "string" ? Buffer.from(unit) : Buffer.from(unit);
  return Buffer.alloc(u.length * times, u);
}

/** A real frame of `s` with some bytes overwritten, and maybe cut short. */
function mutated(s: Serializer, values: fc.Arbitrary<unknown>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(values, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.option(fc.nat()))
    .map(([v, edits, cut]) => {
      let frame: Uint8Array;
      try {
        frame = Uint8Array.from(s.encode([0, 1, "echo", [v]]));
      } catch {
        frame = Uint8Array.from(s.encode([0, 1, "echo", []]));
      }
      for (const [pos, byte] of edits) frame[pos % frame.length] = byte;
      return cut === null ? frame : frame.subarray(0, cut % (frame.length + 1));
    });
}

/** `prefix + unit * times + suffix`, up to a few hundred kilobytes. */
function repeated(units: (Uint8Array | string)[], prefixes: (Uint8Array | string)[], suffixes: (Uint8Array | string)[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...units), fc.integer({ min: 1, max: 200_000 }), fc.constantFrom(...prefixes), fc.constantFrom(...suffixes))
    .map(([u, n, p, s]) => concat([p, repeat(u, n), s]));
}

const plainValues = fc.jsonValue({ maxDepth: 5 });
const richValues = fc.oneof(
  plainValues,
  fc.uint8Array({ maxLength: 64 }),
  fc.date({ noInvalidDate: true }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.date({ noInvalidDate: true })), { maxLength: 8 }).map((a) => new Set(a)),
  fc.array(fc.tuple(fc.string(), fc.integer()), { maxLength: 8 }).map((a) => new Map(a)),
);

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

const msgpackUnits = [[0x80], [0x90], [0x91], [0x81, 0xa0], [0xdc, 0xff, 0xff], [0xdd, 0, 0x10, 0, 0], [0xd4, 0x70, 0], [0xd6, 0x69, 0, 0, 0, 1], [0xc7, 0x01, 0x74, 8], [0xa0], [0xc4, 0], [0xcb], [0x01]].map((u) => Uint8Array.from(u));
const msgpackPrefixes = [new Uint8Array(0), Uint8Array.from([0xdd, ...u32(200_000)]), Uint8Array.from([0x94, 0, 1, 0xa4, 0x65, 0x63, 0x68, 0x6f, 0x91, 0xdc, 0xff, 0xff])];
const jsonUnits = ["{},", "[],", "[", "{", '{"a":', "1,", '"\\\\",', '"\\"', "]", "}", ",", "[{}]"];
const jsonPrefixes = ["", "[", '[0,1,"echo",[[', '{"json":[', '{"json":{"a":[1]},"meta":{"values":{"a":['];
const jsonSuffixes = ["", "]", "{}]]]", "]}", '"x"]]}}}'];

/** superjson frames with meta built to make its walker work: many or long paths, sets, shared references, typed arrays. */
const superjsonMeta: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom("set-paths", "refs", "typed", "bigint", "deep-path", "root-refs"))
  .map(([n, kind]) => {
    switch (kind) {
      case "set-paths": {
        const values: Record<string, unknown> = { s: ["set"] };
        for (let i = 0; i < n; i++) values[`s.${i}`] = ["Date"];
        return Buffer.from(JSON.stringify({ json: { s: Array.from({ length: n }, () => "1970-01-01T00:00:00.000Z") }, meta: { values, v: 1 } }));
      }
      case "refs": {
        const depth = Math.min(n, 120);
        let v: unknown = null;
        const refs: Record<string, string[]> = {};
        let p = "";
        for (let i = 0; i < depth; i++) {
          v = { l: v, r: null };
          const l = p ? `${p}.l` : "l";
          refs[l] = [p ? `${p}.r` : "r"];
          p = l;
        }
        return Buffer.from(JSON.stringify({ json: v, meta: { referentialEqualities: refs, v: 1 } }));
      }
      case "typed":
        return Buffer.from(`{"json":[${n * 1000}, {"length": ${n * 1000}}],"meta":{"values":{"0":[["typed-array","Float64Array"]],"1":[["custom","Uint8Array"]]},"v":1}}`);
      case "bigint":
        return Buffer.from(`{"json":"${"7".repeat(n * 10)}","meta":{"values":["bigint"],"v":1}}`);
      case "deep-path":
        return Buffer.from(`{"json":{"a":1},"meta":{"values":{"${"a.".repeat(n)}a":["Date"]},"v":1}}`);
      default:
        return Buffer.from(JSON.stringify({ json: { a: [{}] }, meta: { referentialEqualities: [Array.from({ length: n }, () => "a.0")], v: 1 } }));
    }
  });

const targets: { s: Serializer; inputs: fc.Arbitrary<Uint8Array> }[] = [
  {
    s: json,
    inputs: fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated(json, plainValues), repeated(jsonUnits, jsonPrefixes, jsonSuffixes)),
  },
  {
    s: superjson,
    inputs: fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated(superjson, richValues), repeated(jsonUnits, jsonPrefixes, jsonSuffixes), superjsonMeta),
  },
  {
    s: msgpack,
    inputs: fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated(msgpack, richValues), repeated(msgpackUnits, msgpackPrefixes, [new Uint8Array(0), Uint8Array.from([0xc0])])),
  },
];

describe("serializers: fuzzed decoders stay coded, and proportional in time and memory", () => {
  for (const { s, inputs } of targets) {
    it(`${s.name}: random, mutated and repeated-structure frames`, () => {
      fc.assert(
        fc.property(inputs, fc.boolean(), (frame, measure) => check(s, frame, measure)),
        { numRuns: 300 },
      );
    });
  }
});
