/**
 * Rebuilding an error that arrived from the peer (its wire form, ./errors.ts
 * WireError) as an Error: a registered class when its name has one, else a
 * {@link RemoteError}. Loaded with the first error answer (src/session.ts
 * holds that frame until it is here), so a page whose calls all succeed
 * never fetches it.
 */
import { RemoteError, isRecord, isWireError, registeredError, type WireError } from "./errors.js";

/** Keys a thrown value's `props` never carry, and never set on a rebuilt error. */
export const RESERVED = new Set(["name", "message", "code", "data", "cause", "stack", "props", "__proto__", "constructor", "prototype"]);
/** How many `cause` levels travel; deeper ones are dropped (a cyclic cause chain ends). */
export const MAX_CAUSE_DEPTH = 8;


/**
 * Rebuild a remote error. Registered classes are instantiated without running
 * their constructor; everything else becomes a {@link RemoteError}.
 * `localStack` is appended so the trace also points at the calling line.
 */
export function fromWireError(w: WireError, localStack?: string, depth = 0): Error {
  const cause =
    w.cause !== undefined && isWireError(w.cause) && depth < MAX_CAUSE_DEPTH ? fromWireError(w.cause, undefined, depth + 1) : undefined;
  const cls = registeredError(w.name);
  let err: Error & { code?: string; data?: unknown; remoteStack?: string };
  if (cls) {
    err = Object.create(cls.prototype as object) as Error;
    define(err, "message", w.message);
    if (Object.getOwnPropertyDescriptor(cls.prototype, "name") === undefined && err.name !== w.name) define(err, "name", w.name);
    err.code = w.code;
    if (w.data !== undefined) err.data = w.data;
    if (cause !== undefined) define(err, "cause", cause);
  } else {
    err = new RemoteError(w.name, w.message, w.code, cause === undefined ? { data: w.data } : { cause, data: w.data });
  }
  if (isRecord(w.props)) {
    for (const key of Object.keys(w.props)) {
      if (RESERVED.has(key) || key in err) continue;
      (err as unknown as Record<string, unknown>)[key] = w.props[key];
    }
  }
  const stack = w.stack;
  if (typeof stack === "string") err.remoteStack = stack;
  // The remote frames, marked, then the local ones (the calling line), under the remote head.
  const tail = (text: string | undefined): string[] => (typeof text === "string" ? text.split("\n").slice(1) : []);
  const remote = tail(stack).map((l) => l.replace(/^\s*/, "    [remote] "));
  define(err, "stack", [`${w.name}: ${w.message}`, remote.join("\n"), tail(localStack).join("\n")].filter((s) => s).join("\n"));
  return err;
}

/** An own property as the Error constructor makes `message` and `stack`: writable, configurable, not enumerable. */
function define(err: Error, key: string, value: unknown): void {
  Object.defineProperty(err, key, { value, writable: true, configurable: true });
}

