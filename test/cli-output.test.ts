/** How `wirecall call` prints values JSON has no form for, and how it reads arguments. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseKwargs, parseValue } from "../cli/args.js";
import { formatJson, isStream } from "../cli/output.js";

describe("wirecall call output", () => {
  it("prints what JSON cannot hold in a stated form", () => {
    const value = { big: 2n ** 64n, bytes: new Uint8Array([1, 2, 3]), buf: Buffer.from("hi"), map: new Map([["a", 1]]), pairs: new Map([[1, "x"]]), set: new Set([1, 2]), none: undefined, when: new Date(0) };
    assert.equal(
      formatJson(value, false),
      '{"big":"18446744073709551616","bytes":"AQID","buf":"aGk=","map":{"a":1},"pairs":[[1,"x"]],"set":[1,2],"none":null,"when":"1970-01-01T00:00:00.000Z"}',
    );
    assert.equal(formatJson(undefined, false), "null");
    assert.equal(formatJson([1], true), "[\n  1\n]");
  });

  it("a stream is an async iterable, a string or array is not", () => {
    assert.ok(isStream((async function* () {})()));
    assert.ok(!isStream("abc") && !isStream([1]) && !isStream(null));
  });
});

describe("wirecall call arguments", () => {
  it("JSON when JSON, else the string; big integers keep their digits", () => {
    assert.deepEqual(["2", "-1.5", "true", "null", '"2"', "[1]", '{"a":1}', "Ada", "1e3", "{oops"].map(parseValue), [2, -1.5, true, null, "2", [1], { a: 1 }, "Ada", 1000, "{oops"]);
    assert.equal(parseValue("12345678901234567890"), 12345678901234567890n);
  });

  it("--kw name=value, refusing what cannot be a parameter", () => {
    assert.deepEqual({ ...parseKwargs(["z=3", "s=a=b"]) }, { z: 3, s: "a=b" });
    assert.equal(parseKwargs([]), undefined);
    for (const bad of [["novalue"], ["=1"], ["__proto__=1"], ["a=1", "a=2"]]) assert.throws(() => parseKwargs(bad), { name: "UsageError" }, bad.join(" "));
  });
});
