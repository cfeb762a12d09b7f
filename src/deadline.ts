/**
 * The call being served, for calls made while serving it: they inherit its
 * deadline and its cancellation (a chain A -> B -> C stops everywhere when
 * A's deadline passes). On Node the call is found through AsyncLocalStorage
 * without an import (the core stays browser-safe): it is taken from
 * `process.getBuiltinModule("node:async_hooks")` at first use. Elsewhere
 * pass `{ parent: ctx }`, or install a storage with {@link setCallStorage}
 * (Deno, Bun, a zone-like library).
 */
import type { CallContext } from "./call-types.js";

/** The two methods of AsyncLocalStorage that are used. */
export interface CallStorage {
  run<R>(store: CallContext, fn: () => R): R;
  getStore(): CallContext | undefined;
}

// undefined: not looked for yet; null: none on this platform (or turned off).
let storage: CallStorage | null | undefined;

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

/**
 * Use `s` to find the call being served (null: never; calls then inherit
 * only through `{ parent: ctx }`). Node needs none of this.
 */
export function setCallStorage(s: CallStorage | null): void {
  storage = s;
}

/** Run a handler so that calls it makes know the call it serves. */
export function runInCall<R>(ctx: CallContext, fn: () => R): R {
  const s = storage === undefined ? (storage = detect()) : storage;
  return s ? s.run(ctx, fn) : fn();
}

/** The call being served by the code running now, if known. */
export function currentCall(): CallContext | undefined {
  return storage ? storage.getStore() : undefined;
}
