/**
 * What users mark and hold: `ref(obj)` sends an object by reference, and
 * `keep()`/`release()` manage the lifetime of references received.
 */
import { RpcError } from "../errors.js";

const byReference = new WeakSet<object>();

/**
 * Mark `obj` to travel by reference: the receiver gets a proxy whose method
 * calls run here, on `obj` (Pyro's autoproxy, capnweb's `RpcTarget`).
 * Public methods only: names starting with `_`, `constructor` and what
 * `Object.prototype` has are not callable remotely. Returns `obj`.
 */
export function ref<T extends object>(obj: T): T {
  if ((typeof obj !== "object" && typeof obj !== "function") || obj === null) throw new TypeError("ref() takes an object");
  byReference.add(obj);
  return obj;
}

/** True when `v` was marked with {@link ref}. */
export function isRef(v: object): boolean {
  return byReference.has(v);
}

/** The side of a received reference that can keep or release it (a RefSession). */
export interface RefOwner {
  keep(id: number): void;
  release(id: number): void;
}

const stubs = new WeakMap<object, { owner: RefOwner; id: number }>();

/** Remember that `stub` stands for reference `id` of `owner`. */
export function registerStub(stub: object, owner: RefOwner, id: number): void {
  stubs.set(stub, { owner, id });
}

/** The owner and id behind a received callback or reference proxy. */
export function stubInfo(v: unknown): { owner: RefOwner; id: number } | undefined {
  return (typeof v === "function" || (typeof v === "object" && v !== null)) ? stubs.get(v) : undefined;
}

function infoOf(v: unknown, what: string): { owner: RefOwner; id: number } {
  const info = stubInfo(v);
  if (!info) throw new RpcError("INVALID_PARAMS", `${what}() takes a callback or reference proxy received from a peer`);
  return info;
}

/**
 * Keep a callback or reference received as an argument past the end of the
 * call that carried it. Call it while that call runs; the reference then
 * lives until {@link release} or the connection closes.
 */
export function keep<T>(v: T): T {
  const { owner, id } = infoOf(v, "keep");
  owner.keep(id);
  return v;
}

/** Let go of a kept or returned reference: the peer forgets it; calling it afterwards fails with `REFERENCE_RELEASED`. */
export function release(v: unknown): void {
  const { owner, id } = infoOf(v, "release");
  owner.release(id);
}
