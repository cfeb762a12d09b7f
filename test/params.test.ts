import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import { bindArguments, readParams, type Param } from "../src/transport-sdk.js";

const names = (fn: Function) => readParams(fn)?.map((p) => (p.rest ? `...${p.name}` : p.optional ? `${p.name}?` : p.name));

describe("readParams", () => {
  it("reads plain, arrow, async and method parameter lists", () => {
    assert.deepEqual(names(function add(x: number, y: number) { return x + y; }), ["x", "y"]);
    assert.deepEqual(names((a: number, b = 2) => a + b), ["a", "b?"]);
    assert.deepEqual(names(async (a: number) => a), ["a"]);
    assert.deepEqual(names(new Function("x", "return x") as Function), ["x"]);
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    assert.deepEqual(names(eval("(async x => x)") as Function), ["x"]);
    assert.deepEqual(names(eval("x => x") as Function), ["x"]);
    assert.deepEqual(names(() => 1), []);
    class C {
      greet(name: string, punct = "!") {
        return name + punct;
      }
      async later(n: number) {
        return n;
      }
      *gen(a: number) {
        yield a;
      }
    }
    assert.deepEqual(names(C.prototype.greet), ["name", "punct?"]);
    assert.deepEqual(names(C.prototype.later), ["n"]);
    assert.deepEqual(names(C.prototype.gen), ["a"]);
  });

  it("handles defaults containing parentheses, strings, commas and comments", () => {
    const f = eval(`(function f(a = g(1, 2), b = "x,)y", /* c, */ c = [1, (2)], d = { k: ')' }, ...rest) {})`) as Function;
    assert.deepEqual(names(f), ["a?", "b?", "c?", "d?", "...rest"]);
    const g = eval("(function g(a, // trailing\n b,\n) {})") as Function;
    assert.deepEqual(names(g), ["a", "b"]);
  });

  it("gives up on destructuring, native and bound functions", () => {
    assert.equal(readParams(({ a }: { a: number }) => a), undefined);
    assert.equal(readParams(([a]: number[]) => a), undefined);
    assert.equal(readParams(Math.max), undefined);
    assert.equal(readParams(function f(this: unknown, x: number) { return x; }.bind(null)), undefined);
  });
});

const P = (spec: string): Param[] =>
  spec.split(",").filter(Boolean).map((s) => ({ name: s.replace(/[?.]/g, ""), optional: s.endsWith("?") || s.startsWith("..."), rest: s.startsWith("...") }));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as RpcError).code;
  }
  return undefined;
}

describe("bindArguments", () => {
  it("binds like Python", () => {
    const ps = P("a,b,z?");
    assert.deepEqual(bindArguments("f", ps, [1, 2], { z: 3 }), [1, 2, 3]);
    assert.deepEqual(bindArguments("f", ps, [], { b: 2, a: 1 }), [1, 2]);
    assert.deepEqual(bindArguments("f", ps, [1], { b: 2 }), [1, 2]);
    assert.deepEqual(bindArguments("f", P("a,b?,c?"), [1], { c: 3 }), [1, undefined, 3]);
    assert.deepEqual(bindArguments("f", P("a,...rest"), [1, 2, 3], undefined), [1, 2, 3]);
  });

  it("names the offending parameter", () => {
    const ps = P("a,b,z?");
    const msg = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        assert.equal((e as RpcError).code, "INVALID_PARAMS");
        return (e as Error).message;
      }
      assert.fail("did not throw");
    };
    assert.match(msg(() => bindArguments("f", ps, [1], undefined)), /'b'/);
    assert.match(msg(() => bindArguments("f", ps, [1, 2], { q: 1 })), /unexpected keyword argument 'q'/);
    assert.match(msg(() => bindArguments("f", ps, [1, 2], { a: 1 })), /multiple values for argument 'a'/);
    assert.match(msg(() => bindArguments("f", ps, [1, 2, 3, 4], undefined)), /takes 3 positional/);
    assert.match(msg(() => bindArguments("f", undefined, [1], { a: 1 })), /positional arguments only/);
    assert.match(msg(() => bindArguments("f", ps, [1, 2], JSON.parse(`{"__proto__": 1}`) as Record<string, unknown>)), /'__proto__'/);
  });

  it("never throws anything but INVALID_PARAMS, and keeps positional order (property)", () => {
    const param = fc.record({ name: fc.constantFrom("a", "b", "c", "d", "rest"), optional: fc.boolean(), rest: fc.constant(false) });
    fc.assert(
      fc.property(
        fc.uniqueArray(param, { selector: (p) => p.name, maxLength: 4 }),
        fc.array(fc.integer(), { maxLength: 6 }),
        fc.dictionary(fc.constantFrom("a", "b", "c", "d", "x", "__proto__", "constructor"), fc.integer(), { maxKeys: 4 }),
        (ps, args, kwargs) => {
          const c = code(() => bindArguments("f", ps, args, kwargs));
          if (c !== undefined) return c === "INVALID_PARAMS";
          const out = bindArguments("f", ps, args, kwargs);
          return args.every((v, i) => out[i] === v) && Object.entries(kwargs).every(([k, v]) => out[ps.findIndex((p) => p.name === k)] === v);
        },
      ),
    );
  });
});
