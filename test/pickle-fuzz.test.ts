/**
 * Fuzzing the recipe codec for cost, not only for crashes: fast-check builds
 * programs out of the opcode patterns that amplify (containers from one
 * byte, marks, memo sharing, nested exceptions, BUILD, copies), repeated
 * hundreds of times, and each input must
 *   - decode to a value or fail with RpcError PROTOCOL_ERROR from a
 *     deliberate check (never an engine error caught as a last resort),
 *   - take time in proportion to its bytes,
 *   - leave a decoded value whose retained heap is in proportion to its bytes,
 *   - and, echoed back as a server would, encode within the same bounds or be
 *     refused with PAYLOAD_TOO_LARGE / SERIALIZE_ERROR.
 * The JSON idioms' parser gets the same treatment.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import { decodeRequest, encodeReply } from "../protocols/python/idioms.js";
import { decodePickle } from "../protocols/python/pickle-decoder.js";
import type { PickleLimits } from "../protocols/python/pickle-limits.js";
import { Op } from "../protocols/python/pickle-opcodes.js";
import { parsePythonJson } from "../protocols/python/python-json.js";
import { cpuNow } from "./support/cpu-time.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/**
 * Cost bounds per input byte. Generous (two shared cores, other suites
 * running), yet each is orders of magnitude below what the old decoder
 * spent on the same bytes (exponential time, ~200 bytes of heap per byte).
 */
const MAX_MS = (bytes: number): number => 1000 + bytes * 0.05;
const MAX_RETAINED = (bytes: number): number => 1024 * 1024 + bytes * 256;

/** Encode budgets that scale with the input, so the echo check is per byte too. */
const echoLimits = (bytes: number): Partial<PickleLimits> => ({ maxEncodedValues: 1024 + bytes * 16, maxEncodedSize: 16384 + bytes * 64 });

const ascii = (s: string): number[] => Array.from(Buffer.from(s, "latin1"));

/** Snippets that amplify when repeated, and glue that makes them combine. */
const SNIPPETS: readonly number[][] = [
  [Op.EMPTY_DICT],
  [Op.EMPTY_LIST],
  [Op.EMPTY_TUPLE],
  [Op.EMPTY_SET],
  [Op.MARK],
  [Op.NONE],
  [Op.DUP],
  [Op.POP],
  [Op.APPEND],
  [Op.APPENDS],
  [Op.SETITEM],
  [Op.SETITEMS],
  [Op.ADDITEMS],
  [Op.TUPLE1],
  [Op.TUPLE2],
  [Op.TUPLE3],
  [Op.TUPLE],
  [Op.LIST],
  [Op.DICT],
  [Op.FROZENSET],
  [Op.REDUCE],
  [Op.BUILD],
  [Op.BINPUT, 0],
  [Op.BINPUT, 1],
  [Op.BINGET, 0],
  [Op.BINGET, 1],
  [Op.MEMOIZE],
  [Op.BINPUT, 0, Op.BINGET, 0, Op.TUPLE2],
  [Op.BINGET, 0, Op.BINGET, 0, Op.TUPLE2, Op.BINPUT, 0],
  [Op.BINGET, 0, Op.TUPLE1, Op.REDUCE],
  [Op.BINGET, 1, Op.BUILD],
  [Op.SHORT_BINSTRING, 2, 0x27, 0x5c],
  [Op.SHORT_BINUNICODE, 3, 0x61, 0x27, 0x5c],
  [Op.SHORT_BINBYTES, 0],
  [Op.BININT1, 7],
  [Op.BININT, 1, 2, 3, 4],
  [Op.LONG1, 9, 1, 2, 3, 4, 5, 6, 7, 8, 0x80],
  ascii("cexceptions\nValueError\n"),
  ascii("cbuiltins\nset\n"),
  ascii("c__builtin__\nfrozenset\n"),
  ascii("c_codecs\nencode\n"),
  [Op.SHORT_BINUNICODE, 8, ...ascii("builtins"), Op.SHORT_BINUNICODE, 9, ...ascii("TypeError"), Op.STACK_GLOBAL],
  ascii("L123456789012345678901234567890L\n"),
  ascii("S'\\x41\\'\\\\'\n"),
  ascii("Vx\\u0041\n"),
  ascii("g0\n"),
  ascii("p1\n"),
];

/** A program: a few snippets, each repeated up to `maxRepeat` times, optionally nested inside a repeated outer group. */
function program(maxRepeat: number): fc.Arbitrary<Uint8Array> {
  const segment = fc.tuple(fc.array(fc.constantFrom(...SNIPPETS), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: maxRepeat }));
  return fc
    .tuple(fc.constantFrom(0, 2, 3, 4, 5), fc.array(segment, { minLength: 1, maxLength: 6 }), fc.boolean())
    .map(([proto, segments, stop]) => {
      const out: number[] = proto === 0 ? [] : [Op.PROTO, proto];
      for (const [snips, times] of segments) {
        const body = snips.flat();
        for (let i = 0; i < times; i++) for (const b of body) out.push(b);
      }
      if (stop) out.push(Op.STOP);
      return Uint8Array.from(out);
    });
}

/** Pushes a class (memoized as 0) and leaves the stack as it was. */
const CLASSES = ["cexceptions\nValueError\n", "cbuiltins\nKeyError\n", "c__builtin__\nset\n", "cbuiltins\nfrozenset\n"].map((g) => [...ascii(g), Op.BINPUT, 0, Op.POP]);
const SEEDS: readonly number[][] = [[Op.SHORT_BINSTRING, 2, 0x27, 0x5c], [Op.SHORT_BINUNICODE, 3, 0x27, 0x5c, 0x22], [Op.NONE], [Op.EMPTY_LIST], [Op.EMPTY_TUPLE], [Op.BININT1, 1]];

/**
 * Nesting through a memoized class: `levels` copies of it, a seed, then
 * `levels` closers (`(x,)` then call): exceptions of exceptions, whose
 * str() grows about 4x per level.
 */
const nesting: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.constantFrom(...CLASSES), fc.constantFrom(...SEEDS), fc.integer({ min: 1, max: 24 }), fc.constantFrom([Op.TUPLE1, Op.REDUCE], [Op.DUP, Op.TUPLE2, Op.REDUCE]))
  .map(([cls, seed, levels, closer]) => {
    const out: number[] = [Op.PROTO, 2, ...cls];
    for (let i = 0; i < levels; i++) out.push(Op.BINGET, 0);
    out.push(...seed);
    for (let i = 0; i < levels; i++) out.push(...closer);
    out.push(Op.STOP);
    return Uint8Array.from(out);
  });

/**
 * Sharing through the memo: v(k+1) built from vk two or three times,
 * `levels` deep (2^levels or 3^levels leaves as a tree), optionally made the
 * argument of an exception (whose message is a repr of it).
 */
const sharing: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.integer({ min: 1, max: 22 }),
    fc.constantFrom(
      [Op.BINPUT, 1, Op.BINGET, 1, Op.TUPLE2],
      [Op.BINPUT, 1, Op.DUP, Op.TUPLE2],
      [Op.BINPUT, 1, Op.POP, Op.MARK, Op.BINGET, 1, Op.BINGET, 1, Op.LIST],
      [Op.BINPUT, 1, Op.POP, Op.EMPTY_DICT, Op.BININT1, 1, Op.BINGET, 1, Op.SETITEM, Op.BININT1, 2, Op.BINGET, 1, Op.SETITEM],
    ),
    fc.constantFrom(undefined, ...CLASSES),
  )
  .map(([seed, levels, step, cls]) => {
    const out: number[] = [Op.PROTO, 2];
    if (cls) out.push(...cls, Op.BINGET, 0);
    out.push(...seed);
    for (let i = 0; i < levels; i++) out.push(...step);
    if (cls) out.push(Op.TUPLE1, Op.REDUCE);
    out.push(Op.STOP);
    return Uint8Array.from(out);
  });

function deliberate(e: unknown, codes: readonly string[]): void {
  if (!(e instanceof RpcError) || !codes.includes(e.code)) throw e;
  // The decoder's last-resort catch keeps the engine error as `cause`: that is a bug, not a refusal.
  if (e.cause !== undefined) throw new Error(`an engine error escaped the checks: ${String(e.cause)}`);
}

/** Runs `fn`, returns [its value or undefined, ms, retained heap bytes while the value is held]. */
function measured(fn: () => unknown): [unknown, number, number] {
  gc();
  const before = process.memoryUsage().heapUsed;
  const t = cpuNow();
  const v = fn();
  const ms = cpuNow() - t;
  gc();
  const retained = process.memoryUsage().heapUsed - before;
  return [v, ms, retained];
}

function checkPickle(data: Uint8Array): void {
  let value: unknown;
  const [, ms, retained] = measured(() => {
    try {
      value = decodePickle(data);
    } catch (e) {
      deliberate(e, ["PROTOCOL_ERROR"]);
      value = undefined;
    }
    return value;
  });
  assert.ok(ms <= MAX_MS(data.length), `decoding ${data.length} bytes took ${ms.toFixed(1)} ms`);
  assert.ok(retained <= MAX_RETAINED(data.length), `decoding ${data.length} bytes retained ${retained} bytes`);
  if (value === undefined) return;
  // What a server does with it when a handler echoes it back.
  const t = cpuNow();
  for (const idiom of [3, 4] as const) {
    try {
      encodeReply(idiom, 3, value, echoLimits(data.length));
    } catch (e) {
      deliberate(e, ["PAYLOAD_TOO_LARGE", "SERIALIZE_ERROR"]);
    }
  }
  const echoMs = cpuNow() - t;
  assert.ok(echoMs <= MAX_MS(data.length), `echoing ${data.length} bytes took ${echoMs.toFixed(1)} ms`);
}

describe("pickle fuzz: cost per byte", { timeout: 110_000 }, () => {
  // Compiled code and feedback live on the heap too: warm every path up before measuring retention.
  before(() => {
    fc.sample(fc.oneof(program(50), nesting, sharing), { numRuns: 300, seed: 1 }).forEach((p) => {
      try {
        encodeReply(3, 3, decodePickle(p), echoLimits(p.length));
      } catch {
        // only warming up
      }
    });
  });

  it("amplifying opcode programs decode (and echo) in time and heap proportional to their bytes", () => {
    // No shrinking: on a decoder without budgets one counterexample already costs seconds.
    fc.assert(fc.property(fc.oneof(program(4000), nesting, sharing), checkPickle), { numRuns: 200, endOnFailure: true });
  });

  it("short programs: a value or a deliberate PROTOCOL_ERROR, never an engine error", () => {
    fc.assert(
      fc.property(program(8), (data) => {
        try {
          decodePickle(data);
        } catch (e) {
          deliberate(e, ["PROTOCOL_ERROR"]);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("recipe requests (every idiom, pickles inside pickles) stay within the same bounds", () => {
    const inner = program(500);
    const frame = fc.oneof(
      inner,
      // idiom 2: a pickled bytes holding the program
      inner.map((p) => {
        const head = [Op.PROTO, 3, Op.BINBYTES, ...new Uint8Array(new Uint32Array([p.length]).buffer)];
        return Uint8Array.from([...head, ...p, Op.STOP]);
      }),
    );
    fc.assert(
      fc.property(frame, (data) => {
        const t = cpuNow();
        try {
          decodeRequest(data);
        } catch (e) {
          deliberate(e, ["PROTOCOL_ERROR"]);
        }
        const ms = cpuNow() - t;
        assert.ok(ms <= MAX_MS(data.length), `${data.length} bytes took ${ms.toFixed(1)} ms`);
      }),
      { numRuns: 300 },
    );
  });

  it("Python JSON: repeated containers, values and strings cost per byte", () => {
    const piece = fc.constantFrom("{}", "[]", "[", "]", "{", "}", ",", "1", "\"a\"", "\"\\\\\\\"\"", ":", "null", "NaN", "-Infinity", "1e999", "12345678901234567890", " ");
    const text = fc
      .array(fc.tuple(fc.array(piece, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 3000 })), { minLength: 1, maxLength: 5 })
      .map((segs) => segs.map(([p, n]) => p.join("").repeat(n)).join(""));
    fc.assert(
      fc.property(text, (s) => {
        const wrapped = `[${s}]`;
        const [, ms, retained] = measured(() => {
          try {
            return parsePythonJson(wrapped);
          } catch (e) {
            deliberate(e, ["PROTOCOL_ERROR"]);
            return undefined;
          }
        });
        assert.ok(ms <= MAX_MS(wrapped.length), `${wrapped.length} characters took ${ms.toFixed(1)} ms`);
        assert.ok(retained <= MAX_RETAINED(wrapped.length), `${wrapped.length} characters retained ${retained} bytes`);
      }),
      { numRuns: 100 },
    );
  });
});
