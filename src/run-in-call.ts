/**
 * Running a handler so that the calls it makes know the call it serves
 * (./deadline.ts): loaded with the serving half, so a page that only calls
 * does not carry it.
 */
import type { CallContext } from "./call-types.js";
import { callStorage, setCallStorage, type CallStorage } from "./deadline.js";

function detect(): CallStorage | null {
  type Builtin = (id: string) => { AsyncLocalStorage?: new () => CallStorage } | undefined;
  const proc = (globalThis as { process?: { getBuiltinModule?: Builtin } }).process;
  try {
    const Als = proc?.getBuiltinModule?.("node:async_hooks")?.AsyncLocalStorage;
    return Als ? new Als() : null;
  } catch {
    return null;
  }
}

/** Run a handler so that calls it makes know the call it serves. */
export function runInCall<R>(ctx: CallContext, fn: () => R): R {
  let s = callStorage();
  if (s === undefined) setCallStorage((s = detect()));
  return s ? s.run(ctx, fn) : fn();
}

