/**
 * What Pyro4's serializers send for values that are not plain data: a dict
 * tagged with "__class__" (Pyro4's `class_to_dict`), and serpent's base64
 * dict for bytes. Data only: a class name never selects code to run; the
 * few forms understood here become values, every other tagged dict stays a
 * dict.
 */
import { pythonExceptionName } from "../python/python-exceptions.js";
import { PyTuple, Pyro4ExceptionWrapper, Pyro4RemoteError } from "./python-values.js";
import { PyroURI, uriFromState, uriState } from "./uri.js";

/**
 * Called for each decoded dict whose keys are all strings and which has a
 * "__class__" key; returns the value to use in its place (return `dict` to
 * keep it). `className` is the "__class__" value when it is a string.
 */
export type ClassHook = (className: string, dict: Record<string, unknown>) => unknown;

/**
 * Pyro4's data-only class recreation: `{"__class__": "float", "value":
 * "nan"}` (serpent's NaN) becomes NaN; an exception dict (`"__exception__":
 * True`) becomes a {@link Pyro4RemoteError}; `Pyro4.core.URI` a
 * {@link PyroURI}; `Pyro4.futures._ExceptionWrapper` (a failed call in a
 * batch) a {@link Pyro4ExceptionWrapper}; anything else is kept as is.
 */
export const defaultClassHook: ClassHook = (className, dict) => {
  if (className === "Pyro4.core.URI") return uriFromState(dict.state) ?? dict;
  if (className === "Pyro4.futures._ExceptionWrapper" && "exception" in dict) return new Pyro4ExceptionWrapper(dict.exception);
  if (className === "float") {
    const v = dict.value;
    if (v === "nan") return NaN;
    if (v === "inf") return Infinity;
    if (v === "-inf") return -Infinity;
    return dict;
  }
  if (dict.__exception__ === true) {
    const args = Array.isArray(dict.args) ? dict.args : [];
    const attributes = isPlainDict(dict.attributes) ? dict.attributes : undefined;
    return new Pyro4RemoteError(className, args, attributes);
  }
  return dict;
};

function isPlainDict(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

/** Strict base64 (padded, no whitespace), checked in one pass without a regex backtracking over megabytes. */
function isBase64(s: string): boolean {
  if (s.length % 4 !== 0) return false;
  let pad = 0;
  if (s.endsWith("==")) pad = 2;
  else if (s.endsWith("=")) pad = 1;
  for (let i = 0; i < s.length - pad; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
    if (!ok) return false;
  }
  return true;
}

/**
 * The bytes in serpent's bytes form `{"data": <base64>, "encoding":
 * "base64"}` (exactly those two keys, strict base64), else undefined.
 */
export function serpentBytes(dict: Record<string, unknown>): Uint8Array | undefined {
  const data = dict.data;
  if (dict.encoding !== "base64" || typeof data !== "string") return undefined;
  let n = 0;
  for (const _ in dict) if (++n > 2) return undefined;
  if (!isBase64(data)) return undefined;
  const b = Buffer.from(data, "base64");
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

const ERROR_OWN = new Set(["name", "message", "stack", "cause", "args", "attributes", "pythonClass", "remoteTraceback"]);

/**
 * Pyro4's dict for an exception, which Pyro4 on the Python side raises
 * again: `{"__class__": "builtins.ValueError", "__exception__": True,
 * "args": (message,), "attributes": {...}}`. The class is a Python builtin
 * (`pythonExceptionName`), or the error's own when it came from Python as a
 * builtin or a `Pyro4.errors` class (Pyro4 rebuilds no other). A
 * JavaScript error's own properties (an RpcError's `code` among them)
 * travel as attributes. A daemon passes `traceback` (lines, as Python's
 * `traceback.format_exception` gives them) to fill Pyro4's `_pyroTraceback`
 * attribute, which `Pyro4.util.getPyroTraceback()` prints on the caller.
 */
export function exceptionDict(e: Error, traceback?: readonly string[]): Record<string, unknown> {
  let cls = `builtins.${pythonExceptionName(e, 3)}`;
  let args: readonly unknown[] = [e.message];
  const attributes: Record<string, unknown> = {};
  if (e instanceof Pyro4RemoteError) {
    if (/^(?:builtins|Pyro4\.errors)\.[A-Za-z_]\w*$/.test(e.pythonClass)) cls = e.pythonClass;
    args = e.args;
    Object.assign(attributes, e.attributes);
  } else {
    for (const k of Object.keys(e)) {
      const x = (e as unknown as Record<string, unknown>)[k];
      if (!ERROR_OWN.has(k) && typeof x !== "function" && typeof x !== "symbol") attributes[k] = x;
    }
  }
  if (traceback) attributes._pyroTraceback = [...traceback];
  return { __class__: cls, __exception__: true, args: new PyTuple(args), attributes };
}

/**
 * The class dict an encoder writes for a value Pyro4 sends as one (an
 * Error, a {@link PyroURI}, a {@link Pyro4ExceptionWrapper}), or undefined
 * for any other value.
 */
export function classDictFor(v: object): Record<string, unknown> | undefined {
  if (v instanceof Error) return exceptionDict(v);
  if (v instanceof PyroURI) return { __class__: "Pyro4.core.URI", state: new PyTuple(uriState(v)) };
  if (v instanceof Pyro4ExceptionWrapper) {
    return { __class__: "Pyro4.futures._ExceptionWrapper", exception: v.exception instanceof Error ? exceptionDict(v.exception) : v.exception };
  }
  return undefined;
}
