/**
 * Call metadata: string key/value pairs that travel beside a call and its
 * answer (an authorization token, a trace context), like gRPC's metadata or
 * HTTP headers. Bounded in entries and bytes on both ends, so a peer cannot
 * make a server hold or walk more than it agreed to. Checking them loads
 * with the first call that sends metadata (src/caller.ts); the limits
 * themselves are ./limits.ts.
 */
import { RpcError } from "../errors.js";
import type { MetaLimits } from "./limits.js";

export { DEFAULT_META_LIMITS, metaLimits } from "./limits.js";
export type { MetaLimits } from "./limits.js";

/** Metadata: keys and values are strings. */
export type Meta = Record<string, string>;

/** What a handler reads when the caller sent none: one frozen empty object, no allocation per call. */
export const NO_META: Readonly<Meta> = Object.freeze(Object.create(null) as Meta);

/** UTF-8 length without encoding: keys and values are counted, not copied. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      // A surrogate pair is 2 UTF-16 units and 4 UTF-8 bytes.
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

/**
 * Check metadata against `limits` and return it as a null-prototype copy
 * (so `__proto__` is an ordinary key and nothing reaches Object.prototype).
 * `where` names it in errors ("call metadata", "response metadata").
 * Stops counting at the first entry past a limit: cost is bounded by the limits, not the input.
 */
export function checkMeta(v: unknown, limits: Readonly<MetaLimits>, where: string): Meta {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw new RpcError("INVALID_META", `${where} must be an object of string values, got ${v === null ? "null" : Array.isArray(v) ? "an array" : typeof v}`);
  }
  const out = Object.create(null) as Meta;
  let entries = 0;
  let bytes = 0;
  for (const key in v) {
    if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
    const value = (v as Record<string, unknown>)[key];
    if (value === undefined) continue; // an optional entry left out, as JSON would
    if (typeof value !== "string") throw new RpcError("INVALID_META", `${where} '${key.slice(0, 64)}' must be a string, got ${value === null ? "null" : typeof value}`);
    if (++entries > limits.maxEntries) throw new RpcError("META_TOO_LARGE", `${where} has more than ${limits.maxEntries} entries (the receiver's limit)`);
    bytes += utf8Length(key) + utf8Length(value);
    if (bytes > limits.maxBytes) throw new RpcError("META_TOO_LARGE", `${where} is larger than ${limits.maxBytes} bytes (the receiver's limit), at '${key.slice(0, 64)}'`);
    out[key] = value;
  }
  return out;
}

/** `a` then `b` (b's entries win); either may be undefined. */
export function mergeMeta(a: Meta | undefined, b: Meta | undefined): Meta | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { ...a, ...b };
}
