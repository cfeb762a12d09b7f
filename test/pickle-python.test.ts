/**
 * The pickle codec against real Pythons: every pyenv Python pickles a set of
 * values with each protocol it has (0 to 5) and the decoder must give the
 * expected JavaScript value or refuse the "evil:" ones; then every Python
 * loads what the encoder wrote and compares it with its own values.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RpcError, RemoteError } from "../src/index.js";
import { decodePickle } from "../protocols/python/pickle-decoder.js";
import { encodePickle, PyTuple } from "../protocols/python/pickle-encoder.js";
import { PythonError } from "../protocols/python/python-exceptions.js";
import { findPythons, killAll, pool, runPython, type Python } from "./python-procs.js";
import { interopSkip } from "./support/interop.js";

const pythons = findPythons();

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** What each sample of pickle_samples.py must decode to (exceptions and NaN are checked apart). */
const EXPECTED: Record<string, unknown> = {
  none: null,
  true: true,
  false: false,
  "int:0": 0,
  "int:1": 1,
  "int:-1": -1,
  "int:255": 255,
  "int:256": 256,
  "int:65535": 65535,
  "int:65536": 65536,
  "int:2^31-1": 2 ** 31 - 1,
  "int:-2^31": -(2 ** 31),
  "int:2^31": 2 ** 31,
  "int:2^53-1": 2 ** 53 - 1,
  "int:2^53": 2n ** 53n,
  "int:2^64": 2n ** 64n,
  "int:-2^100": -(2n ** 100n),
  "int:2^3000": 2n ** 3000n,
  "float:1.5": 1.5,
  "float:-0.0": -0,
  "float:1e300": 1e300,
  "float:inf": Infinity,
  "float:-inf": -Infinity,
  "str:empty": "",
  "str:ascii": "ascii",
  "str:latin": "h\u00e9llo",
  "str:emoji": "\u{1f600}",
  "str:backslash": "back\\slash \\u0041",
  "str:controls": "new\nline\r\x00\x1a",
  "str:long": "x".repeat(300),
  "str:surrogate": "\ud800",
  bytearray: new Uint8Array([0x61, 0x62, 0xff]),
  "tuple:0": [],
  "tuple:1": [1],
  "tuple:2": [1, 2],
  "tuple:3": [1, 2, 3],
  "tuple:4": [1, 2, 3, 4],
  "list:empty": [],
  "list:nested": [1, [2, [3]]],
  "list:2000": range(2000),
  "dict:empty": {},
  "dict:str": { a: 1, b: [null] },
  "dict:int": new Map([
    [1, "x"],
    [2, "y"],
  ]),
  "dict:proto": JSON.parse('{"__proto__": 1}'),
  "dict:1500": Object.fromEntries(range(1500).map((i) => [`k${i}`, i])),
  "set:empty": new Set(),
  "set:ints": new Set([1, 2]),
  frozenset: new Set(["a"]),
  call: ["add", [1, 2], { z: 3 }],
  shared: [[1], [1]],
  "py2str:ascii": "abc",
  "py2str:binary": new Uint8Array([0, 0xff]),
  "py2str:empty": "",
  "bytes:empty": new Uint8Array(0),
  "bytes:abc": new Uint8Array([0x61, 0x62, 0x63]),
  "bytes:binary": new Uint8Array([0, 0xff]),
  "bytes:long": new Uint8Array(300),
};

const EXCEPTIONS: Record<string, { name: string; args: unknown[]; code?: string; attributes?: Record<string, unknown> }> = {
  "exc:value": { name: "ValueError", args: ["bad"] },
  "exc:key": { name: "KeyError", args: ["k"] },
  "exc:zero": { name: "ZeroDivisionError", args: ["division by zero"] },
  "exc:noargs": { name: "RuntimeError", args: [] },
  "exc:oserror": { name: "OSError", args: [1000, "strange"] },
  "exc:attrs": { name: "ValueError", args: ["x"], code: "C", attributes: { code: "C" } },
  "exc:notes": { name: "ValueError", args: ["noted"], attributes: { __notes__: ["a note"] } },
};

interface Sample {
  name: string;
  proto: number;
  hex: string;
}

describe("pickles written by real Pythons", { skip: interopSkip("the pickle interop tests", pythons.length === 0 && "no pyenv Pythons") }, () => {
  const samples = new Map<string, Sample[]>();

  before(async () => {
    const runs = await pool(
      4,
      pythons.map((py) => () => runPython(py.bin, "pickle_samples.py")),
    );
    runs.forEach((r, i) => {
      const py = pythons[i] as Python;
      assert.equal(r.code, 0, `${py.version}: ${r.stderr}`);
      samples.set(py.version, r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Sample));
    });
  });
  after(killAll);

  for (const py of pythons) {
    it(`decodes every protocol of Python ${py.version}`, () => {
      const list = samples.get(py.version) ?? [];
      const protos = new Set(list.map((s) => s.proto));
      assert.equal(protos.size, py.major === 2 ? 3 : py.minor >= 8 ? 6 : 5, "protocols 0..HIGHEST");
      let checked = 0;
      for (const s of list) {
        const data = Buffer.from(s.hex, "hex");
        const where = `${s.name} protocol ${s.proto}`;
        if (s.name.startsWith("evil:")) {
          assert.throws(() => decodePickle(data), (e: unknown) => e instanceof RpcError && e.code === "PROTOCOL_ERROR", where);
          checked++;
          continue;
        }
        const v = decodePickle(data);
        if (s.name === "float:nan") {
          assert.ok(Number.isNaN(v), where);
        } else if (s.name.startsWith("exc:")) {
          const want = EXCEPTIONS[s.name];
          assert.ok(want, `no expectation for ${s.name}`);
          assert.ok(v instanceof PythonError && v instanceof RemoteError, where);
          assert.equal(v.name, want.name, where);
          assert.deepEqual(v.args, want.args, where);
          assert.equal(v.code, want.code ?? "REMOTE_ERROR", where);
          if (want.attributes) assert.deepEqual({ ...v.attributes }, want.attributes, where);
        } else {
          assert.ok(s.name in EXPECTED, `no expectation for ${s.name}`);
          assert.deepStrictEqual(v, EXPECTED[s.name], where);
        }
        checked++;
      }
      assert.ok(checked > 100);
    });
  }

  it("keeps memo sharing as shared references", () => {
    const s = (samples.get(pythons.at(-1)?.version ?? "") ?? []).find((x) => x.name === "shared" && x.proto === 2);
    assert.ok(s);
    const v = decodePickle(Buffer.from(s.hex, "hex")) as unknown[][];
    assert.equal(v[0], v[1]);
  });
});

/** Values pickle_check.py expects, by name; each is encoded for the Python reading it. */
function encoderCases(python: 2 | 3): { name: string; hex: string }[] {
  const err = (name: string, message: string, code?: string): Error => Object.assign(new Error(message), { name }, code ? { code } : {});
  const cases: [string, unknown][] = [
    ["none", null],
    ["true", true],
    ["false", false],
    ["int:0", 0],
    ["int:255", 255],
    ["int:65536", 65536],
    ["int:-1", -1],
    ["int:2^31", 2 ** 31],
    ["int:-2^31-1", -(2 ** 31) - 1],
    ["int:2^70", 2n ** 70n],
    ["int:-2^70", -(2n ** 70n)],
    ["int:-128", -128n],
    ["int:128", 128n],
    ["float:1.5", 1.5],
    ["float:inf", Infinity],
    ["str", "h\u00e9llo \u{1f600}"],
    ["str:long", "y".repeat(70000)],
    ["bytes", new Uint8Array([0, 0xff])],
    ["bytes:empty", new Uint8Array(0)],
    ["bytes:long", new Uint8Array(300).fill(0x80)],
    ["list", [1, [2, "x"], null]],
    ["tuple", new PyTuple([1, 2, 3, 4])],
    ["dict", { a: 1, b: { c: [true] } }],
    ["dict:int", new Map([[1, "x"]])],
    ["set", new Set([1, 2, 3])],
    ["exc:value", err("ValueError", "bad")],
    ["exc:key", err("KeyError", "k")],
    ["exc:missing", new RpcError("METHOD_NOT_FOUND", "no such method")],
    ["exc:params", new RpcError("INVALID_PARAMS", "bad params")],
    ["exc:plain", new Error("plain")],
  ];
  return cases.map(([name, v]) => {
    const e = v instanceof Error && !(v instanceof RpcError) ? Object.assign(v, { code: "REMOTE_ERROR" }) : v;
    return { name, hex: Buffer.from(encodePickle(e, { python })).toString("hex") };
  });
}

describe("pickles read by real Pythons", { skip: interopSkip("the pickle interop tests", pythons.length === 0 && "no pyenv Pythons") }, () => {
  after(killAll);
  const targets = pythons.flatMap((py) => (py.major === 2 ? [{ py, python: 2 as const }] : [{ py, python: 2 as const }, { py, python: 3 as const }]));
  const results = new Map<string, string>();

  before(async () => {
    const runs = await pool(
      4,
      targets.map(({ py, python }) => () => runPython(py.bin, "pickle_check.py", [], { input: encoderCases(python).map((c) => JSON.stringify(c)).join("\n") + "\n" })),
    );
    runs.forEach((r, i) => {
      const t = targets[i] as (typeof targets)[number];
      assert.equal(r.code, 0, `${t.py.version}: ${r.stderr}`);
      results.set(`${t.py.version}/${t.python}`, r.stdout);
    });
  });

  for (const { py, python } of targets) {
    it(`Python ${py.version} loads protocol-${python === 2 ? "2 (universal)" : "3 (Python 3)"} pickles`, () => {
      const out = results.get(`${py.version}/${python}`) ?? "";
      const lines = out.trim().split("\n");
      assert.equal(lines.length, encoderCases(python).length, out);
      for (const l of lines) assert.match(l, / ok$/);
    });
  }
});
