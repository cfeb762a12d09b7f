/**
 * The encoding walk: finds values that travel by reference (functions,
 * `ref()` objects, proxies, async iterables) in an envelope's arguments or
 * result, replaces each with `null` in a copy, and lists them with their
 * path (docs/protocol.md, "Streams and references"). It also refuses values
 * that would arrive changed: symbols, and under json Map, Set and
 * non-finite numbers, naming where they sit. ./detect.ts tells whether an
 * envelope needs it at all (the session loads it only then).
 */
import { RpcError } from "../errors.js";
import { MAX_DEPTH } from "./detect.js";
import { isRef } from "./marks.js";

export { MAX_DEPTH };

export type PathKey = string | number;
/** `[path, kind, id]`: kind "f" function, "o" object by reference, "s" stream, "r" the receiver's own reference. */
export type RefEntry = [PathKey[], string, number];

/** Exports a value found by the walk; returns its [kind, id]. Undefined: the connection carries no references. */
export type Exporter = ((v: unknown, kind: "f" | "o" | "s", path: readonly PathKey[]) => [string, number]) | undefined;

/**
 * Thrown by {@link needsRefs}: the value holds something that travels by
 * reference, and the connection's reference tables are not loaded yet.
 */
export const NEEDS_REFS: unique symbol = Symbol("wirecall.needsRefs");

/** The exporter of a connection that negotiated references before its tables exist: stop at the first one. */
export const needsRefs: Exporter = () => {
  throw NEEDS_REFS;
};

export function formatPath(path: readonly PathKey[], names: readonly string[]): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const k = path[i] as PathKey;
    if (i === 0 && typeof k === "number") out = names[k] ?? `[${k}]`;
    else if (typeof k === "number") out += `[${k}]`;
    else out += /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
  }
  return out;
}

function isAsyncIterable(v: object): boolean {
  return typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

class Walk {
  readonly path: PathKey[] = [];
  refs: RefEntry[] | undefined;
  constructor(
    readonly exporter: Exporter,
    readonly json: boolean,
    readonly names: readonly string[],
  ) {}

  fail(what: string, why: string): never {
    throw new RpcError("SERIALIZE_ERROR", `${what} at ${formatPath(this.path, this.names)} cannot travel: ${why}`);
  }

  why = "this connection carries no references or streams (the peer did not negotiate them: XML-RPC, the Python recipe and ZeroMQ REQ cannot)";

  special(v: unknown, kind: "f" | "o" | "s"): null {
    if (!this.exporter) {
      const what = kind === "f" ? "a function" : kind === "s" ? "a stream (async iterable)" : "a reference";
      this.fail(what, this.why);
    }
    const [k, id] = this.exporter(v, kind, this.path);
    (this.refs ??= []).push([this.path.slice(), k, id]);
    return null;
  }

  value(v: unknown, depth: number): unknown {
    switch (typeof v) {
      case "object": {
        if (v === null) return v;
        if (Array.isArray(v)) {
          if (depth >= MAX_DEPTH) return v;
          let copy: unknown[] | undefined;
          for (let i = 0; i < v.length; i++) {
            const x = v[i] as unknown;
            if (x === null || (typeof x !== "object" && typeof x !== "function" && typeof x !== "symbol" && typeof x !== "number")) continue;
            this.path.push(i);
            const r = this.value(x, depth + 1);
            this.path.pop();
            if (r !== x) (copy ??= v.slice())[i] = r;
          }
          return copy ?? v;
        }
        if (ArrayBuffer.isView(v) || v instanceof Date) return v;
        if (isRef(v)) return this.special(v, "o");
        if (isAsyncIterable(v)) return this.special(v, "s");
        const proto = Object.getPrototypeOf(v) as unknown;
        if (proto === Object.prototype || proto === null) {
          if (depth >= MAX_DEPTH) return v;
          let copy: Record<string, unknown> | undefined;
          for (const key of Object.keys(v)) {
            const x = (v as Record<string, unknown>)[key];
            if (x === null || (typeof x !== "object" && typeof x !== "function" && typeof x !== "symbol" && typeof x !== "number")) continue;
            this.path.push(key);
            const r = this.value(x, depth + 1);
            this.path.pop();
            if (r !== x) (copy ??= { ...(v as Record<string, unknown>) })[key] = r;
          }
          return copy ?? v;
        }
        if (this.json && (v instanceof Map || v instanceof Set)) this.fail(`a ${v instanceof Map ? "Map" : "Set"}`, "json has no Map or Set (use superjson or msgpack-friendly arrays)");
        return v;
      }
      case "function":
        return this.special(v, "f");
      case "symbol":
        return this.fail("a Symbol", "no serializer carries symbols");
      case "number":
        if (this.json && !Number.isFinite(v)) this.fail(`the number ${v}`, "json has no NaN or Infinity (use superjson)");
        return v;
      default:
        return v;
    }
  }
}

/**
 * Walk `env[from..]` (arguments and kwargs, or a result). Returns the
 * envelope to encode (a copy where something was replaced) and the list of
 * references, undefined when there are none. Throws `SERIALIZE_ERROR`.
 */
export function replaceRefs(env: unknown[], from: number, names: readonly string[], exporter: Exporter, json: boolean): [unknown[], RefEntry[] | undefined] {
  const w = new Walk(exporter, json, names);
  let out = env;
  for (let i = from; i < env.length; i++) {
    const x = env[i];
    if (x === null || x === undefined || (typeof x !== "object" && typeof x !== "function" && typeof x !== "symbol" && typeof x !== "number")) continue;
    w.path.push(i);
    const r = w.value(x, 0);
    w.path.pop();
    if (r !== x) {
      if (out === env) out = env.slice();
      out[i] = r;
    }
  }
  return [out, w.refs];
}

/**
 * For protocols that carry no references (XML-RPC, the Python recipe):
 * throw `SERIALIZE_ERROR` naming where a function, reference, stream or
 * symbol sits in the arguments, rather than letting it arrive changed.
 */
export function refuseReferences(args: readonly unknown[], kwargs: Record<string, unknown> | undefined, protocol: string): void {
  const w = new Walk(undefined, false, ["args", "kwargs"]);
  w.why = `${protocol} carries no functions, references or streams`;
  w.path.push(0);
  w.value(args, 0);
  if (kwargs) {
    w.path[0] = 1;
    w.value(kwargs, 0);
  }
}
