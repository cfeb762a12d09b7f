/**
 * Fuzz targets for the XML-RPC decoders (`decodeMethodCall`, the server's;
 * `decodeMethodResponse`, the client's; the `xmlrpc` serializer's decode).
 * Every input must end in a value or a coded `RpcError` (PROTOCOL_ERROR or
 * PAYLOAD_TOO_LARGE with a numeric faultCode), cost CPU time in proportion
 * to its bytes (checked against an honest document measured in the same
 * process, with slack for a collection), and decode to a value no larger
 * than a constant times its bytes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import { decodeMethodCall, decodeMethodResponse, encodeMethodCall, encodeMethodResponse, xmlrpcSerializer, type DecodeOptions } from "../protocols/xmlrpc/index.js";

type Decoder = (input: string | Uint8Array, options?: DecodeOptions) => unknown;

const serializerDecode: Decoder = (input) => xmlrpcSerializer.decode(typeof input === "string" ? new TextEncoder().encode(input) : input);
const DECODERS: readonly [string, Decoder][] = [
  ["decodeMethodCall", decodeMethodCall],
  ["decodeMethodResponse", decodeMethodResponse],
  ["xmlrpcSerializer.decode", serializerDecode],
];

/** Rough heap size of a decoded value: what a decoder hands over must stay proportional to its input. */
function sizeOf(v: unknown, seen = new Set<unknown>()): number {
  if (typeof v === "string") return 16 + 2 * v.length;
  if (typeof v !== "object" || v === null) return 16;
  if (seen.has(v)) return 0;
  seen.add(v);
  if (v instanceof Uint8Array) return 96 + v.length;
  if (v instanceof Date) return 64;
  let n = 64;
  for (const [k, x] of Object.entries(v)) n += 16 + 2 * k.length + sizeOf(x, seen);
  return n;
}

function decodeOnce(decode: Decoder, input: string | Uint8Array, options?: DecodeOptions): unknown {
  try {
    return decode(input, options);
  } catch (err) {
    assert.ok(err instanceof RpcError, `an uncoded failure: ${String((err as Error)?.stack ?? err)}`);
    assert.ok(err.code === "PROTOCOL_ERROR" || err.code === "PAYLOAD_TOO_LARGE", `code ${err.code}: ${err.message}`);
    assert.equal(typeof (err as { faultCode?: unknown }).faultCode, "number", "a fault code for the server to answer with");
    return undefined;
  }
}

/** CPU milliseconds `f` took: on a loaded machine wall time measures the neighbours, CPU time the decoder. */
function timeOf(f: () => void): number {
  const start = process.cpuUsage();
  f();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Milliseconds per byte of an honest, mixed document of about 300 KB: the yardstick for everything else. */
const perByte = ((): number => {
  const row = { id: 12345, name: "a name & more", when: new Date(0), ok: true, score: 2.5, tags: ["x", "y"], blob: new Uint8Array(16) };
  const doc = encodeMethodCall("bulk.insert", [Array.from({ length: 1000 }, () => row)]);
  let best = Infinity;
  for (let i = 0; i < 5; i++) best = Math.min(best, timeOf(() => decodeMethodCall(doc)) / doc.length);
  return best;
})();

/** Slack for a garbage collection (its helper threads count as CPU too), and the allowed multiple of the honest cost per byte. */
const SLACK_MS = 30;
const FACTOR = 25;

function check(input: string | Uint8Array, options?: DecodeOptions): void {
  const bytes = typeof input === "string" ? input.length : input.byteLength;
  for (const [name, decode] of DECODERS) {
    let value: unknown;
    const budget = SLACK_MS + FACTOR * perByte * bytes;
    let ms = timeOf(() => (value = decodeOnce(decode, input, options)));
    // A slow run is measured again: only a cost that repeats is the decoder's.
    for (let retry = 0; retry < 2 && ms > budget; retry++) ms = Math.min(ms, timeOf(() => decodeOnce(decode, input, options)));
    assert.ok(ms <= budget, `${name}: ${bytes} bytes took ${ms.toFixed(1)} ms, over ${budget.toFixed(1)} ms (${(perByte * 1e6).toFixed(0)} ns/byte honest)`);
    if (value !== undefined) {
      const size = sizeOf(value);
      assert.ok(size <= 16 * bytes + 1024, `${name}: ${bytes} bytes decoded to about ${size} bytes of values`);
    }
  }
}

const TOKENS = [
  "<methodCall>", "</methodCall>", "<methodResponse>", "</methodResponse>", "<methodName>", "</methodName>", "<params>", "</params>",
  "<param>", "</param>", "<value>", "</value>", "<value/>", "<struct>", "</struct>", "<member>", "</member>", "<name>", "</name>",
  "<array>", "</array>", "<data>", "</data>", "<fault>", "</fault>", "<int>", "</int>", "<i8>", "</i8>", "<string>", "</string>",
  "<base64>", "</base64>", "<boolean>", "</boolean>", "<double>", "</double>", "<dateTime.iso8601>", "</dateTime.iso8601>", "<nil/>",
  "<![CDATA[", "]]>", "<!--", "-->", "&amp;", "&#0;", "&#x1F600;", "&x;", "<!DOCTYPE a>", "<!ENTITY e 'x'>", "<?xml version='1.0'?>",
  "<?pi x?>", "1", "-7", "1e999", "abc", "AA==", "20240101T00:00:00", " ", "\n", "\r\n", "<", ">", "&", "'", '"', "a='1'", "faultCode",
  "faultString", "\u00e9", "\uD83D\uDE00",
];
const token = fc.constantFrom(...TOKENS);

describe("xmlrpc fuzz: crashes, cost per byte and size per byte", () => {
  it(`calibrated on an honest document: ${(perByte * 1e6).toFixed(0)} ns per byte`, () => {
    assert.ok(perByte > 0 && Number.isFinite(perByte));
  });

  it("random text and bytes", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 400 }), (s) => check(s)), { numRuns: 400 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => check(b)), { numRuns: 300 });
  });

  it("token soup, short and repeated into large documents", () => {
    fc.assert(fc.property(fc.array(token, { maxLength: 80 }), (ts) => check(ts.join(""))), { numRuns: 1500 });
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 12 }), fc.array(token, { maxLength: 12 }), fc.integer({ min: 100, max: 6000 }), (prefix, unit, times) =>
        check(prefix.join("") + unit.join("").repeat(times)),
      ),
      { numRuns: 120 },
    );
  });

  it("long runs inside every element (the backtracking and superlinear-parse class)", () => {
    const tags = ["int", "i4", "i8", "biginteger", "double", "boolean", "string", "base64", "dateTime.iso8601", "nil", "name", "methodName", "unknown"];
    const units = ["1", "-", "+", ".", "e", "a", "=", " ", "\n", "&amp;", "&#65;", "<!---->", "<![CDATA[x]]>", "T", ":", "Z", "1.", "1e", "<value/>"];
    const docs = (tag: string, body: string): string[] => {
      const value = tag === "name" ? `<value><struct><member><name>${body}</name><value/></member></struct></value>` : `<value><${tag}>${body}</${tag}></value>`;
      return [
        tag === "methodName" ? `<methodCall><methodName>${body}</methodName></methodCall>` : `<methodCall><methodName>m</methodName><params><param>${value}</param></params></methodCall>`,
        `<methodResponse><params><param>${value}</param></params></methodResponse>`,
      ];
    };
    // Every element with every run, 20,000 long, ending well or badly: a grid, so no case is left to chance.
    for (const tag of tags) for (const unit of units) for (const tail of ["", "x"]) for (const d of docs(tag, unit.repeat(Math.ceil(20_000 / unit.length)) + tail)) check(d);
    // And random lengths and tails on top.
    fc.assert(
      fc.property(fc.constantFrom(...tags), fc.constantFrom(...units), fc.integer({ min: 1, max: 60_000 }), fc.constantFrom("", "x", "1", "=", "<value/>"), (tag, unit, times, tail) => {
        for (const d of docs(tag, unit.repeat(times) + tail)) check(d);
      }),
      { numRuns: 60 },
    );
  });

  it("mutations of valid calls and answers built from random values", () => {
    const text = fc.string({ maxLength: 12 });
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: "small" }, fc.integer(), fc.double(), fc.boolean(), text, fc.constant(null), fc.uint8Array({ maxLength: 12 }), tie("array"), tie("struct")),
      array: fc.array(tie("value"), { maxLength: 4 }),
      struct: fc.dictionary(text, tie("value"), { maxKeys: 4 }),
    }));
    const edit = fc.tuple(fc.nat(), fc.nat(4), fc.oneof(fc.string({ unit: "binary-ascii", maxLength: 4 }), token));
    fc.assert(
      fc.property(fc.array(value, { maxLength: 3 }), fc.array(edit, { minLength: 1, maxLength: 5 }), fc.boolean(), (params, edits, asAnswer) => {
        let doc: string;
        try {
          doc = asAnswer ? encodeMethodResponse(params) : encodeMethodCall("m.n", params);
        } catch {
          return; // a value XML-RPC cannot carry (an unpaired surrogate in a generated string)
        }
        for (const [at, del, ins] of edits) {
          const i = at % (doc.length + 1);
          doc = doc.slice(0, i) + ins + doc.slice(i + del);
        }
        check(doc);
      }),
      { numRuns: 1500 },
    );
  });

  it("tight limits are enforced on every path, with the same cost rule", () => {
    const limits: DecodeOptions = { maxElements: 50, maxStringLength: 20, maxDepth: 3 };
    fc.assert(fc.property(fc.array(token, { maxLength: 200 }), (ts) => check(ts.join(""), limits)), { numRuns: 800 });
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 10 }), fc.integer({ min: 10, max: 20_000 }), (unit, times) => check(unit.join("").repeat(times), limits)),
      { numRuns: 80 },
    );
  });
});
