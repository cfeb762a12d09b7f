/**
 * `connect` checks options in two steps a page loads apart (the query
 * string's reader, src/option-query.ts, only for a URL with a query; the
 * words of a refusal, src/option-errors.ts, only for a refused option), and
 * sync callers use `resolveOptions`, which runs both at once. Random option
 * bags and query strings must get the same answer either way: the same
 * error (code, message, data) when refused, and the sync reader must never
 * throw anything but a coded RpcError.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError, connect } from "../src/index.js";
import { resolveOptions } from "../src/option-errors.js";
import { CONNECT_OPTIONS } from "../src/options.js";
import { wsTransport } from "../transports/ws/index.js";

const specs = { ...CONNECT_OPTIONS, ...wsTransport.options?.connect };
// `profile` picks another protocol's client, whose options join the specs (and which is looked up first): not drawn.
const names = Object.keys(specs).filter((n) => n !== "profile");

/** Known names, near misses of them (one character dropped, doubled or changed case), secrets and random names. */
const name = fc.oneof(
  fc.constantFrom(...names),
  fc.tuple(fc.constantFrom(...names), fc.nat(), fc.constantFrom("drop", "double", "case")).map(([n, i, how]) => {
    const at = i % n.length;
    return how === "drop" ? n.slice(0, at) + n.slice(at + 1) : how === "double" ? n.slice(0, at) + n[at] + n.slice(at) : n.toLowerCase();
  }),
  fc.constantFrom("authkey", "password", "passphrase", "__proto__", "toString", "constructor"),
  fc.string({ minLength: 1, maxLength: 12 }).filter((n) => n !== "profile"),
);

const value = fc.oneof(
  fc.double(),
  fc.integer({ min: -5, max: 100_000 }),
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(() => 1),
  fc.constant(new Uint8Array(2)),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

const queryText = fc.oneof(fc.constantFrom("", "1", "0", "yes", "no", "true", "-1", "5000", "abc", "1e3", " "), fc.string({ maxLength: 6 }));

function described(e: unknown): { code: unknown; message: unknown; data: unknown } {
  assert.ok(e instanceof RpcError, `not an RpcError: ${String(e)}`);
  return { code: e.code, message: e.message, data: e.data };
}

describe("options: connect's lazily worded refusals", () => {
  it("say exactly what the sync resolveOptions says, for random options and query strings", async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, queryText), { maxLength: 3 }), fc.array(fc.tuple(name, value), { maxLength: 4 }), async (query, pairs) => {
        const url = new URL("ws://127.0.0.1:1/rpc");
        for (const [k, v] of query) url.searchParams.append(k, v);
        const bag: Record<string, unknown> = {};
        for (const [k, v] of pairs) Object.defineProperty(bag, k, { value: v, enumerable: true, configurable: true, writable: true });
        let expected: ReturnType<typeof described> | undefined;
        try {
          resolveOptions(url, bag, specs, 'connect("ws://...")', true);
        } catch (e) {
          expected = described(e);
        }
        // Accepted options would dial port 1 (and may ask to reconnect): only refusals are compared.
        if (!expected) return;
        refused++;
        assert.ok(expected.code === "INVALID_OPTION" || expected.code === "INVALID_URL", String(expected.message));
        await assert.rejects(connect(url, bag), (e: unknown) => {
          assert.deepEqual(described(e), expected);
          return true;
        });
      }),
      { numRuns: 300 },
    );
    // The generators must mostly make refusals, or this compares nothing.
    assert.ok(refused > 100, `only ${refused} of 300 runs were refused`);
  });
});
