/**
 * JSON as Python's json module writes it (the recipe's JSON idioms):
 * NaN/Infinity, big ints, "__proto__" keys, depth limits, and fuzzing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import { parsePythonJson, stringifyPythonJson } from "../protocols/python/python-json.js";

const isCode = (code: string) => (e: unknown) => e instanceof RpcError && e.code === code;

describe("Python-flavoured JSON", () => {
  it("reads what Python's json.dumps writes", () => {
    assert.deepEqual(parsePythonJson('["add", [1, 2.5, null, true, false], {"z": 3}]'), ["add", [1, 2.5, null, true, false], { z: 3 }]);
    const specials = parsePythonJson("[NaN, Infinity, -Infinity]") as number[];
    assert.ok(Number.isNaN(specials[0]));
    assert.deepEqual(specials.slice(1), [Infinity, -Infinity]);
    assert.equal(parsePythonJson("1180591620717411303424"), 2n ** 70n);
    assert.equal(parsePythonJson("-9007199254740991"), -9007199254740991);
    assert.equal(parsePythonJson("1e400"), Infinity);
    assert.equal(parsePythonJson('"h\\u00e9llo \\ud83d\\ude00 \\"q\\" \\\\"'), 'h\u00e9llo \u{1f600} "q" \\');
    const o = parsePythonJson('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(o), Object.prototype);
    assert.deepEqual(Object.keys(o), ["__proto__"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("refuses malformed text and excessive nesting with PROTOCOL_ERROR", () => {
    for (const bad of ["", "[", "[1,]", "{\"a\" 1}", "nan", "[1] x", "'a'", '"\\x41"', "01", "[--1]", '{"a":1,}', "\"a\nb\""]) {
      assert.throws(() => parsePythonJson(bad), isCode("PROTOCOL_ERROR"), JSON.stringify(bad));
    }
    assert.throws(() => parsePythonJson("9".repeat(5000)), isCode("PROTOCOL_ERROR"));
    assert.throws(() => parsePythonJson("[".repeat(300) + "]".repeat(300)), isCode("PROTOCOL_ERROR"));
    assert.deepEqual(parsePythonJson("[[[]]]", 3), [[[]]]);
    assert.throws(() => parsePythonJson("[[[[]]]]", 3), isCode("PROTOCOL_ERROR"));
  });

  it("writes what Python's json.loads reads back", () => {
    assert.equal(stringifyPythonJson([NaN, Infinity, -Infinity, 2n ** 70n, null, undefined]), "[NaN, Infinity, -Infinity, 1180591620717411303424, null, null]");
    assert.equal(stringifyPythonJson({ a: new Uint8Array([1, 2]), s: new Set([1]), m: new Map([[1, "x"]]), f: () => 1 }), '{"a": "AQI=", "s": [1], "m": {"1": "x"}}');
    assert.equal(stringifyPythonJson("lone \ud800"), '"lone \\ud800"');
    const loop: unknown[] = [];
    loop.push(loop);
    assert.throws(() => stringifyPythonJson(loop), isCode("SERIALIZE_ERROR"));
    assert.throws(() => stringifyPythonJson(Symbol("x")), isCode("SERIALIZE_ERROR"));
  });

  it("fuzz: arbitrary text only ever parses or fails with PROTOCOL_ERROR", () => {
    const alphabet = fc.constantFrom(..."[]{}\",:0123456789.eE-+ \\tnrufalsNIy\u00e9");
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 40 })), (s) => {
        try {
          parsePythonJson(s);
        } catch (e) {
          if (!(e instanceof RpcError && e.code === "PROTOCOL_ERROR")) throw e;
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("round-trips JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        // Integers written without an exponent beyond the safe range come back as BigInt, as Python ints.
        const expected: unknown = JSON.parse(JSON.stringify(v), (_k, x: unknown) =>
          typeof x === "number" && Number.isInteger(x) && !Number.isSafeInteger(x) && !/e/.test(String(x)) ? BigInt(String(x)) : x,
        );
        assert.deepStrictEqual(parsePythonJson(stringifyPythonJson(v)), expected);
      }),
      { numRuns: 1000 },
    );
  });
});
