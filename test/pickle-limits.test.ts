/**
 * The recipe codec's budgets, one test per way a small frame used to cost
 * seconds or gigabytes (issue 11, item 2): a frame of EMPTY_DICTs, exception
 * messages that grow with every level of nesting, shared references that
 * expand when a handler echoes them, and the smaller amplifiers found
 * beside them. Each refusal names its limit in `data.limit`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { RpcError } from "../src/index.js";
import { decodeRequest, encodeErrorReply, encodeReply } from "../protocols/python/idioms.js";
import { decodePickle } from "../protocols/python/pickle-decoder.js";
import { encodePickle, PyTuple } from "../protocols/python/pickle-encoder.js";
import { DEFAULT_PICKLE_LIMITS, type PickleLimits } from "../protocols/python/pickle-limits.js";
import { Op } from "../protocols/python/pickle-opcodes.js";
import { PythonError } from "../protocols/python/python-exceptions.js";
import { parsePythonJson, stringifyPythonJson } from "../protocols/python/python-json.js";
import { emptyDicts, nestedExceptions, sharedPairs } from "./pickle-killers.js";
import { findPythons, pool } from "./python-procs.js";
import { cpuNow } from "./support/cpu-time.js";
import { skipInterop } from "./support/interop.js";

function bytes(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") for (const c of Buffer.from(p, "latin1")) out.push(c);
    else for (const c of p) out.push(c);
  }
  return Uint8Array.from(out);
}

/** Asserts that `fn` throws RpcError `code` naming `limit`, and returns it. */
function limitError(fn: () => unknown, code: string, limit: keyof PickleLimits | undefined): RpcError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof RpcError, `expected an RpcError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (limit !== undefined) {
    assert.deepEqual((caught.data as { limit?: unknown } | undefined)?.limit, limit, caught.message);
    assert.match(caught.message, new RegExp(limit));
  }
  return caught;
}

function timed<T>(fn: () => T): [T, number] {
  const t = cpuNow();
  const v = fn();
  return [v, cpuNow() - t];
}

describe("pickle budgets: the EMPTY_DICT frame", () => {
  it("refuses 4 MiB of EMPTY_DICT at maxObjects, before the heap fills", () => {
    const data = emptyDicts(4 << 20);
    const before = process.memoryUsage().heapUsed;
    const err = limitError(() => decodePickle(data), "PROTOCOL_ERROR", "maxObjects");
    // A container is 50-200 bytes of heap: the default bound keeps one frame's garbage to tens of MiB.
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 256 * 1024 * 1024, `heap grew ${grown} bytes`);
    assert.deepEqual(err.data, { limit: "maxObjects", value: DEFAULT_PICKLE_LIMITS.maxObjects });
  });

  it("counts MARKs, values and classes too", () => {
    const marks = new Uint8Array(300_000).fill(Op.MARK);
    limitError(() => decodePickle(bytes(0x80, 2, marks, Op.STOP)), "PROTOCOL_ERROR", "maxObjects");
    const nones = new Uint8Array(5_000).fill(Op.NONE);
    limitError(() => decodePickle(bytes(0x80, 2, nones, Op.STOP), { maxElements: 4_000 }), "PROTOCOL_ERROR", "maxElements");
    const classes: (number | string)[] = [0x80, 2, "cbuiltins\nset\n", Op.BINPUT, 0];
    for (let i = 0; i < 100; i++) classes.push(Op.BINGET, 0, Op.EMPTY_TUPLE, Op.REDUCE, Op.POP);
    limitError(() => decodePickle(bytes(...classes, Op.NONE, Op.STOP), { maxObjects: 150 }), "PROTOCOL_ERROR", "maxObjects");
  });

  it("a list of 1000 dicts takes 1001 objects (its MARK too)", () => {
    const data = bytes(0x80, 2, Op.MARK, new Uint8Array(1000).fill(Op.EMPTY_DICT), Op.LIST, Op.STOP);
    assert.equal((decodePickle(data, { maxObjects: 1001 }) as unknown[]).length, 1000);
    limitError(() => decodePickle(data, { maxObjects: 1000 }), "PROTOCOL_ERROR", "maxObjects");
  });
});

describe("pickle budgets: exception messages", () => {
  it("a message built from nested exceptions stays within maxMessageChars", () => {
    // 17 levels: each level quotes the one inside it, escaping its quotes and backslashes (x4 each time).
    const data = nestedExceptions(17);
    assert.ok(data.length < 120, `${data.length} bytes`);
    const [v, ms] = timed(() => decodePickle(data));
    assert.ok(v instanceof PythonError);
    assert.ok(v.message.length <= DEFAULT_PICKLE_LIMITS.maxMessageChars + 3, `a message of ${v.message.length} characters`);
    assert.ok(ms < 5000, `${ms} ms`);
    // The arguments themselves are exact: the innermost message is still there.
    let inner: unknown = v;
    for (let i = 0; i < 16; i++) inner = (inner as PythonError).args[0];
    assert.ok(inner instanceof PythonError);
    assert.equal(inner.message, "'\\");
  });

  it("the 240-byte form decodes in milliseconds with a short message", () => {
    const data = nestedExceptions(45);
    assert.ok(data.length >= 200 && data.length <= 260, `${data.length} bytes`);
    const [v, ms] = timed(() => decodePickle(data));
    assert.ok(v instanceof PythonError);
    assert.ok(ms < 5000, `${ms} ms`);
    assert.ok(v.message.endsWith("..."));
  });

  it("one decode builds at most maxExceptions exceptions", () => {
    const p: (number | string)[] = [0x80, 2, "cexceptions\nValueError\n", Op.BINPUT, 0, Op.POP, Op.MARK];
    for (let i = 0; i < 50; i++) p.push(Op.BINGET, 0, Op.EMPTY_TUPLE, Op.REDUCE);
    p.push(Op.LIST, Op.STOP);
    assert.equal((decodePickle(bytes(...p)) as unknown[]).length, 50);
    limitError(() => decodePickle(bytes(...p), { maxExceptions: 49 }), "PROTOCOL_ERROR", "maxExceptions");
  });

  it("messages built from shared argument lists draw on one budget", () => {
    // L0 = [1]; L(k+1) = [Lk, Lk]: ValueError(L22, L22) would repr 2^23 items.
    const p: (number | string)[] = [0x80, 2, "cexceptions\nValueError\n", Op.EMPTY_LIST, Op.BININT1, 1, Op.APPEND];
    for (let i = 0; i < 22; i++) p.push(Op.BINPUT, 0, Op.POP, Op.EMPTY_LIST, Op.BINGET, 0, Op.APPEND, Op.BINGET, 0, Op.APPEND);
    p.push(Op.BINPUT, 0, Op.BINGET, 0, Op.TUPLE2, Op.REDUCE, Op.STOP);
    const [v, ms] = timed(() => decodePickle(bytes(...p)));
    assert.ok(v instanceof PythonError);
    assert.ok(v.message.length <= DEFAULT_PICKLE_LIMITS.maxMessageChars + 3);
    assert.ok(ms < 5000, `${ms} ms`);
  });
});

describe("pickle budgets: shared references echoed back", () => {
  it("decoding keeps sharing: 30 levels are 30 objects, not 2^30", () => {
    const data = sharedPairs(30, "echo");
    assert.ok(data.length < 200);
    const [req, ms] = timed(() => decodeRequest(data));
    assert.ok(ms < 5000, `${ms} ms`);
    assert.ok(req && "args" in req);
    const top = req.args[0] as unknown[];
    assert.equal(top[0], top[1]);
  });

  it("the pickle idioms write the echo with the memo: small, and shared again on arrival", () => {
    const req = decodeRequest(sharedPairs(30, "echo"));
    assert.ok("args" in req);
    for (const idiom of [2, 3] as const) {
      for (const python of [2, 3] as const) {
        const [reply, ms] = timed(() => encodeReply(idiom, python, req.args[0]));
        assert.ok(reply.length < 1024, `${reply.length} bytes`);
        assert.ok(ms < 5000, `${ms} ms`);
        let back = decodePickle(reply);
        if (idiom === 2) back = decodePickle(back as Uint8Array);
        let v = back as unknown[];
        for (let i = 0; i < 30; i++) {
          assert.equal(v[0], v[1]);
          v = v[0] as unknown[];
        }
        assert.equal(v, null);
      }
    }
  });

  it("the JSON idioms (JSON cannot share) refuse the echo at maxEncodedValues instead of hanging", () => {
    const req = decodeRequest(sharedPairs(20, "echo"));
    assert.ok("args" in req);
    const limits = { maxEncodedValues: 100_000 };
    for (const idiom of [1, 4] as const) {
      limitError(() => encodeReply(idiom, 3, req.args[0], limits), "PAYLOAD_TOO_LARGE", "maxEncodedValues");
    }
    // Within the limit the same value is written out in full.
    const small = decodeRequest(sharedPairs(8, "echo"));
    assert.ok("args" in small);
    assert.ok(encodeReply(4, 3, small.args[0], limits).length > 256);
    // So is a value the handler built with sharing, in a pickle too when it exceeds the limit as a tree of distinct values.
    const distinct = Array.from({ length: 200_000 }, (_, i) => i);
    limitError(() => encodeReply(3, 3, distinct, limits), "PAYLOAD_TOO_LARGE", "maxEncodedValues");
  });

  it("encoding is refused at maxEncodedSize, the buffer never growing past it", () => {
    const big = new Uint8Array(100_000);
    const shared = [big, big, big, big];
    limitError(() => encodePickle(shared, { python: 3, limits: { maxEncodedSize: 300_000 } }), "PAYLOAD_TOO_LARGE", "maxEncodedSize");
    assert.equal(encodePickle(shared, { python: 3, limits: { maxEncodedSize: 500_000 } }).length > 400_000, true);
    const s = "x".repeat(100_000);
    limitError(() => stringifyPythonJson([s, s, s, s], 200, { maxEncodedSize: 300_000 }), "PAYLOAD_TOO_LARGE", "maxEncodedSize");
  });

  it("at the default limits the JSON echo of 24 levels is refused, not built", () => {
    const req = decodeRequest(sharedPairs(24, "echo"));
    assert.ok("args" in req);
    const [, ms] = timed(() => limitError(() => encodeReply(4, 3, req.args[0]), "PAYLOAD_TOO_LARGE", "maxEncodedValues"));
    assert.ok(ms < 60_000, `${ms} ms`);
  });

  it("real Pythons read the memoized pickle and see one shared object", async (t) => {
    const pythons = findPythons();
    if (skipInterop(t, "the pickle limits interop test", pythons.length === 0 && "no pyenv Pythons")) return;
    const a = [1, "x"];
    const value = new PyTuple([a, a, new Map([["k", a]])]);
    const check = "import binascii, pickle, sys\nv = pickle.loads(binascii.unhexlify(sys.argv[1]))\nassert v[0] is v[1] is v[2]['k'] and v[0] == [1, u'x'], v\nprint('ok')";
    const runs = pythons.map((py) => async () => {
      const hex = Buffer.from(encodePickle(value, { python: py.major === 2 ? 2 : 3 })).toString("hex");
      const out = await runPythonCode(py.bin, check, [hex]);
      assert.equal(out.trim(), "ok", `${py.version}: ${out}`);
    });
    await pool(3, runs);
  });

  it("a shared value reached again deeper down still counts against maxDepth", () => {
    // A = 150 nested lists; B = [A, <150 nested lists around A>]: 300 levels deep through the second reference.
    const p: (number | string)[] = [0x80, 2];
    for (let i = 0; i < 150; i++) p.push(Op.EMPTY_LIST);
    p.push(Op.NONE);
    for (let i = 0; i < 150; i++) p.push(Op.APPEND);
    p.push(Op.BINPUT, 0, Op.POP, Op.MARK, Op.BINGET, 0);
    for (let i = 0; i < 150; i++) p.push(Op.EMPTY_LIST);
    p.push(Op.BINGET, 0);
    for (let i = 0; i < 150; i++) p.push(Op.APPEND);
    p.push(Op.LIST, Op.STOP);
    limitError(() => decodePickle(bytes(...p)), "PROTOCOL_ERROR", "maxDepth");
    assert.ok(Array.isArray(decodePickle(bytes(...p), { maxDepth: 310 })));
  });
});

describe("pickle budgets: smaller amplifiers", () => {
  it("BUILD with the same memoized dict over and over is charged", () => {
    const p: (number | string)[] = [0x80, 2, "cexceptions\nValueError\n", Op.EMPTY_TUPLE, Op.REDUCE, Op.EMPTY_DICT, Op.MARK];
    for (let i = 0; i < 2000; i++) p.push(Op.BINUNICODE, ...new Uint8Array(new Uint32Array([4]).buffer), i.toString(16).padStart(4, "0"), Op.NONE);
    p.push(Op.SETITEMS, Op.BINPUT, 0, Op.BUILD);
    for (let i = 0; i < 5000; i++) p.push(Op.BINGET, 0, Op.BUILD);
    p.push(Op.STOP);
    const [, ms] = timed(() => assert.throws(() => decodePickle(bytes(...p)), /too much copying/));
    assert.ok(ms < 5000, `${ms} ms`);
  });

  it("decimal ints stop at Python's 4300 digits, and many long ones are charged", () => {
    assert.throws(() => decodePickle(bytes("I", "7".repeat(4301), "\n.")), /4300/);
    assert.equal(typeof decodePickle(bytes("I", "7".repeat(4300), "\n.")), "bigint");
    const many: string[] = ["("];
    for (let i = 0; i < 200; i++) many.push("L", "9".repeat(4300), "L\n");
    many.push("l.");
    const [, ms] = timed(() => assert.throws(() => decodePickle(bytes(...many)), /too many long decimal ints/));
    assert.ok(ms < 5000, `${ms} ms`);
  });

  it("protocol 0 lines that are names are short; STRING data is not built a byte at a time", () => {
    assert.throws(() => decodePickle(bytes("c", "a".repeat(100_000), "\nb\n.")), /at most 256/);
    const s = decodePickle(bytes("S'", "a\\x41".repeat(100_000), "'\n."));
    assert.equal(s, "aA".repeat(100_000));
    assert.throws(() => decodePickle(bytes("S'\\x4g'\n.")), /bad \\x escape/);
  });

  it("Python JSON counts objects and values", () => {
    const text = `[${"{},".repeat(300_000)}{}]`;
    limitError(() => parsePythonJson(text), "PROTOCOL_ERROR", "maxObjects");
    limitError(() => parsePythonJson(`[${"1,".repeat(5000)}1]`, { maxElements: 5000 }), "PROTOCOL_ERROR", "maxElements");
    assert.equal((parsePythonJson(`[${"1,".repeat(5000)}1]`, { maxElements: 5002 }) as unknown[]).length, 5001);
    // A JSON idiom request is held to the same limits.
    const frame = new TextEncoder().encode(`["echo", [${"[],".repeat(2000)}[]], {}]`);
    const bad = decodeRequest(frame, { maxObjects: 1000 });
    assert.ok("error" in bad);
    assert.equal((bad.error.data as { limit: string }).limit, "maxObjects");
  });

  it("a handler's huge error message is cut, never refused", () => {
    const err = new Error("e".repeat(1 << 20));
    for (const idiom of [1, 2, 3, 4] as const) {
      const frame = encodeErrorReply(idiom, 3, err);
      assert.ok(frame.length < 100_000, `${frame.length} bytes`);
    }
    const e = decodePickle(encodeErrorReply(3, 3, err)) as PythonError;
    assert.match(e.message, /1048576 characters, cut/);
  });

  it("a limit that is not a number >= 0, or has no name, is refused", () => {
    assert.throws(() => decodePickle(bytes("N."), { maxObjects: -1 }), { code: "INVALID_PARAMS" });
    assert.throws(() => decodePickle(bytes("N."), { maxObject: 5 } as unknown as Partial<PickleLimits>), { code: "INVALID_PARAMS" });
    assert.throws(() => encodePickle(null, { limits: { maxEncodedSize: Number.NaN } }), { code: "INVALID_PARAMS" });
    assert.equal(decodePickle(bytes("N."), { maxObjects: undefined } as Partial<PickleLimits>), null);
    assert.ok(encodePickle(new PyTuple([1, 2])).length > 0);
  });
});

/** Runs `python -c code args...` with a time limit; resolves with stdout (stderr appended on failure). */
function runPythonCode(bin: string, code: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, ["-c", code, ...args], { timeout: 20_000, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${String(err)}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
