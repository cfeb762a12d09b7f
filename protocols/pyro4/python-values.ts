/**
 * JavaScript stand-ins for Python values that have no JavaScript twin, and
 * the Python exception that Pyro4 serializers carry as a class dict.
 */
import { PythonError } from "../python/python-exceptions.js";

export { PyTuple } from "../python/pickle-encoder.js";

/** A Python complex number. */
export class PyComplex {
  constructor(
    readonly real: number,
    readonly imag: number,
  ) {}
}

/**
 * A Python exception received from Pyro4 (serpent, json and marshal carry
 * it as `{"__class__": "builtins.ValueError", "__exception__": True,
 * "args": (...), "attributes": {...}}`). `name` is the class name without
 * its module (`ValueError`, `NamingError`), `pythonClass` the full one;
 * `remoteTraceback` is the server's formatted traceback when Pyro4 sent it
 * (the `_pyroTraceback` attribute).
 */
export class Pyro4RemoteError extends PythonError {
  /** The dotted class name as sent (`builtins.ZeroDivisionError`, `Pyro4.errors.NamingError`). */
  readonly pythonClass: string;
  /** Pyro4's remote traceback text, when the daemon included it. */
  readonly remoteTraceback: string | undefined;

  constructor(pythonClass: string, args: readonly unknown[], attributes?: Record<string, unknown>) {
    super(shortName(pythonClass), args, attributes);
    this.pythonClass = pythonClass;
    const tb = attributes?._pyroTraceback;
    this.remoteTraceback = Array.isArray(tb) && tb.every((l) => typeof l === "string") ? tb.join("") : typeof tb === "string" ? tb : undefined;
  }
}

function shortName(cls: string): string {
  const dot = cls.lastIndexOf(".");
  return dot >= 0 ? cls.slice(dot + 1) : cls;
}

/**
 * One failed call in a batch result (Python's `Pyro4.futures._ExceptionWrapper`):
 * a batch's result list ends with it at the first call that raised.
 */
export class Pyro4ExceptionWrapper {
  constructor(readonly exception: unknown) {}
}

/**
 * A decoded Python dict as JavaScript: a plain object when every key is a
 * string ("__proto__" stays an own key instead of replacing the
 * prototype), else a Map that keeps the keys' types.
 */
export function pythonDict(keys: readonly unknown[], values: readonly unknown[]): Record<string, unknown> | Map<unknown, unknown> {
  let allStrings = true;
  for (const k of keys) {
    if (typeof k !== "string") {
      allStrings = false;
      break;
    }
  }
  if (!allStrings) {
    const m = new Map<unknown, unknown>();
    for (let i = 0; i < keys.length; i++) m.set(keys[i], values[i]);
    return m;
  }
  const o: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === "__proto__") Object.defineProperty(o, key, { value: values[i], enumerable: true, writable: true, configurable: true });
    else o[key] = values[i];
  }
  return o;
}

/** The bytes of a value that encodes as Python `bytes`, or undefined for any other value. */
export function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}
