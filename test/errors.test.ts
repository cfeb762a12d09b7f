import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ErrorCodes, RemoteError, RpcError, registerError, unregisterError } from "../src/index.js";
import { fromWireError, toWireError } from "../src/transport-sdk.js";

class QuotaError extends Error {
  constructor(readonly limit: number) {
    super(`over quota ${limit}`);
    this.name = "QuotaError";
  }
}

describe("errors", () => {
  it("has stable codes that equal their keys", () => {
    for (const [k, v] of Object.entries(ErrorCodes)) assert.equal(k, v);
    for (const c of ["METHOD_NOT_FOUND", "INVALID_PARAMS", "TIMEOUT", "CANCELLED", "CONNECTION_CLOSED", "AUTH_FAILED", "PAYLOAD_TOO_LARGE", "PROTOCOL_ERROR", "SERIALIZE_ERROR"]) {
      assert.ok(c in ErrorCodes, c);
    }
  });

  it("round-trips name, message, code, data, props and the cause chain", () => {
    const inner = Object.assign(new RangeError("inner"), { code: "E_INNER" });
    const outer = Object.assign(new Error("outer", { cause: inner }), { data: { why: 1 }, retry: true });
    const wire = toWireError(outer);
    assert.deepEqual(wire, {
      name: "Error",
      message: "outer",
      code: "REMOTE_ERROR",
      data: { why: 1 },
      props: { retry: true },
      cause: { name: "RangeError", message: "inner", code: "E_INNER" },
    });
    const back = fromWireError(JSON.parse(JSON.stringify(wire))) as RemoteError & { retry?: boolean };
    assert.ok(back instanceof RemoteError && back instanceof RpcError && back instanceof Error);
    assert.equal(back.name, "Error");
    assert.equal(back.code, "REMOTE_ERROR");
    assert.deepEqual(back.data, { why: 1 });
    assert.equal(back.retry, true);
    assert.equal((back.cause as RemoteError).name, "RangeError");
    assert.equal((back.cause as RemoteError).code, "E_INNER");
  });

  it("sends a numeric code as its decimal string", () => {
    assert.equal(toWireError(Object.assign(new Error("x"), { code: 42 })).code, "42");
    assert.equal(toWireError(Object.assign(new Error("x"), { code: Number.NaN })).code, "REMOTE_ERROR");
  });

  it("keeps stacks only when asked, and appends the local stack", () => {
    const e = new TypeError("x");
    assert.equal(toWireError(e).stack, undefined);
    const wire = toWireError(e, true);
    assert.match(wire.stack ?? "", /errors\.test/);
    const back = fromWireError(wire, "Error\n    at localCaller (here.js:1:1)") as RemoteError;
    assert.match(back.stack ?? "", /\[remote\]/);
    assert.match(back.stack ?? "", /localCaller/);
    assert.equal(back.remoteStack, wire.stack);
  });

  it("rebuilds registered classes without running their constructor", () => {
    registerError(QuotaError);
    try {
      const wire = toWireError(new QuotaError(5));
      const back = fromWireError(wire) as QuotaError & { code: string };
      assert.ok(back instanceof QuotaError);
      assert.equal(back.message, "over quota 5");
      assert.equal(back.limit, 5);
      assert.equal(back.code, "REMOTE_ERROR");
    } finally {
      unregisterError("QuotaError");
    }
    assert.ok(fromWireError(toWireError(new QuotaError(1))) instanceof RemoteError);
  });

  it("refuses dangerous registrations and ignores hostile names and props", () => {
    assert.throws(() => registerError(QuotaError, "__proto__"), TypeError);
    assert.throws(() => registerError(QuotaError, "constructor"), TypeError);
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "prototype"]) {
      const e = fromWireError({ name, message: "m", code: "X", props: JSON.parse(`{"__proto__": {"polluted": true}, "constructor": 1, "ok": 2}`) });
      assert.ok(e instanceof RemoteError);
      assert.equal(e.name, name);
      assert.equal((e as unknown as { ok: number }).ok, 2);
      assert.equal(({} as { polluted?: boolean }).polluted, undefined);
      assert.equal(Object.getPrototypeOf(e), RemoteError.prototype);
    }
  });

  it("converts anything thrown, never throwing itself (property)", () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true }), (v) => {
        const w = toWireError(v);
        return typeof w.name === "string" && typeof w.message === "string" && typeof w.code === "string";
      }),
    );
    const hostile = { toString() { throw new Error("no"); } };
    assert.equal(toWireError(hostile).message, "unknown error");
    const cyclic = new Error("loop") as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    let depth = 0;
    for (let w = toWireError(cyclic); w.cause; w = w.cause) depth++;
    assert.ok(depth <= 8);
  });
});
