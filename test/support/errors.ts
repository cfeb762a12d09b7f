/**
 * Validators for `assert.rejects` / `assert.throws`: tests check an error's
 * stable `code` (and, where the wording is the point, its message), never
 * just that something failed.
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { RpcError } from "../../src/index.js";

/** An `RpcError` with this `code`, and a message matching `pattern` when given. */
export function coded(code: string, pattern?: RegExp): (err: unknown) => true {
  return (err: unknown): true => {
    assert.ok(err instanceof RpcError, `expected an RpcError ${code}, got ${inspect(err)}`);
    assert.equal(err.code, code, inspect(err));
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}
