/**
 * Fuzzing the Pyro4 decoders with fast-check: the message decoder, the
 * serpent parser and the marshal reader take random and mutated input and
 * either decode it or throw a coded `RpcError`, nothing else; encoders and
 * decoders round-trip random values; and hostile inputs cost time in
 * proportion to their bytes (CPU time, 4x the input may not cost 10x:
 * no quadratic paths).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import {
  HEADER_SIZE,
  MessageDecoder,
  PyComplex,
  PyTuple,
  decodeMarshal,
  decodeSerpent,
  encodeMarshal,
  encodeMessage,
  encodeSerpent,
  parseSerpent,
  type PyroMessage,
} from "../protocols/pyro4/index.js";

const CODES = new Set(["PROTOCOL_ERROR", "PAYLOAD_TOO_LARGE", "AUTH_FAILED"]);

/** Run `f`; only a coded RpcError may escape. */
function codedOnly(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof RpcError) || !CODES.has(err.code)) throw err;
  }
}

/** Recompute a header's checksum so mutations reach past it. */
function fixChecksum(b: Uint8Array): void {
  if (b.length < HEADER_SIZE) return;
  const v = new DataView(b.buffer, b.byteOffset, HEADER_SIZE);
  const sum = v.getUint16(6) + 48 + v.getInt32(12) + v.getUint16(18) + v.getUint16(16) + v.getUint16(8) + v.getUint16(10) + 0x34e9;
  v.setUint16(22, sum & 0xffff);
}

const key4 = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 4, maxLength: 4 });
const message = fc.record({
  type: fc.integer({ min: 1, max: 6 }),
  flags: fc.integer({ min: 0, max: 0xffff }),
  seq: fc.integer({ min: 0, max: 0xffff }),
  serializerId: fc.integer({ min: 0, max: 0xffff }),
  annotations: fc.dictionary(key4.filter((k) => k !== "HMAC"), fc.uint8Array({ maxLength: 40 }), { maxKeys: 5, noNullPrototype: true }),
  data: fc.uint8Array({ maxLength: 300 }),
});
const hmacKey = fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: undefined });

function feed(dec: MessageDecoder, bytes: Uint8Array, cuts: number[]): PyroMessage[] {
  const out: PyroMessage[] = [];
  let at = 0;
  for (const c of [...cuts.map((x) => x % (bytes.length + 1))].sort((a, b) => a - b)) {
    out.push(...dec.push(bytes.subarray(at, c)));
    at = c;
  }
  out.push(...dec.push(bytes.subarray(at)));
  return out;
}

describe("fuzz: Pyro4 message decoder", () => {
  it("random bytes in random pieces: messages or a coded error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 6 }), hmacKey, (bytes, cuts, key) => {
        codedOnly(() => feed(new MessageDecoder(key === undefined ? {} : { hmacKey: key }), bytes, cuts));
      }),
      { numRuns: 1000 },
    );
  });

  it("encode then decode in random pieces gives the message back", () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 8 }), hmacKey, (msgs, cuts, key) => {
        const opts = key === undefined ? {} : { hmacKey: key };
        const bytes = Buffer.concat(msgs.map((m) => encodeMessage(m, opts)));
        const got = feed(new MessageDecoder(opts), bytes, cuts);
        assert.equal(got.length, msgs.length);
        got.forEach((g, i) => {
          const m = msgs[i] as (typeof msgs)[number];
          assert.deepEqual({ ...g, annotations: Object.fromEntries(g.annotations), data: Buffer.from(g.data) }, { ...m, data: Buffer.from(m.data) });
        });
      }),
      { numRuns: 500 },
    );
  });

  it("mutated valid messages (checksum fixed so the mutation is parsed): a message or a coded error", () => {
    fc.assert(
      fc.property(message, hmacKey, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (m, key, flips, cut) => {
        const opts = key === undefined ? {} : { hmacKey: key };
        const bytes = encodeMessage(m, opts);
        for (const [at, val] of flips) bytes[at % bytes.length] = val;
        fixChecksum(bytes);
        codedOnly(() => feed(new MessageDecoder(opts), bytes, [cut]));
      }),
      { numRuns: 1000 },
    );
  });
});

/** Serpent-ish tokens: random sequences of these reach deep into the parser. */
const TOKENS = [
  "(", ")", "[", "]", "{", "}", ",", ":", " ", "\n", "#c\n", "'a'", '"b"', "'''t'''", "b'x'", "r'\\q'", "u'\\u00e9'", "'\\x4'",
  "'\\", "1", "-", "+", "0", "07", "1.5e3", ".5", "2j", "1e30000", "0x1F", "0b2", "1_0", "None", "True", "False", "set()", "set",
  "{'data':'YWI=','encoding':'base64'}", "{'__class__':'float','value':'nan'}", "{'__class__':'builtins.ValueError','__exception__':True,'args':('x',),'attributes':{}}",
  "\\\n", "\u00e9", "\0", "lambda", "'\n'", "9".repeat(30),
];
const serpentish = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((t) => t.join(""));

/** Values whose serpent and marshal round trip is exact up to {@link expected}. */
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.bigInt().filter((n) => n > 9007199254740991n || n < -9007199254740991n),
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
    fc.uint8Array({ maxLength: 20 }).map((b) => new Uint8Array(b)),
    fc.record({ r: fc.double({ noNaN: true }), i: fc.double({ noNaN: true }) }).map(({ r, i }) => new PyComplex(r, i)),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.array(tie("v"), { maxLength: 4 }).map((a) => new PyTuple(a)),
    fc.dictionary(fc.string({ maxLength: 6 }), tie("v"), { maxKeys: 4, noNullPrototype: true }),
    fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 4 }).map((a) => new Set(a)),
    // Not bool and int keys together: Python's dict merges False with 0 and True with 1.
    fc.array(fc.tuple(fc.oneof(fc.integer(), fc.constant(null)), tie("v")), { minLength: 1, maxLength: 3 }).map((e) => new Map(e)),
  ),
})).v;

/** What a value decodes to: tuples come back as arrays; dicts whose keys are all str come back as objects. */
function expected(v: unknown, marshal: boolean): unknown {
  if (v instanceof PyTuple) return v.items.map((x) => expected(x, marshal));
  if (Array.isArray(v)) return v.map((x) => expected(x, marshal));
  if (v instanceof PyComplex) {
    if (marshal) return new PyComplex(v.real, v.imag);
    // Serpent's literal (-0.0+0.0j) is a sum, as in Python: -0.0 + 0.0 is 0.0 (and -0.0 - 0.0 stays -0.0).
    return new PyComplex(v.imag < 0 || Object.is(v.imag, -0) ? v.real - 0 : v.real + 0, v.imag);
  }
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, expected(x, marshal)]));
  if (v instanceof Set || v instanceof Uint8Array || v === null || typeof v !== "object") return v;
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "__proto__") Object.defineProperty(o, k, { value: expected(x, marshal), enumerable: true, writable: true, configurable: true });
    else o[k] = expected(x, marshal);
  }
  return o;
}

/** Objects that look like serpent's bytes dict or a class dict change meaning on purpose; leave them out. */
function special(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  if (v instanceof PyTuple) return v.items.some(special);
  if (Array.isArray(v)) return v.some(special);
  if (v instanceof Map) return [...v.values()].some(special);
  if (v instanceof Set || v instanceof Uint8Array || v instanceof PyComplex) return false;
  const keys = Object.keys(v);
  return keys.includes("__class__") || (keys.includes("data") && keys.includes("encoding")) || Object.values(v).some(special);
}

describe("fuzz: serpent decoder", () => {
  it("random text and serpent-ish token soup: a value or a coded error", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), serpentish), (text) => {
        codedOnly(() => parseSerpent(text));
        codedOnly(() => decodeSerpent(Buffer.from(text, "utf8")));
      }),
      { numRuns: 3000 },
    );
  });

  it("random bytes: a value or a coded error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => codedOnly(() => decodeSerpent(b))),
      { numRuns: 1000 },
    );
  });

  it("encode then decode gives the value back", () => {
    fc.assert(
      fc.property(value.filter((v) => !special(v)), (v) => {
        assert.deepStrictEqual(decodeSerpent(encodeSerpent(v)), expected(v, false));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("fuzz: marshal decoder", () => {
  it("random bytes and mutated documents: a value or a coded error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => codedOnly(() => decodeMarshal(b))),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(value, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), (v, flips) => {
        const b = encodeMarshal(v);
        for (const [at, val] of flips) b[at % b.length] = val;
        codedOnly(() => decodeMarshal(b));
      }),
      { numRuns: 1000 },
    );
  });

  it("encode then decode gives the value back", () => {
    fc.assert(
      fc.property(value.filter((v) => !special(v)), (v) => {
        assert.deepStrictEqual(decodeMarshal(encodeMarshal(v)), expected(v, true));
      }),
      { numRuns: 1000 },
    );
  });
});

/**
 * CPU time of `f` in ms, best of two: the machine is shared, so wall time
 * measures the neighbours; CPU time and the minimum measure the decoder.
 */
function cost(f: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  return best;
}

/**
 * `make(n)` builds an input of about n bytes. Decoding 4x the input may cost
 * at most 10x (linear, with room for the garbage collector, which works
 * harder once a result outgrows the young generation; quadratic is 16x and
 * more), and 1 MB at most 1.5 s of CPU.
 */
function linear(name: string, make: (n: number) => string | Uint8Array, decode: (input: string | Uint8Array) => void): void {
  const small = make(256 * 1024);
  const big = make(1024 * 1024);
  const a = cost(() => codedOnly(() => decode(small)));
  const b = cost(() => codedOnly(() => decode(big)));
  assert.ok(b < 1500, `${name}: 1 MB took ${b.toFixed(0)} ms of CPU`);
  assert.ok(b < Math.max(10 * a, 100), `${name}: 256 KB ${a.toFixed(1)} ms, 1 MB ${b.toFixed(1)} ms of CPU: not linear`);
}

describe("cost per byte: hostile inputs", () => {
  const serpent = (s: string | Uint8Array) => (typeof s === "string" ? parseSerpent(s) : decodeSerpent(s));
  const rep = (unit: string, n: number) => unit.repeat(Math.max(1, Math.floor(n / unit.length)));

  it("serpent: empty lists", () => {
    linear("empty lists", (n) => `[${rep("[],", n)}]`, serpent);
  });

  it("serpent: escapes", () => {
    linear("escapes", (n) => `'${rep("\\x41\\u00e9\\n", n)}'`, serpent);
  });

  it("serpent: dict keys", () => {
    linear("dict keys", (n) => `{${Array.from({ length: Math.floor(n / 12) }, (_, i) => `'k${i}':${i}`).join(",")}}`, serpent);
  });

  it("serpent: set members", () => {
    linear("set members", (n) => `{${Array.from({ length: Math.floor(n / 9) }, (_, i) => `'s${i}'`).join(",")}}`, serpent);
  });

  it("serpent: comments", () => {
    linear("comments", (n) => `${rep("# comment line\n", n)}1`, serpent);
  });

  it("serpent: 4300-digit ints", () => {
    linear("4300-digit ints", (n) => `[${rep(`${"7".repeat(4300)},`, n)}]`, serpent);
  });

  it("serpent: adjacent strings", () => {
    linear("adjacent strings", (n) => rep("'ab' ", n), serpent);
  });

  it("serpent: floats", () => {
    linear("floats", (n) => `(${rep("1.5e-7,", n)})`, serpent);
  });

  it("serpent: deep then wide", () => {
    linear("deep then wide", (n) => `[${rep(`${"[".repeat(150)}${"]".repeat(150)},`, n)}]`, serpent);
  });

  it("serpent: unterminated string", () => {
    linear("unterminated string", (n) => `'${"a".repeat(n)}`, serpent);
  });

  it("serpent: base64 bytes dicts", () => {
    linear("base64 bytes dicts", (n) => `[${rep("{'data':'QUJD','encoding':'base64'},", n)}]`, serpent);
  });

  it("serpent: a value count limit, not memory, stops a flood of tiny values", () => {
    const flood = `[${"0,".repeat(600_000)}]`;
    assert.throws(() => parseSerpent(flood, { limits: { maxItems: 500_000 } }), { code: "PAYLOAD_TOO_LARGE" });
  });

  it("marshal: many values, big ints, references, nested declared counts", () => {
    const marshal = (b: string | Uint8Array) => decodeMarshal(b as Uint8Array);
    const list = (count: number, item: number[]) => {
      const b = Buffer.alloc(5 + count * item.length);
      b[0] = 0x5b;
      b.writeInt32LE(count, 1);
      for (let i = 0; i < count; i++) b.set(item, 5 + i * item.length);
      return b;
    };
    linear("Nones", (n) => list(n, [0x4e]), marshal);
    linear("small ints", (n) => list(Math.floor(n / 5), [0x69, 1, 0, 0, 0]), marshal);
    linear("empty lists", (n) => list(Math.floor(n / 5), [0x5b, 0, 0, 0, 0]), marshal);
    const bigInt = [0x6c, 200, 0, 0, 0, ...Array.from({ length: 400 }, (_, i) => (i % 2 ? 0x7f : 0xff) & (i % 2 ? 0x7f : 0xff))];
    linear("big ints", (n) => list(Math.floor(n / bigInt.length), bigInt), marshal);
    // A flagged None, then references to it: each one costs its bytes.
    linear("references", (n) => {
      const count = Math.floor(n / 5);
      const b = Buffer.alloc(5 + 1 + count * 5);
      b[0] = 0x5b;
      b.writeInt32LE(count + 1, 1);
      b[5] = 0xce; // None | FLAG_REF
      for (let i = 0; i < count; i++) b.set([0x72, 0, 0, 0, 0], 6 + i * 5);
      return b;
    }, marshal);
    // Nested lists each declaring the whole remaining length: refused, and no preallocation.
    linear("nested declared counts", (n) => {
      const depth = 150;
      const b = Buffer.alloc(depth * 5 + n);
      for (let i = 0; i < depth; i++) {
        b[i * 5] = 0x5b;
        b.writeInt32LE(b.length - i * 5 - 5, i * 5 + 1);
      }
      b.fill(0x4e, depth * 5);
      return b;
    }, marshal);
  });

  it("messages: a trickle of one-byte reads costs its bytes; a huge declared body buffers nothing ahead", () => {
    const msg = encodeMessage({ type: 5, seq: 1, serializerId: 1, data: new Uint8Array(1024 * 1024) });
    const trickle = (n: number) => {
      const dec = new MessageDecoder();
      let got = 0;
      for (let i = 0; i < n; i++) got += dec.push(msg.subarray(i, i + 1)).length;
      for (let i = n; i < msg.length; i += 65536) got += dec.push(msg.subarray(i, Math.min(i + 65536, msg.length))).length;
      assert.equal(got, 1);
    };
    const a = cost(() => trickle(32 * 1024));
    const b = cost(() => trickle(256 * 1024));
    assert.ok(b < Math.max(20 * a, 60), `32K one-byte reads ${a.toFixed(1)} ms, 256K ${b.toFixed(1)} ms of CPU: not linear`);

    const header = encodeMessage({ type: 5, seq: 1, serializerId: 1, data: new Uint8Array(0) });
    const lie = Buffer.from(header);
    lie.writeInt32BE(60 * 1024 * 1024, 12);
    fixChecksum(lie);
    const dec = new MessageDecoder();
    const before = process.memoryUsage().arrayBuffers;
    assert.deepEqual(dec.push(lie), []);
    for (let i = 0; i < 100; i++) dec.push(new Uint8Array(100));
    assert.equal(dec.buffered, lie.length + 10_000);
    assert.ok(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024, "the declared 60 MB were allocated ahead");
  });
});
