/**
 * Whether an envelope needs the encoding walk (./walk.ts) at all. Most
 * calls carry only plain data; for them the session encodes without the
 * walk, so a page that never passes a callback, a `ref()` object, a stream
 * or a value that cannot travel does not load it (the walk comes with the
 * reference tables, or on its own when the connection carries none).
 */
import { isRef } from "./marks.js";

/** Nesting the walk follows; a reference path is at most this deep (plus the envelope index and one key). */
export const MAX_DEPTH = 64;

/**
 * True when `env[from..]` holds what the walk acts on, looking exactly
 * where it looks: a function, a `ref()` object or an async iterable (they
 * travel by reference), a symbol, or under json a Map, a Set or a
 * non-finite number (refused, naming where they sit).
 */
export function needsWalk(env: readonly unknown[], from: number, json: boolean): boolean {
  for (let i = from; i < env.length; i++) if (special(env[i], json, 0)) return true;
  return false;
}

function special(v: unknown, json: boolean, depth: number): boolean {
  switch (typeof v) {
    case "function":
    case "symbol":
      return true;
    case "number":
      return json && !Number.isFinite(v);
    case "object":
      break;
    default:
      return false;
  }
  if (v === null) return false;
  if (Array.isArray(v)) {
    if (depth < MAX_DEPTH) for (let i = 0; i < v.length; i++) if (special(v[i], json, depth + 1)) return true;
    return false;
  }
  if (ArrayBuffer.isView(v) || v instanceof Date) return false;
  if (isRef(v) || typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function") return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) {
    if (depth < MAX_DEPTH) for (const key of Object.keys(v)) if (special((v as Record<string, unknown>)[key], json, depth + 1)) return true;
    return false;
  }
  return json && (v instanceof Map || v instanceof Set);
}
