/**
 * The error -> wire conversion. Only a peer that answers calls (a server, or a
 * client exporting callbacks and streams) runs it, so it lives apart from
 * errors.ts: a browser page that only calls does not bundle it.
 */

import { isRecord, type WireError } from "./errors.js";
import { MAX_CAUSE_DEPTH, RESERVED } from "./errors-from-wire.js";

function safeString(v: unknown, fallback: string): string {
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return fallback;
  try {
    return String(v);
  } catch {
    return fallback;
  }
}

/**
 * The error's name; for a subclass that only inherits Error's "Error"
 * (`class MyError extends Error {}`), its class name, as Python reports
 * `type(e).__name__`, so that `registerError(MyError)` on the caller finds it.
 */
function wireName(e: Error): string {
  const name = safeString(e.name, "Error");
  if (name !== "Error") return name;
  try {
    const ctor = (Object.getPrototypeOf(e) as { constructor?: unknown } | null)?.constructor;
    if (typeof ctor === "function" && ctor !== Error && typeof ctor.name === "string" && ctor.name) return ctor.name;
  } catch {
    // a hostile prototype: keep "Error"
  }
  return name;
}

function wireCode(code: unknown): string {
  // Wire codes are strings; a numeric code (errno-style) keeps its digits.
  return typeof code === "string" && code ? code : typeof code === "number" && Number.isFinite(code) ? String(code) : "REMOTE_ERROR";
}

/**
 * `out` with the thrown value's `data` and its other own enumerable fields
 * (`props`), functions and symbols left out: they cannot travel.
 */
function withExtras(out: WireError, o: object, data: unknown): WireError {
  if (data !== undefined) out.data = data;
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(o)) {
    if (RESERVED.has(key)) continue;
    const v = (o as Record<string, unknown>)[key];
    if (typeof v === "function" || typeof v === "symbol") continue;
    (props ??= {})[key] = v;
  }
  if (props) out.props = props;
  return out;
}

/**
 * `throw { code: 42, message: "..." }`: the object's own fields are what
 * its author meant the caller to see (String() of it is "[object Object]").
 */
function plainObjectError(o: Record<string, unknown>): WireError {
  try {
    const get = (k: string): unknown => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
    const name = get("name");
    const message = get("message");
    return withExtras(
      {
        name: typeof name === "string" && name ? name : "Error",
        // No message of its own: its own toString if it has one, never "[object Object]".
        message: typeof message === "string" ? message : o.toString !== Object.prototype.toString ? safeString(o, "unknown error") : "",
        code: wireCode(get("code")),
      },
      o,
      get("data"),
    );
  } catch {
    // a hostile object (throwing getters, proxies): say no more than that it failed
    return { name: "Error", message: "unknown error", code: "REMOTE_ERROR" };
  }
}

/** Convert anything thrown by a handler to its wire form. Never throws. */
export function toWireError(err: unknown, withStack = false, depth = 0): WireError {
  if (!(err instanceof Error)) return isRecord(err) ? plainObjectError(err) : { name: "Error", message: safeString(err, "unknown error"), code: "REMOTE_ERROR" };
  const e = err as Error & { code?: unknown; data?: unknown };
  const out = withExtras({ name: wireName(e), message: safeString(e.message, ""), code: wireCode(e.code) }, e, e.data);
  if (withStack && typeof e.stack === "string") out.stack = e.stack;
  if (e.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = toWireError(e.cause, withStack, depth + 1);
  return out;
}
