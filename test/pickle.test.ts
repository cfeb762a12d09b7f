/**
 * The pickle decoder fed hostile bytes: refused opcodes and globals, limits,
 * truncation at every offset, and fast-check fuzzing (random bytes, random
 * opcode programs, mutated valid pickles). It must only ever return a value
 * or throw RpcError PROTOCOL_ERROR, quickly, with bounded memory. The
 * encoder round-trips through the decoder.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import { decodePickle, type PickleLimits } from "../protocols/python/pickle-decoder.js";
import { encodePickle, PyTuple } from "../protocols/python/pickle-encoder.js";
import { Op } from "../protocols/python/pickle-opcodes.js";
import { cpuNow } from "./support/cpu-time.js";

function bytes(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") for (const c of Buffer.from(p, "latin1")) out.push(c);
    else out.push(...p);
  }
  return Uint8Array.from(out);
}

function isProtocolError(e: unknown): boolean {
  return e instanceof RpcError && e.code === "PROTOCOL_ERROR";
}

function refused(data: Uint8Array, limits?: Partial<PickleLimits>): void {
  assert.throws(() => decodePickle(data, limits), isProtocolError);
}

/**
 * Decoding either succeeds or fails with PROTOCOL_ERROR from a deliberate
 * check; an error that only the decoder's last-resort catch turned into one
 * (it keeps the original as `cause`) is a bug and fails the property.
 */
function safeDecode(data: Uint8Array, limits?: Partial<PickleLimits>): void {
  try {
    decodePickle(data, limits);
  } catch (e) {
    if (!isProtocolError(e)) throw e;
    if ((e as Error).cause !== undefined) throw new Error(`unexpected internal error: ${String((e as Error).cause)}`);
  }
}

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

describe("pickle decoder: refusals", () => {
  it("refuses globals outside the allow-list, in both forms", () => {
    refused(bytes(0x80, 2, "cposix\nsystem\n", "U\x02id", Op.TUPLE1, Op.REDUCE, Op.STOP));
    refused(bytes(0x80, 2, "c__builtin__\neval\n", Op.STOP));
    refused(bytes(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", Op.STACK_GLOBAL, Op.STOP));
    refused(bytes(0x80, 4, 0x8c, 2, "os", 0x8c, 6, "system", Op.STACK_GLOBAL, Op.STOP));
    refused(bytes(0x80, 2, "cbuiltins\ngetattr\n", Op.STOP));
    refused(bytes(0x80, 2, "ccopy_reg\n_reconstructor\n", Op.STOP));
    refused(bytes(0x80, 2, "c__main__\nMyError\n", "U\x01x", Op.TUPLE1, Op.REDUCE, Op.STOP));
  });

  it("refuses an allowed class used as a value rather than called", () => {
    refused(bytes(0x80, 2, "cbuiltins\nValueError\n", Op.STOP));
    refused(bytes(0x80, 2, Op.EMPTY_LIST, "cbuiltins\nset\n", Op.APPEND, Op.STOP));
  });

  it("refuses instance building, persistent ids, extensions and out-of-band buffers", () => {
    refused(bytes("(i__main__\nThing\n.")); // INST
    refused(bytes(0x80, 2, "(cbuiltins\nValueError\n", Op.OBJ, Op.STOP)); // OBJ even on an allowed class
    refused(bytes(0x80, 2, "cbuiltins\nValueError\n", Op.EMPTY_TUPLE, Op.NEWOBJ, Op.STOP));
    refused(bytes(0x80, 4, "cbuiltins\nValueError\n", Op.EMPTY_TUPLE, Op.EMPTY_DICT, Op.NEWOBJ_EX, Op.STOP));
    refused(bytes("P1\n.")); // PERSID
    refused(bytes(0x80, 2, "U\x011", Op.BINPERSID, Op.STOP));
    refused(bytes(0x80, 2, Op.EXT1, 1, Op.STOP));
    refused(bytes(0x80, 2, Op.EXT2, 1, 0, Op.STOP));
    refused(bytes(0x80, 2, Op.EXT4, 1, 0, 0, 0, Op.STOP));
    refused(bytes(0x80, 5, Op.NEXT_BUFFER, Op.STOP));
    refused(bytes(0x80, 5, Op.NEXT_BUFFER, Op.READONLY_BUFFER, Op.STOP));
  });

  it("allows BUILD only on a builtin exception, with a str-keyed dict", () => {
    refused(bytes(0x80, 2, Op.EMPTY_LIST, Op.EMPTY_DICT, Op.BUILD, Op.STOP));
    refused(bytes(0x80, 2, Op.EMPTY_DICT, Op.EMPTY_DICT, Op.BUILD, Op.STOP));
    const exc = bytes(0x80, 2, "cbuiltins\nValueError\n", "X", u32(1), "x", Op.TUPLE1, Op.REDUCE);
    refused(bytes(exc, Op.EMPTY_LIST, Op.BUILD, Op.STOP));
    refused(bytes(exc, Op.EMPTY_DICT, Op.BININT1, 1, Op.BININT1, 2, Op.SETITEM, Op.BUILD, Op.STOP));
    const ok = decodePickle(bytes(exc, Op.EMPTY_DICT, "X", u32(4), "code", "X", u32(3), "ABC", Op.SETITEM, Op.BUILD, Op.STOP)) as RpcError;
    assert.equal(ok.name, "ValueError");
    assert.equal(ok.code, "ABC");
  });

  it("allows REDUCE only on exceptions, set/frozenset(list), bytes(), bytearray and _codecs.encode(str, latin1)", () => {
    refused(bytes(0x80, 2, "c__builtin__\nset\n", Op.BININT1, 1, Op.TUPLE1, Op.REDUCE, Op.STOP));
    refused(bytes(0x80, 2, "c__builtin__\nbytes\n", Op.BININT1, 1, Op.TUPLE1, Op.REDUCE, Op.STOP));
    refused(bytes(0x80, 2, "c_codecs\nencode\n", "X", u32(1), "x", "X", u32(5), "utf-8", Op.TUPLE2, Op.REDUCE, Op.STOP));
    refused(bytes(0x80, 2, "c_codecs\nencode\n", "X", u32(2), "\xc4\x80", "X", u32(6), "latin1", Op.TUPLE2, Op.REDUCE, Op.STOP));
    refused(bytes(0x80, 2, "cbuiltins\nValueError\n", Op.BININT1, 1, Op.REDUCE, Op.STOP)); // args not a tuple
    refused(bytes(0x80, 2, Op.NONE, Op.EMPTY_TUPLE, Op.REDUCE, Op.STOP));
  });

  it("refuses recursive structures", () => {
    // l = []; l.append(l)
    refused(bytes(0x80, 2, Op.EMPTY_LIST, Op.BINPUT, 0, Op.BINGET, 0, Op.APPEND, Op.STOP));
    // the same through DUP instead of the memo
    refused(bytes(0x80, 2, Op.EMPTY_LIST, Op.DUP, Op.APPEND, Op.STOP));
    // d = {}; d["k"] = [d]
    refused(bytes(0x80, 2, Op.EMPTY_DICT, Op.BINPUT, 0, "U\x01k", Op.BINGET, 0, Op.TUPLE1, Op.SETITEM, Op.STOP));
  });

  it("keeps shared (not recursive) references shared", () => {
    // x = [1]; [x, x] through DUP, and through the memo
    const viaDup = decodePickle(bytes(0x80, 2, Op.EMPTY_LIST, Op.MARK, Op.EMPTY_LIST, Op.BININT1, 1, Op.APPEND, Op.DUP, Op.APPENDS, Op.STOP)) as unknown[][];
    assert.deepEqual(viaDup, [[1], [1]]);
    assert.equal(viaDup[0], viaDup[1]);
    const viaMemo = decodePickle(bytes(0x80, 2, Op.EMPTY_DICT, Op.MARK, "U\x01a", Op.EMPTY_DICT, Op.BINPUT, 0, "U\x01b", Op.BINGET, 0, Op.SETITEMS, Op.STOP)) as Record<string, unknown>;
    assert.equal(viaMemo.a, viaMemo.b);
  });

  it("refuses malformed streams", () => {
    refused(bytes());
    refused(bytes(0x80, 6, Op.NONE, Op.STOP)); // unknown protocol
    refused(bytes(0x80, 2, Op.NONE)); // no STOP
    refused(bytes(0x80, 2, Op.NONE, Op.STOP, Op.NONE)); // trailing bytes
    refused(bytes(0x80, 2, Op.NONE, Op.NONE, Op.STOP)); // two values
    refused(bytes(0x80, 2, Op.STOP)); // empty stack
    refused(bytes(0x80, 2, Op.APPEND, Op.STOP));
    refused(bytes(0x80, 2, Op.TUPLE, Op.STOP)); // no MARK
    refused(bytes(0x80, 2, Op.MARK, Op.NONE, Op.STOP)); // MARK left open
    refused(bytes(0x80, 2, Op.BINGET, 7, Op.STOP)); // undefined memo key
    refused(bytes(0x80, 2, Op.NONE, Op.APPEND, Op.STOP));
    refused(bytes(0x80, 2, Op.EMPTY_LIST, Op.NONE, Op.NONE, Op.SETITEM, Op.STOP));
    refused(bytes(0x80, 2, "X", u32(0xffffffff), Op.STOP)); // length beyond the input
    refused(bytes(0x80, 2, "X", u32(2), "\xff\xfe", Op.STOP)); // not UTF-8
    refused(bytes("I12x\n.")); // malformed int
    refused(bytes("F1.5e\n.")); // malformed float
    refused(bytes("S'abc\n.")); // unterminated STRING
    refused(bytes("Vab\\u12\n.")); // short \u escape
    refused(bytes(0xff));
    refused(bytes(0x80, 2, 0xff, Op.STOP));
  });
});

describe("pickle decoder: limits", () => {
  it("limits nesting depth", () => {
    const deep = (n: number) => bytes(0x80, 2, ...new Array<number>(n).fill(Op.EMPTY_LIST), ...new Array<number>(n - 1).fill(Op.APPEND), Op.STOP);
    assert.equal(Array.isArray(decodePickle(deep(50))), true);
    refused(deep(300));
    refused(deep(50), { maxDepth: 10 });
    // Depth built through the memo (each list holds the previous one) is limited too.
    const parts: number[] = [0x80, 2, Op.EMPTY_LIST, Op.BINPUT, 0];
    for (let i = 0; i < 5000; i++) parts.push(Op.EMPTY_LIST, Op.LONG_BINGET, ...u32(0), Op.APPEND, Op.LONG_BINPUT, ...u32(0));
    parts.push(Op.STOP);
    refused(Uint8Array.from(parts));
  });

  it("limits the memo", () => {
    const parts: number[] = [0x80, 2, Op.NONE];
    for (let i = 0; i < 100; i++) parts.push(Op.LONG_BINPUT, ...u32(i));
    parts.push(Op.STOP);
    assert.equal(decodePickle(Uint8Array.from(parts)), null);
    refused(Uint8Array.from(parts), { maxMemo: 50 });
    // Sparse huge indices cost nothing but an entry each.
    assert.equal(decodePickle(bytes(0x80, 2, Op.NONE, Op.LONG_BINPUT, u32(0xfffffff0), Op.STOP)), null);
  });

  it("limits the size of ints and of the whole pickle", () => {
    refused(bytes(0x80, 2, Op.LONG4, u32(20000), new Uint8Array(20000), Op.STOP));
    refused(bytes("L", "9".repeat(30000), "L\n."));
    assert.equal(decodePickle(bytes(0x80, 2, Op.LONG1, 2, 0xff, 0x7f, Op.STOP)), 0x7fff);
    refused(bytes(0x80, 2, Op.NONE, Op.STOP), { maxSize: 3 });
  });

  it("refuses copying amplification through shared arguments", () => {
    // A 100k-element list, then set(list) REDUCEd over and over through the memo.
    const parts: number[] = [0x80, 2, Op.EMPTY_LIST, Op.BINPUT, 0, Op.MARK];
    for (let i = 0; i < 100_000; i++) parts.push(Op.NONE);
    parts.push(Op.APPENDS, Op.POP, Op.EMPTY_LIST, Op.MARK);
    for (let i = 0; i < 20_000; i++) parts.push(Op.GLOBAL, ...Buffer.from("__builtin__\nset\n"), Op.BINGET, 0, Op.TUPLE1, Op.REDUCE);
    parts.push(Op.APPENDS, Op.STOP);
    const started = cpuNow();
    refused(Uint8Array.from(parts));
    assert.ok(cpuNow() - started < 2000);
  });

  it("decodes a large flat pickle in linear time", () => {
    const n = 500_000;
    const parts = new Uint8Array(n + 6);
    parts.set([0x80, 2, Op.EMPTY_LIST, Op.MARK]);
    parts.fill(Op.NEWTRUE, 4, 4 + n);
    parts.set([Op.APPENDS, Op.STOP], 4 + n);
    const started = cpuNow();
    const v = decodePickle(parts) as unknown[];
    assert.equal(v.length, n);
    assert.ok(cpuNow() - started < 2000);
  });
});

describe("pickle decoder: truncation and fuzzing", () => {
  const valid = [
    encodePickle(["add", [1, 2.5, "x", new Uint8Array([1, 2])], { z: 3, big: 2n ** 100n }, new Set([1]), new Error("e")], { python: 2 }),
    encodePickle(new PyTuple(["name", new PyTuple([null, true]), new Map([[1, "a"]])]), { python: 3 }),
    // Python's protocol 0 of ValueError('bad') and of [1, 'two', 3.5, 4L, {u'k': False}].
    Buffer.from("cexceptions\nValueError\np0\n(Vbad\np1\ntp2\nRp3\n.", "latin1"),
    Buffer.from("(lp0\nI1\naS'two'\np1\naF3.5\naL4L\na(dp2\nVk\np3\nI00\nsa.", "latin1"),
  ];

  it("refuses every truncation of valid pickles", () => {
    for (const p of valid) {
      assert.doesNotThrow(() => decodePickle(p));
      for (let i = 0; i < p.length; i++) refused(p.subarray(0, i));
    }
  });

  it("random bytes only ever give PROTOCOL_ERROR", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 5 }), (b, proto) => {
        safeDecode(b);
        safeDecode(bytes(0x80, proto, b));
      }),
      { numRuns: 3000 },
    );
  });

  it("random opcode programs only ever give a value or PROTOCOL_ERROR", () => {
    const opcodes = Object.values(Op);
    const instr = fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...opcodes).map((op) => [op]) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(Op.BININT1, Op.BINPUT, Op.BINGET, Op.SHORT_BINBYTES, Op.SHORT_BINUNICODE, Op.LONG1), fc.integer({ min: 0, max: 4 })).map(([op, n]) => [op, n, ...new Array<number>(n).fill(0x41)]) },
      { weight: 1, arbitrary: fc.constantFrom("cbuiltins\nValueError\n", "c__builtin__\nset\n", "c_codecs\nencode\n", "cbuiltins\nbytearray\n", "X\x06\x00\x00\x00latin1", "I01\n", "L5L\n", "F2.5\n", "S'a\\x41'\n", "Vx\\u0041\n", "p0\n", "g0\n").map((s) => [...Buffer.from(s, "latin1")]) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.array(instr, { maxLength: 60 }), (proto, prog) => {
        safeDecode(Uint8Array.from([0x80, proto, ...prog.flat(), Op.STOP]));
      }),
      { numRuns: 5000 },
    );
  });

  it("mutated valid pickles only ever give a value or PROTOCOL_ERROR", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("set", "insert", "delete")), { minLength: 1, maxLength: 4 }),
        (base, edits) => {
          const b = [...base];
          for (const [pos, val, kind] of edits) {
            const i = pos % (b.length + 1);
            if (kind === "set" && i < b.length) b[i] = val;
            else if (kind === "insert") b.splice(i, 0, val);
            else b.splice(i, 1);
          }
          safeDecode(Uint8Array.from(b));
          safeDecode(Uint8Array.from(b), { maxDepth: 3, maxMemo: 2, maxIntBytes: 2 });
        },
      ),
      { numRuns: 5000 },
    );
  });
});

/** Values the encoder accepts, and what the decoder gives back for them. */
const pyValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 600n), max: 2n ** 600n }),
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 5 }), tie("v"), { maxKeys: 4, noNullPrototype: true }),
    fc.array(fc.tuple(fc.integer(), tie("v")), { maxLength: 3 }).map((e) => new Map(e)),
    fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxLength: 4 }).map((a) => new Set(a)),
  ),
})).v;

/** What a value comes back as: BigInts in the safe range become numbers, -0 stays -0. */
function normalize(v: unknown): unknown {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(normalize);
  // An empty dict has only str keys, so it comes back as an object.
  if (v instanceof Map) return v.size === 0 ? {} : new Map([...v].map(([k, x]) => [normalize(k), normalize(x)]));
  if (v instanceof Set) return new Set([...v].map(normalize));
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) Object.defineProperty(o, k, { value: normalize((v as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return v;
}

describe("pickle encoder", () => {
  it("round-trips every supported value through the decoder (both targets)", () => {
    fc.assert(
      fc.property(pyValue, fc.constantFrom(2 as const, 3 as const), (v, python) => {
        assert.deepStrictEqual(decodePickle(encodePickle(v, { python })), normalize(v));
      }),
      { numRuns: 1500 },
    );
  });

  it("writes tuples, and exceptions with their code", () => {
    assert.deepEqual(decodePickle(encodePickle(new PyTuple([1, new PyTuple([])]))), [1, []]);
    const e = decodePickle(encodePickle(new RpcError("METHOD_NOT_FOUND", "nope"))) as RpcError;
    assert.equal(e.name, "AttributeError");
    assert.equal(e.code, "METHOD_NOT_FOUND");
    assert.equal(e.message, "nope");
  });

  it("refuses what Python cannot receive with SERIALIZE_ERROR", () => {
    const isSerialize = (e: unknown) => e instanceof RpcError && e.code === "SERIALIZE_ERROR";
    assert.throws(() => encodePickle(() => 1), isSerialize);
    assert.throws(() => encodePickle([Symbol("x")]), isSerialize);
    const loop: unknown[] = [];
    loop.push(loop);
    assert.throws(() => encodePickle(loop), isSerialize);
    let deep: unknown = [];
    for (let i = 0; i < 500; i++) deep = [deep];
    assert.throws(() => encodePickle(deep), isSerialize);
  });
});
