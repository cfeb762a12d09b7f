/**
 * Parameter lists: read from a function's source or declared at
 * registration, and Python-style binding of positional + keyword arguments.
 */
import { RpcError } from "./errors.js";

export interface Param {
  name: string;
  /** Has a default value (or was declared optional): may be left unbound. */
  optional: boolean;
  /** A rest parameter (`...args`): collects the remaining positional arguments. */
  rest: boolean;
}

/**
 * Parameter declaration accepted at registration: `"x"`, `"y?"` (optional),
 * `"...rest"`, or an object.
 */
export type ParamSpec = string | { name: string; optional?: boolean; rest?: boolean };

const IDENT = /^[A-Za-z_$][\w$]*$/;

export function parseParamSpecs(specs: readonly ParamSpec[]): Param[] {
  return specs.map((s) => {
    if (typeof s !== "string") return { name: s.name, optional: !!s.optional, rest: !!s.rest };
    const rest = s.startsWith("...");
    const optional = s.endsWith("?") || s.endsWith("=");
    const name = s.slice(rest ? 3 : 0, optional ? -1 : undefined);
    if (!IDENT.test(name)) throw new TypeError(`invalid parameter name ${JSON.stringify(s)}`);
    return { name, optional, rest };
  });
}

/** Split the text between a function's outer parentheses at top-level commas. */
function splitTopLevel(src: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'" || c === "`") {
      const q = c;
      for (i++; i < src.length && src[i] !== q; i++) if (src[i] === "\\") i++;
      if (i >= src.length) return undefined;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) return undefined;
      i = end + 1;
    } else if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      i = end < 0 ? src.length : end;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      if (depth === 0) {
        parts.push(src.slice(start, i));
        return parts;
      }
      depth--;
    } else if (c === "," && depth === 0) {
      parts.push(src.slice(start, i));
      start = i + 1;
    }
  }
  return undefined;
}

function stripComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ").trim();
}

/**
 * Read parameter names from a function's own source: plain, arrow, async,
 * methods and default values. Returns undefined when they cannot be read
 * (native or bound functions, destructuring patterns): such functions accept
 * positional arguments only.
 */
export function readParams(fn: Function): Param[] | undefined {
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return undefined;
  }
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) return undefined;
  src = src.replace(/^\s*async\b\s*/, "");
  // Single-parameter arrow function without parentheses: `x => ...`.
  const bare = /^([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  if (bare) return [{ name: bare[1] as string, optional: false, rest: false }];
  const open = src.indexOf("(");
  if (open < 0) return undefined;
  const parts = splitTopLevel(src.slice(open + 1));
  if (!parts) return undefined;
  const params: Param[] = [];
  for (const [i, raw] of parts.entries()) {
    const p = stripComments(raw);
    if (p === "") {
      if (i === parts.length - 1) continue; // trailing comma or no parameters
      return undefined;
    }
    const rest = p.startsWith("...");
    const body = rest ? p.slice(3).trim() : p;
    const eq = body.indexOf("=");
    const name = (eq < 0 ? body : body.slice(0, eq)).trim();
    if (!IDENT.test(name)) return undefined; // destructuring pattern
    params.push({ name, optional: eq >= 0 || rest, rest });
  }
  return params;
}

/** Marker for keyword arguments in a proxy call: `proxy.f(1, kw({ z: 3 }))`. */
export class KwargsMarker {
  constructor(readonly kwargs: Record<string, unknown>) {}
}

/** Keyword arguments, like Python's `f(1, 2, z=3)`: pass `kw({ z: 3 })` as the last argument. */
export function kw(kwargs: Record<string, unknown>): KwargsMarker {
  return new KwargsMarker(kwargs);
}

function invalid(method: string, msg: string): RpcError {
  return new RpcError("INVALID_PARAMS", `${method}() ${msg}`);
}

const hasOwn = Object.prototype.hasOwnProperty;
const NO_NAMES: readonly string[] = [];

/**
 * Bind positional `args` then keyword `kwargs` to `params`, the way Python
 * does, returning the positional argument list to apply. Unbound optional
 * parameters are passed as `undefined` so JS defaults apply.
 */
export function bindArguments(
  method: string,
  params: readonly Param[] | undefined,
  args: readonly unknown[],
  kwargs: Record<string, unknown> | undefined | null,
): unknown[] {
  // No kwargs is the common case: no key list is made for it.
  const kwNames = kwargs ? Object.keys(kwargs) : NO_NAMES;
  if (!params) {
    if (kwNames.length > 0) {
      throw invalid(method, `accepts positional arguments only (its parameter names are unknown), got keyword '${kwNames[0]}'`);
    }
    return args as unknown[];
  }
  let restIndex = -1;
  for (let i = 0; i < params.length; i++) {
    if ((params[i] as Param).rest) {
      restIndex = i;
      break;
    }
  }
  const fixed = restIndex < 0 ? params.length : restIndex;
  if (args.length > fixed && restIndex < 0) {
    throw invalid(method, `takes ${fixed} positional argument${fixed === 1 ? "" : "s"} but ${args.length} were given`);
  }
  if (kwNames.length === 0) {
    for (let i = args.length; i < fixed; i++) {
      const p = params[i] as Param;
      if (!p.optional) throw invalid(method, `missing required argument '${p.name}'`);
    }
    return args as unknown[];
  }
  const out: unknown[] = args.slice(0, fixed);
  const kw = kwargs as Record<string, unknown>;
  for (const name of kwNames) {
    const idx = params.findIndex((p) => p.name === name && !p.rest);
    if (idx < 0 || idx >= fixed) throw invalid(method, `got an unexpected keyword argument '${name}'`);
    if (idx < args.length) throw invalid(method, `got multiple values for argument '${name}'`);
  }
  let last = out.length;
  for (let i = out.length; i < fixed; i++) {
    const p = params[i] as Param;
    if (hasOwn.call(kw, p.name)) {
      out[i] = kw[p.name];
      last = i + 1;
    } else if (!p.optional) {
      throw invalid(method, `missing required argument '${p.name}'`);
    } else {
      out[i] = undefined;
    }
  }
  out.length = Math.max(last, args.length > fixed ? fixed : args.length);
  if (args.length > fixed) out.push(...args.slice(fixed));
  return out;
}
