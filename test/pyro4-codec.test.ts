/**
 * The Pyro4 codecs against Python's own Pyro4 4.82 and serpent: values that
 * Python serialized (serpent, marshal, json) decode to the expected
 * JavaScript values; values that TypeScript encoded load in Python as the
 * same values; Pyro4 messages built by Python decode (split at every
 * offset, HMAC checked) and messages built here pass Python's
 * `Message.recv` on a socket pair. Plus hand-written serpent and marshal
 * corner cases and refusals.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deflateSync } from "node:zlib";
import { RpcError } from "../src/index.js";
import {
  Flags,
  MessageDecoder,
  MsgType,
  PyComplex,
  PyTuple,
  PyroURI,
  Pyro4RemoteError,
  SerializerId,
  decodeMarshal,
  decodeSerpent,
  decompress,
  encodeMarshal,
  encodeMessage,
  encodeSerpent,
  jsonSerializer,
  marshalSerializer,
  parseSerpent,
  serpentSerializer,
  serpentText,
  type PyroMessage,
} from "../protocols/pyro4/index.js";
import { PYRO4_FIXTURES, PYTHON, pyro4Skip } from "./fixtures/pyro4/pyro4-python.js";
import { killAll, runPython } from "./python-procs.js";

const skip = pyro4Skip();

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** What each sample of values.py decodes to (exceptions are checked apart). */
const EXPECTED: Record<string, unknown> = {
  none: null,
  true: true,
  false: false,
  "int:0": 0,
  "int:-1": -1,
  "int:2^31": 2 ** 31,
  "int:-2^31-1": -(2 ** 31) - 1,
  "int:2^53-1": 2 ** 53 - 1,
  "int:2^53": 2n ** 53n,
  "int:2^64": 2n ** 64n,
  "int:-2^100": -(2n ** 100n),
  "int:10^4000": 10n ** 4000n,
  "float:1.5": 1.5,
  "float:-0.0": -0,
  "float:1e300": 1e300,
  "float:1e22": 1e22,
  "float:5e-324": 5e-324,
  "float:0.1": 0.1,
  "float:inf": Infinity,
  "float:-inf": -Infinity,
  complex: new PyComplex(1.5, -2),
  "str:empty": "",
  "str:ascii": "hello",
  "str:quotes": 'it\'s "quoted"',
  "str:single": "it's",
  "str:escapes": "back\\slash\nnew\rline\ttab\x00nul\x07bel\x7f",
  "str:unicode": "h\u00e9llo \u20ac \u{1f600} \u2028",
  "str:c1": "\x85\x9f",
  "str:surrogate": "\ud800x\udfff",
  "str:long": "x".repeat(5000),
  "bytes:empty": new Uint8Array(0),
  "bytes:all": Uint8Array.from(range(256)),
  bytearray: new Uint8Array([0, 1, 0x61, 0x62, 0x63]),
  "tuple:0": [],
  "tuple:1": [1],
  "tuple:3": [1, "two", 3],
  "list:empty": [],
  "list:nested": [1, [2, [3, [4]]]],
  "list:1000": range(1000),
  "dict:empty": {},
  "dict:str": { a: 1, b: [null, true] },
  "dict:proto": JSON.parse('{"__proto__": 1, "constructor": 2}'),
  "dict:int": new Map([
    [1, "one"],
    [2, "two"],
  ]),
  "dict:tuplekey": new Map([[[1, 2], "pair"]]),
  "set:ints": new Set([1, 2, 3]),
  "set:strs": new Set(["a", "b"]),
  frozenset: new Set([7]),
  datetime: "2020-01-02T03:04:05.006000",
  date: "2021-12-31",
  decimal: "3.14159265358979323846264338327950288419",
  uuid: "12345678-1234-5678-1234-567812345678",
  "uri:pyro": new PyroURI("PYRO", "example.greeting", "localhost", 9999),
  "uri:pyroname": new PyroURI("PYRONAME", "my.server"),
  "uri:ipv6": new PyroURI("PYRONAME", "my.server", "::1", 1234),
  "uri:meta": new PyroURI("PYROMETA", new Set(["tag1", "tag2"]), "nshost", 9090),
};

/** The exceptions among the samples: Python class name, args. */
const EXCEPTIONS: Record<string, [string, unknown[]]> = {
  exception: ["ZeroDivisionError", ["division by zero"]],
  "exception:attrs": ["ValueError", ["bad", 42]],
};

/** Where JSON (in Python and here) changes a value: what it becomes instead. */
const JSON_EXPECTED: Record<string, unknown> = {
  "int:2^53": 2 ** 53,
  "int:2^64": 2 ** 64, // JSON numbers are doubles in JavaScript: documented loss
  "int:-2^100": -(2 ** 100),
  "dict:int": { 1: "one", 2: "two" },
  "set:ints": [1, 2, 3],
  "set:strs": undefined, // set order is Python's: compared as a set below
  frozenset: [7],
};
/** JSON samples whose decoding is refused (Python writes Infinity, which is not JSON) or that lose too much to compare. */
const JSON_REFUSED = new Set(["float:inf", "float:-inf"]);
const JSON_SKIPPED = new Set(["int:10^4000"]);

interface Sample {
  name: string;
  serializer: "serpent" | "marshal" | "json";
  b64: string;
}

function check(name: string, got: unknown, want: unknown): void {
  if (name in EXCEPTIONS) {
    const [cls, args] = EXCEPTIONS[name] as [string, unknown[]];
    assert.ok(got instanceof Pyro4RemoteError, `${name}: ${String(got)}`);
    assert.equal(got.name, cls);
    assert.equal(got.pythonClass, `builtins.${cls}`);
    assert.deepEqual(got.args, args);
    assert.ok(got instanceof RpcError);
    return;
  }
  if (typeof want === "number" && Object.is(want, -0)) assert.ok(Object.is(got, -0), `${name}: -0.0 lost its sign`);
  assert.deepStrictEqual(got, want, name);
}

describe("Pyro4 serializers: Python's bytes decode here", { skip }, () => {
  let samples: Sample[] = [];
  before(async () => {
    const r = await runPython(PYTHON, `${PYRO4_FIXTURES}dump_samples.py`);
    assert.equal(r.code, 0, r.stderr);
    samples = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Sample);
  });
  after(killAll);

  for (const serializer of ["serpent", "marshal", "json"] as const) {
    it(`${serializer}: every sample Python wrote`, () => {
      const mine = samples.filter((s) => s.serializer === serializer);
      assert.ok(mine.length >= 40, `only ${mine.length} ${serializer} samples`);
      const ser = serializer === "serpent" ? serpentSerializer() : serializer === "marshal" ? marshalSerializer() : jsonSerializer();
      for (const s of mine) {
        const data = Buffer.from(s.b64, "base64");
        if (serializer === "json" && JSON_REFUSED.has(s.name)) {
          assert.throws(() => ser.loads(data), { code: "PROTOCOL_ERROR" }, s.name);
          continue;
        }
        if (serializer === "json" && JSON_SKIPPED.has(s.name)) continue;
        const got = ser.loads(data);
        if (serializer === "json" && s.name === "set:strs") {
          assert.deepEqual(new Set(got as unknown[]), EXPECTED[s.name]);
          continue;
        }
        const want = serializer === "json" && s.name in JSON_EXPECTED ? JSON_EXPECTED[s.name] : EXPECTED[s.name];
        check(s.name, got, want);
      }
    });
  }

  it("serpent: the samples Python's serpent cannot reach are data Pyro4 would refuse, not gaps", () => {
    const names = new Set(samples.filter((s) => s.serializer === "serpent").map((s) => s.name));
    for (const name of [...Object.keys(EXPECTED), ...Object.keys(EXCEPTIONS)]) assert.ok(names.has(name), `serpent sample ${name} missing`);
  });
});

/** JavaScript values to encode for each sample name (tuples as PyTuple, exceptions as errors). */
function jsValue(name: string): unknown {
  switch (name) {
    case "tuple:0":
      return new PyTuple([]);
    case "tuple:1":
      return new PyTuple([1]);
    case "tuple:3":
      return new PyTuple([1, "two", 3.0]);
    case "dict:tuplekey":
      return new Map([[new PyTuple([1, 2]), "pair"]]);
    case "exception":
      return Object.assign(new Error("division by zero"), { name: "ZeroDivisionError" });
    case "exception:attrs":
      return new Pyro4RemoteError("builtins.ValueError", ["bad", 42], {});
    default:
      return EXPECTED[name];
  }
}

const JSON_UNENCODABLE = new Set(["int:2^53", "int:2^64", "int:-2^100", "int:10^4000", "float:inf", "float:-inf"]);
/** Values JSON carries, but not as what Python compares equal: JSON has no -0.0, complex becomes a dict, tuple and int keys are not JSON keys. */
const JSON_CHANGED = new Set(["float:-0.0", "complex", "dict:tuplekey", "dict:int", "uri:meta"]);

describe("Pyro4 serializers: bytes made here load in Python", { skip }, () => {
  after(killAll);

  it("serpent, marshal and json: every sample equals Python's own value", async () => {
    const names = [...Object.keys(EXPECTED), ...Object.keys(EXCEPTIONS)];
    const lines: string[] = [];
    const sers = { serpent: serpentSerializer(), marshal: marshalSerializer(), json: jsonSerializer() };
    for (const [sname, ser] of Object.entries(sers)) {
      for (const name of names) {
        if (sname === "json" && (JSON_CHANGED.has(name) || JSON_UNENCODABLE.has(name))) {
          if (JSON_UNENCODABLE.has(name)) assert.throws(() => ser.dumps(jsValue(name)), { code: "SERIALIZE_ERROR" }, name);
          continue;
        }
        lines.push(JSON.stringify({ name, serializer: sname, b64: Buffer.from(ser.dumps(jsValue(name))).toString("base64") }));
      }
    }
    const r = await runPython(PYTHON, `${PYRO4_FIXTURES}check_loads.py`, [], { input: `${lines.join("\n")}\n` });
    assert.equal(r.code, 0, r.stderr);
    const results = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { name: string; serializer: string; ok: boolean; got: string });
    assert.equal(results.length, lines.length);
    const bad = results.filter((x) => !x.ok);
    assert.deepEqual(bad, [], `Python loaded differently:\n${bad.map((b) => `${b.serializer} ${b.name}: ${b.got}`).join("\n")}`);
  });

  it("serpent: bytes as a literal (bytes: 'literal') reach Python as bytes", async () => {
    const ser = serpentSerializer({ bytes: "literal" });
    const line = JSON.stringify({ name: "bytes:all", serializer: "serpent", b64: Buffer.from(ser.dumps(EXPECTED["bytes:all"])).toString("base64") });
    assert.match(Buffer.from(ser.dumps(new Uint8Array([0, 39, 92]))).toString(), /b'\\x00\\'\\\\'/);
    const r = await runPython(PYTHON, `${PYRO4_FIXTURES}check_loads.py`, [], { input: `${line}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { ok: boolean }).ok, true, r.stdout);
  });
});

interface PyMessage {
  name: string;
  key: string | null;
  b64: string;
  type: number;
  flags: number;
  seq: number;
  serializer: number;
  annotations: Record<string, string>;
  data: string;
}

function hexOf(m: PyroMessage): { annotations: Record<string, string>; data: string } {
  const annotations: Record<string, string> = {};
  for (const [k, v] of m.annotations) annotations[k] = Buffer.from(v).toString("hex");
  return { annotations, data: Buffer.from(m.data).toString("hex") };
}

describe("Pyro4 messages: Python's decode here", { skip }, () => {
  let messages: PyMessage[] = [];
  before(async () => {
    const r = await runPython(PYTHON, `${PYRO4_FIXTURES}make_messages.py`);
    assert.equal(r.code, 0, r.stderr);
    messages = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as PyMessage);
    assert.ok(messages.length >= 7);
  });
  after(killAll);

  it("each message, whole and split at every offset, with its HMAC key", () => {
    for (const pm of messages) {
      const raw = Buffer.from(pm.b64, "base64");
      const opts = pm.key ? { hmacKey: pm.key } : {};
      const splits = raw.length <= 400 ? range(raw.length + 1) : [0, 1, 23, 24, 25, 40, raw.length - 1, raw.length];
      for (const at of splits) {
        const dec = new MessageDecoder(opts);
        const out = [...dec.push(raw.subarray(0, at)), ...dec.push(raw.subarray(at))];
        assert.equal(out.length, 1, `${pm.name} split at ${at}`);
        const m = out[0] as PyroMessage;
        assert.deepEqual(
          { type: m.type, flags: m.flags, seq: m.seq, serializer: m.serializerId, ...hexOf(m) },
          { type: pm.type, flags: pm.flags, seq: pm.seq, serializer: pm.serializer, annotations: pm.annotations, data: pm.data },
          `${pm.name} split at ${at}`,
        );
        assert.equal(dec.buffered, 0);
      }
    }
  });

  it("one byte at a time, all messages back to back in one stream", () => {
    const dec = new MessageDecoder({ hmacKey: "k" });
    const raws = messages.filter((m) => m.key === "k").map((m) => Buffer.from(m.b64, "base64"));
    const stream = Buffer.concat([...raws, ...raws]);
    const out: PyroMessage[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...dec.push(stream.subarray(i, i + 1)));
    assert.equal(out.length, raws.length * 2);
  });

  it("the HMAC is checked: wrong key, no key, and a key the sender did not use are AUTH_FAILED", () => {
    for (const pm of messages) {
      const raw = Buffer.from(pm.b64, "base64");
      if (pm.key) {
        assert.throws(() => new MessageDecoder({ hmacKey: `${pm.key}x` }).push(raw), { code: "AUTH_FAILED" }, pm.name);
        assert.throws(() => new MessageDecoder().push(raw), { code: "AUTH_FAILED" }, pm.name);
      } else {
        assert.throws(() => new MessageDecoder({ hmacKey: "secret key" }).push(raw), { code: "AUTH_FAILED" }, pm.name);
      }
    }
  });

  it("a tampered body fails the HMAC", () => {
    const pm = messages.find((m) => m.name === "invoke-hmac") as PyMessage;
    const raw = Buffer.from(pm.b64, "base64");
    raw.writeUInt8(raw.readUInt8(raw.length - 1) ^ 1, raw.length - 1);
    assert.throws(() => new MessageDecoder({ hmacKey: pm.key as string }).push(raw), { code: "AUTH_FAILED" });
  });

  it("a compressed body inflates, within the output limit only", () => {
    const pm = messages.find((m) => m.name === "compressed") as PyMessage;
    const [m] = new MessageDecoder().push(Buffer.from(pm.b64, "base64"));
    assert.ok(m && m.flags & Flags.COMPRESSED);
    assert.equal(Buffer.from(decompress(m.data)).toString(), "x".repeat(1000));
    assert.throws(() => decompress(m.data, 999), { code: "PAYLOAD_TOO_LARGE" });
    assert.throws(() => decompress(new Uint8Array([1, 2, 3])), { code: "PROTOCOL_ERROR" });
  });
});

interface PyRecv {
  type?: number;
  flags?: number;
  seq?: number;
  serializer?: number;
  annotations?: Record<string, string>;
  hmac?: boolean;
  data?: string;
  error?: string;
}

describe("Pyro4 messages: made here, read by Python's Message.recv", { skip }, () => {
  after(killAll);

  it("header, annotations, HMAC (right, wrong, missing) as Pyro4 reads them", async () => {
    const body = encodeSerpent(new PyTuple(["obj", "method", new PyTuple([1, "two"]), { k: null }]));
    const cases: { msg: Parameters<typeof encodeMessage>[0]; key?: string; pyKey: string | null; want: PyRecv }[] = [
      { msg: { type: MsgType.INVOKE, seq: 1, serializerId: SerializerId.serpent, data: body }, pyKey: null, want: { type: 4, flags: 0, seq: 1, serializer: 1, annotations: {}, hmac: false } },
      {
        msg: { type: MsgType.INVOKE, flags: Flags.ONEWAY | Flags.BATCH, seq: 65535, serializerId: 3, annotations: { CORR: new Uint8Array(16).fill(7), ZZZZ: new Uint8Array(0) }, data: body },
        key: "s\u00e9cret",
        pyKey: "s\u00e9cret",
        want: { type: 4, flags: 12, seq: 65535, serializer: 3, annotations: { CORR: "07".repeat(16), ZZZZ: "" }, hmac: true },
      },
      { msg: { type: MsgType.PING, seq: 0, serializerId: 42, data: Buffer.from("ping") }, key: "k", pyKey: "k", want: { type: 6, hmac: true } },
      { msg: { type: MsgType.RESULT, seq: 2, serializerId: 1, data: new Uint8Array(100_000).fill(65) }, key: "k", pyKey: "k", want: { type: 5, hmac: true } },
      { msg: { type: MsgType.INVOKE, seq: 3, serializerId: 1, data: body }, key: "right", pyKey: "wrong", want: { error: "SecurityError" } },
      { msg: { type: MsgType.INVOKE, seq: 4, serializerId: 1, data: body }, pyKey: "key", want: { error: "SecurityError" } },
      { msg: { type: MsgType.INVOKE, seq: 5, serializerId: 1, data: body }, key: "key", pyKey: null, want: { error: "SecurityError" } },
    ];
    const input = cases
      .map((c) => JSON.stringify({ b64: Buffer.from(encodeMessage(c.msg, c.key ? { hmacKey: c.key } : {})).toString("base64"), key: c.pyKey }))
      .join("\n");
    const r = await runPython(PYTHON, `${PYRO4_FIXTURES}recv_messages.py`, [], { input: `${input}\n` });
    assert.equal(r.code, 0, r.stderr);
    const got = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as PyRecv);
    assert.equal(got.length, cases.length);
    cases.forEach((c, i) => {
      const g = got[i] as PyRecv;
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(g[k as keyof PyRecv], v, `case ${i} ${k}: ${JSON.stringify(g)}`);
      if (!c.want.error) assert.equal(g.data, Buffer.from(c.msg.data).toString("hex"), `case ${i} data`);
    });
  });
});

describe("serpent decoder: corner cases and refusals", () => {
  const d = (s: string) => parseSerpent(s);

  it("Python literal syntax serpent and people write", () => {
    assert.deepEqual(d("# serpent utf-8 python3.2\n[1, 2,]  # trailing comment"), [1, 2]);
    assert.deepEqual(d("(1)"), 1);
    assert.deepEqual(d("((1,),)"), [[1]]);
    assert.deepEqual(d("{'a': 1, 'a': 2}"), { a: 2 });
    assert.deepEqual(d("set()"), new Set());
    assert.deepEqual(d("{1, 1, 2}"), new Set([1, 2]));
    assert.deepEqual(d("'a' \"b\" '''c\nd'''"), "abc\nd");
    assert.deepEqual(d("r'\\n\\''"), "\\n\\'");
    assert.deepEqual(d("b'\\x00\\xff\\101' b'z'"), new Uint8Array([0, 255, 65, 122]));
    assert.deepEqual(d("u'\\u20ac\\U0001F600\\q'"), "\u20ac\u{1f600}\\q");
    assert.deepEqual(d("'\\\n'"), "");
    assert.deepEqual(d("1_000"), 1000);
    assert.deepEqual(d("0x_ff"), 255);
    assert.deepEqual(d("0o17"), 15);
    assert.deepEqual(d("0b101"), 5);
    assert.deepEqual(d("000"), 0);
    assert.deepEqual(d("-0"), 0);
    assert.ok(Object.is(d("-0"), 0));
    assert.ok(Object.is(d("-0.0"), -0));
    assert.deepEqual(d("-9007199254740993"), -9007199254740993n);
    assert.deepEqual(d("9007199254740991"), 9007199254740991);
    assert.deepEqual(d(".5e1"), 5);
    assert.deepEqual(d("1e30000"), Infinity);
    assert.deepEqual(d("-1e30000"), -Infinity);
    assert.deepEqual(d("3j"), new PyComplex(0, 3));
    assert.deepEqual(d("(-1-2.5j)"), new PyComplex(-1, -2.5));
    assert.deepEqual(d("{'__class__':'float','value':'nan'}"), NaN);
    assert.deepEqual(d("{'data': 'YWI=', 'encoding': 'base64'}"), new Uint8Array([0x61, 0x62]));
    assert.deepEqual(d("{'data': 'not base64!', 'encoding': 'base64'}"), { data: "not base64!", encoding: "base64" });
    assert.deepEqual(parseSerpent("{'data': 'YWI=', 'encoding': 'base64'}", { bytes: false }), { data: "YWI=", encoding: "base64" });
    assert.deepEqual(d("{'__class__': 'Pyro4.core.URI', 'state': ('PYRO', 'obj', None, 'localhost', 9999)}"), new PyroURI("PYRO", "obj", "localhost", 9999));
    assert.deepEqual(d("{'__class__': 'Pyro4.core.URI', 'state': ('PYRO', 1)}"), { __class__: "Pyro4.core.URI", state: ["PYRO", 1] });
    assert.deepEqual(d("{'__class__': 'Pyro4.core.Proxy', 'state': ()}"), { __class__: "Pyro4.core.Proxy", state: [] });
    const hooked = parseSerpent("{'__class__': 'x.Y', 'v': 1}", { classHook: (cls, dict) => `${cls}:${String(dict.v)}` });
    assert.equal(hooked, "x.Y:1");
    const proto = d("{'__proto__': {'polluted': 1}}") as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.deepEqual(Object.keys(proto), ["__proto__"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("refuses what is not a literal, or is not one Python accepts, with PROTOCOL_ERROR", () => {
    for (const bad of [
      "",
      "# only a comment",
      "__import__('os')",
      "open('/etc/passwd')",
      "1 + 1",
      "[1, 2",
      "[1 2]",
      "{1: 2, 3}",
      "{[1]: 2}",
      "{(1, [2]): 3}",
      "{{}}",
      "'abc",
      "'a\nb'",
      "b'\u00e9'",
      "'a' b'b'",
      "0777",
      "1.2.3",
      "1abc",
      "0x1j",
      "--1",
      "'\\x4'",
      "'\\u12'",
      "'\\U00110000'",
      "'\\N{BULLET}'",
      "lambda: 0",
      "f'x'",
      "Ellipsis",
      "[1]\0",
      "1 2",
      "set(1)",
      "(1+2j)+3j",
    ]) {
      assert.throws(() => d(bad), (e: unknown) => e instanceof RpcError && e.code === "PROTOCOL_ERROR", JSON.stringify(bad));
    }
    assert.throws(() => decodeSerpent(new Uint8Array([0x27, 0xff, 0x27])), { code: "PROTOCOL_ERROR" });
  });

  it("limits: size, depth, values, int digits", () => {
    assert.throws(() => parseSerpent("[".repeat(201) + "]".repeat(201)), { code: "PROTOCOL_ERROR", message: /maxDepth/ });
    assert.deepEqual(parseSerpent("[".repeat(200) + "]".repeat(200)) !== undefined, true);
    assert.throws(() => parseSerpent("[[]]", { limits: { maxDepth: 1 } }), { code: "PROTOCOL_ERROR" });
    assert.throws(() => parseSerpent(`[${"1,".repeat(100)}]`, { limits: { maxItems: 100 } }), { code: "PAYLOAD_TOO_LARGE", message: /maxItems/ });
    assert.throws(() => parseSerpent("1".repeat(4301)), { code: "PROTOCOL_ERROR", message: /maxIntDigits/ });
    assert.equal(parseSerpent("1".repeat(4300)), BigInt("1".repeat(4300)));
    assert.throws(() => decodeSerpent(new Uint8Array(11), { limits: { maxMessageSize: 10 } }), { code: "PAYLOAD_TOO_LARGE" });
  });

  it("Pyro4 URIs parse and print as Python's Pyro4.core.URI does", () => {
    for (const [text, printed] of [
      ["PYRO:obj@localhost:9999", "PYRO:obj@localhost:9999"],
      ["pyro:obj@[::1]:5", "PYRO:obj@[::1]:5"],
      ["PYRONAME:ns.name", "PYRONAME:ns.name"],
      ["PYRONAME:ns.name@host", "PYRONAME:ns.name@host:9090"],
      ["PYROMETA:a,b@host:1", "PYROMETA:a,b@host:1"],
      ["PYRO:obj@./u:/tmp/sock", "PYRO:obj@./u:/tmp/sock"],
    ]) {
      assert.equal(PyroURI.parse(text as string).toString(), printed);
    }
    for (const bad of ["PYRO:obj", "PYRO:obj@host", "PYRO:obj@host:port", "PYROX:obj@h:1", "tcp://x", "PYRO:o b@h:1", "PYRO:obj@[[::1]]:1", "PYRO:obj@h:99999"]) {
      assert.throws(() => PyroURI.parse(bad), { code: "INVALID_URL" }, bad);
    }
  });

  it("the encoder writes floats Python reads as floats and ints as ints", () => {
    const t = serpentText([1, 1.5, 1e21, 1e20, -0, 2 ** 53, 2n ** 64n, NaN, Infinity, new PyComplex(1, -0)]);
    assert.equal(t, "# serpent utf-8 python3.2\n[1,1.5,1e+21,100000000000000000000.0,-0.0,9007199254740992.0,18446744073709551616,{'__class__':'float','value':'nan'},1e30000,(1.0-0.0j)]");
    assert.throws(() => serpentText([() => 1]), { code: "SERIALIZE_ERROR" });
    assert.throws(() => serpentText(new Map([[{}, 1]])), { code: "SERIALIZE_ERROR" });
    const loop: unknown[] = [];
    loop.push(loop);
    assert.throws(() => serpentText(loop), { code: "SERIALIZE_ERROR" });
    const shared = [1];
    assert.equal(serpentText([shared, shared]).split("\n")[1], "[[1],[1]]");
  });
});

describe("marshal decoder: corner cases and refusals", () => {
  it("round-trips through its own encoder", () => {
    const v = [null, true, 1, -(2 ** 31), 2n ** 100n, 1.5, "h\u00e9", new Uint8Array([1]), new PyTuple([1]), new Set([1]), new Map([[1, 2]]), { a: [] }, new PyComplex(1, 2)];
    assert.deepEqual(decodeMarshal(encodeMarshal(v)), [null, true, 1, -(2 ** 31), 2n ** 100n, 1.5, "h\u00e9", new Uint8Array([1]), [1], new Set([1]), new Map([[1, 2]]), { a: [] }, new PyComplex(1, 2)]);
  });

  it("refuses code objects, cycles, truncation and declared sizes beyond the bytes", () => {
    const refuse = (bytes: number[], why: string) => assert.throws(() => decodeMarshal(new Uint8Array(bytes)), { code: "PROTOCOL_ERROR" }, why);
    refuse([0xe3, 0, 0, 0, 0], "code object");
    refuse([0x2e], "Ellipsis");
    refuse([0x69, 1, 0], "truncated int");
    refuse([0x73, 0xff, 0xff, 0xff, 0x7f], "bytes longer than the data");
    refuse([0x5b, 0xff, 0xff, 0xff, 0x7f, 0x4e], "list count beyond the data");
    refuse([0xdb, 1, 0, 0, 0, 0x72, 0, 0, 0, 0], "a list containing itself");
    refuse([0x72, 0, 0, 0, 0], "reference to nothing");
    refuse([0x4e, 0x4e], "trailing bytes");
    refuse([0x7b, 0x5b, 0, 0, 0, 0, 0x4e, 0x30], "list as dict key");
  });

  it("a back reference costs the size of what it refers to (no exponential DAG)", () => {
    // L0 = [None, None]; Lk = (L(k-1), L(k-1)), the second a reference to the first, as Python's
    // marshal writes shared objects. Every level is flagged; references are numbered in preorder.
    const level = (k: number, n: number): number[] => {
      if (k === 0) return [0xdb, 2, 0, 0, 0, 0x4e, 0x4e];
      return [0xa8, 2, 0, 0, 0, ...level(k - 1, n), 0x72, n - k + 1, 0, 0, 0];
    };
    const small = decodeMarshal(new Uint8Array(level(3, 3))) as unknown[][];
    assert.deepEqual(small, [[[[null, null], [null, null]], [[null, null], [null, null]]], [[[null, null], [null, null]], [[null, null], [null, null]]]]);
    assert.equal(small[0], small[1], "a reference is the same object, not a copy");
    const t0 = performance.now();
    assert.throws(() => decodeMarshal(new Uint8Array(level(40, 40))), { code: "PAYLOAD_TOO_LARGE", message: /maxItems/ });
    assert.ok(performance.now() - t0 < 1000);
  });
});

describe("message encoder and decoder: refusals", () => {
  const body = new Uint8Array([1, 2, 3]);
  const good = () => Buffer.from(encodeMessage({ type: MsgType.RESULT, seq: 9, serializerId: 1, data: body }));

  it("bad magic, version, checksum, type, size", () => {
    const cases: [string, (b: Buffer) => void, string][] = [
      ["magic", (b) => (b[0] = 0x51), "PROTOCOL_ERROR"],
      ["version", (b) => b.writeUInt16BE(47, 4), "PROTOCOL_ERROR"],
      ["checksum", (b) => b.writeUInt8(b.readUInt8(23) ^ 1, 23), "PROTOCOL_ERROR"],
    ];
    for (const [name, mutate, code] of cases) {
      const b = good();
      mutate(b);
      assert.throws(() => new MessageDecoder().push(b), { code }, name);
    }
    const withType = (type: number) => {
      const b = good();
      const sum = b.readUInt16BE(22) - MsgType.RESULT + type;
      b.writeUInt16BE(type, 6);
      b.writeUInt16BE(sum & 0xffff, 22);
      return b;
    };
    assert.throws(() => new MessageDecoder().push(withType(7)), { code: "PROTOCOL_ERROR", message: /type 7/ });
    assert.equal(new MessageDecoder().push(withType(6)).length, 1);
  });

  it("an oversized declared body is refused on the header, before buffering", () => {
    const h = Buffer.from(encodeMessage({ type: MsgType.RESULT, seq: 0, serializerId: 1, data: new Uint8Array(1000) })).subarray(0, 24);
    const dec = new MessageDecoder({ limits: { maxMessageSize: 999 } });
    assert.throws(() => dec.push(h), (e: unknown) => e instanceof RpcError && e.code === "PAYLOAD_TOO_LARGE" && (e as { header?: { seq: number } }).header?.seq === 0);
    assert.throws(() => dec.push(new Uint8Array(0)), { code: "PAYLOAD_TOO_LARGE" }, "a failed decoder stays failed");
  });

  it("annotation chunks must fit the annotation area, be few and unique", () => {
    const ann = (chunks: Buffer) => {
      const annSize = chunks.length;
      const b = Buffer.alloc(24 + annSize);
      b.write("PYRO", 0, "latin1");
      b.writeUInt16BE(48, 4);
      b.writeUInt16BE(5, 6);
      b.writeUInt16BE(annSize, 18);
      b.writeUInt16BE(1, 16);
      b.writeUInt16BE((5 + 48 + annSize + 1 + 0x34e9) & 0xffff, 22);
      chunks.copy(b, 24);
      return b;
    };
    const chunk = (key: string, len: number, actual = len) => Buffer.concat([Buffer.from(key, "latin1"), Buffer.from([len >> 8, len & 255]), Buffer.alloc(actual)]);
    assert.equal(new MessageDecoder().push(ann(chunk("ABCD", 3))).length, 1);
    assert.throws(() => new MessageDecoder().push(ann(chunk("ABCD", 300, 3))), { code: "PROTOCOL_ERROR", message: /declares 300/ });
    assert.throws(() => new MessageDecoder().push(ann(Buffer.from("ABC"))), { code: "PROTOCOL_ERROR", message: /truncated/ });
    assert.throws(() => new MessageDecoder().push(ann(Buffer.concat([chunk("ABCD", 0), chunk("ABCD", 0)]))), { code: "PROTOCOL_ERROR", message: /twice/ });
    assert.throws(() => new MessageDecoder().push(ann(chunk("AB\nD", 0))), { code: "PROTOCOL_ERROR" });
    const many = Buffer.concat(range(65).map((i) => chunk(`K${String(i).padStart(3, "0")}`, 0)));
    assert.throws(() => new MessageDecoder().push(ann(many)), { code: "PROTOCOL_ERROR", message: /maxAnnotations/ });
  });

  it("the encoder refuses what Pyro4 cannot carry", () => {
    assert.throws(() => encodeMessage({ type: 4, seq: 65536, serializerId: 1, data: body }), { code: "SERIALIZE_ERROR" });
    assert.throws(() => encodeMessage({ type: 4, seq: 1, serializerId: 1, data: body, annotations: { LONGKEY: body } }), { code: "SERIALIZE_ERROR" });
    assert.throws(() => encodeMessage({ type: 4, seq: 1, serializerId: 1, data: body, annotations: { BIGG: new Uint8Array(70_000) } }), { code: "PAYLOAD_TOO_LARGE" });
    assert.throws(() => encodeMessage({ type: 4, seq: 1, serializerId: 1, data: body }, { maxMessageSize: 2 }), { code: "PAYLOAD_TOO_LARGE" });
  });

  it("a compression bomb stops at the output limit", () => {
    const bomb = deflateSync(Buffer.alloc(20 * 1024 * 1024));
    const t0 = performance.now();
    assert.throws(() => decompress(bomb, 1024 * 1024), { code: "PAYLOAD_TOO_LARGE" });
    assert.ok(performance.now() - t0 < 2000);
  });

  it("the call layouts of the three serializers", () => {
    for (const ser of [serpentSerializer(), marshalSerializer(), jsonSerializer()]) {
      const call = ser.loadsCall(ser.dumpsCall("obj", "m", [1, "a"], { k: [true] }));
      assert.deepEqual(call, { objectId: "obj", method: "m", args: [1, "a"], kwargs: { k: [true] } }, ser.name);
      assert.throws(() => ser.loadsCall(ser.dumps([1, 2])), { code: "PROTOCOL_ERROR" }, ser.name);
    }
  });
});
