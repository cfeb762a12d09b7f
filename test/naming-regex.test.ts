/**
 * The name server's linear-time regex (src/naming/name-regex.ts): it agrees
 * with a backtracking engine on the subset it accepts (fast-check, random
 * patterns and names), its cost is bounded by pattern x name size, and
 * what needs backtracking is refused with a code.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import { NameRegex } from "../src/naming/name-regex.js";

const BIG = { steps: 0, max: Number.MAX_SAFE_INTEGER };

function matches(pattern: string, name: string): boolean {
  return new NameRegex(pattern, 4096).match(name, { ...BIG });
}

// Patterns over a small alphabet, so random names hit them often.
const atom: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("a", "b", "c", ".", "\\d", "\\w", "[ab]", "[^a]", "[a-c]", "\\.", "1"),
);
const pattern: fc.Arbitrary<string> = fc.letrec<{ re: string; seq: string; item: string }>((tie) => ({
  re: fc.oneof({ depthSize: "small" }, tie("seq"), fc.tuple(tie("seq"), tie("seq")).map(([a, b]) => `${a}|${b}`)),
  seq: fc.array(tie("item"), { minLength: 1, maxLength: 4 }).map((xs) => xs.join("")),
  item: fc.oneof(
    { depthSize: "small" },
    atom,
    fc.tuple(atom, fc.constantFrom("*", "+", "?", "{2}", "{1,3}", "{2,}", "*?")).map(([a, q]) => a + q),
    fc.tuple(tie("re"), fc.constantFrom("", "*", "+", "?")).map(([r, q]) => `(?:${r})${q}`),
  ),
})).re;
const anchored = fc.tuple(fc.boolean(), pattern, fc.boolean()).map(([b, p, e]) => `${b ? "^" : ""}${p}${e ? "$" : ""}`);
const name = fc.string({ unit: fc.constantFrom("a", "b", "c", "1", ".", "_", "z"), maxLength: 12 });

describe("name server regex", () => {
  it("agrees with a backtracking engine's re.match (anchored at the start) on the subset", () => {
    fc.assert(
      fc.property(anchored, name, (p, n) => {
        const expected = new RegExp(`^(?:${p})`).test(n);
        assert.equal(matches(p, n), expected, `${p} on ${JSON.stringify(n)}`);
      }),
      { numRuns: 3000 },
    );
  });

  it("handles what Python's re does: classes, escapes, counted repeats, \\A \\Z, named groups", () => {
    assert.ok(matches("shop\\.(?P<what>cart|stock)\\Z", "shop.cart"));
    assert.ok(!matches("shop\\.(cart|stock)$", "shop.carts"));
    assert.ok(matches("\\Ax{2,3}y", "xxxy"));
    assert.ok(!matches("x{2,3}y", "xy"));
    assert.ok(matches("[\\w.-]+@", "a.b-c@"));
    assert.ok(matches("[]a]", "]"));
    assert.ok(matches("a{,2}b", "b"));
    assert.ok(matches("a{x", "a{x"), "'{' not starting a repeat is a literal, as in Python");
    assert.ok(matches("\\x41\\u00e9", "A\u00e9"));
    assert.ok(matches("\\w+$", "caf\u00e9"), "\\w is Unicode, as for Python's str");
    assert.ok(matches("a$", "a\n"), "$ before a final newline, as in Python");
    assert.ok(matches("", "anything"));
  });

  it("refuses what needs backtracking or is malformed with INVALID_PARAMS", () => {
    for (const bad of ["(a)\\1", "(?P<x>a)(?P=x)", "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b", "(ab", "ab)", "*a", "a**+", "[ab", "\\", "\\q", "a{3,1}", "(?i)a"]) {
      assert.throws(() => new NameRegex(bad, 4096), (e: unknown) => e instanceof RpcError && e.code === "INVALID_PARAMS", bad);
    }
  });

  it("costs at most (program size) x (name length) steps, whatever the pattern", () => {
    fc.assert(
      fc.property(anchored, fc.string({ unit: fc.constantFrom("a", "b", "1"), minLength: 0, maxLength: 300 }), (p, n) => {
        const re = new NameRegex(p, 4096);
        const budget = { ...BIG };
        re.match(n, budget);
        // Each position visits each instruction at most twice (closure + step).
        assert.ok(budget.steps <= 2 * re.size * (n.length + 1), `${p}: ${budget.steps} steps, size ${re.size}, length ${n.length}`);
      }),
      { numRuns: 1000 },
    );
  });

  it("stops with NAMING_LIMIT when a list would spend past its step budget", () => {
    const re = new NameRegex("(a|a?)+b", 4096);
    const budget = { steps: 0, max: 10_000 };
    assert.throws(
      () => {
        for (let i = 0; i < 100; i++) re.match("a".repeat(200), budget);
      },
      (e: unknown) => e instanceof RpcError && e.code === "NAMING_LIMIT",
    );
    assert.throws(() => new NameRegex("a{500}", 100), (e: unknown) => e instanceof RpcError && e.code === "NAMING_LIMIT");
  });
});
