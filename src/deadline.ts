/**
 * The call being served, for calls made while serving it: they inherit its
 * deadline and its cancellation (a chain A -> B -> C stops everywhere when
 * A's deadline passes). On Node the call is found through AsyncLocalStorage
 * without an import (the core stays browser-safe): it is taken from
 * `process.getBuiltinModule("node:async_hooks")` at first use. Elsewhere
 * pass `{ parent: ctx }`, or install a storage with {@link setCallStorage}
 * (Deno, Bun, a zone-like library). Running a handler inside it is
 * ./run-in-call.ts, loaded where calls are served.
 */
import type { CallContext } from "./call-types.js";

/** The two methods of AsyncLocalStorage that are used. */
export interface CallStorage {
  run<R>(store: CallContext, fn: () => R): R;
  getStore(): CallContext | undefined;
}

// undefined: not looked for yet; null: none on this platform (or turned off).
let storage: CallStorage | null | undefined;

/**
 * Use `s` to find the call being served (null: never; calls then inherit
 * only through `{ parent: ctx }`). Node needs none of this.
 */
export function setCallStorage(s: CallStorage | null): void {
  storage = s;
}

/** The storage in use; undefined until looked for (./run-in-call.ts looks, where calls are served). */
export function callStorage(): CallStorage | null | undefined {
  return storage;
}

/** The call being served by the code running now, if known. */
export function currentCall(): CallContext | undefined {
  return storage ? storage.getStore() : undefined;
}
