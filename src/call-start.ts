/**
 * Starting a call with every option: metadata (checked and bounded),
 * deadlines (its own, and the one it inherits from the call being served),
 * idempotency keys, and following the call being served. ./caller.ts starts
 * calls that ask only for a timeout or a signal without it, so a page whose
 * calls ask for nothing more never loads it; clients that are never in a
 * page (the Python recipe, XML-RPC, Pyro4, NATS) import it directly, and
 * ./call-context.ts does too, so wherever calls are served it is loaded.
 */
import { installStart, newCall, refused, settle, type CallerDefaults, type OutgoingCall } from "./caller.js";
import type { CallContext, CallOptions } from "./call-types.js";
import { currentCall } from "./deadline.js";
import { RpcError } from "./errors.js";
import { checkMeta, mergeMeta, metaLimits, type Meta } from "./meta/meta.js";

/** A random idempotency key (122 random bits when the platform has crypto.randomUUID). */
export function newIdempotencyKey(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  let s = "";
  for (let i = 0; i < 4; i++) s += Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, "0");
  return s;
}

/**
 * How a call follows the call being served that made it (its parent):
 * installed by ./call-context.ts, which is loaded wherever calls are served.
 */
export interface Follow {
  /** Why a call made for `parent` may not be sent (the parent ended), else undefined. */
  ended(name: string, parent: CallContext): RpcError | undefined;
  /** Stop `call` when `parent` ends. */
  follow(call: OutgoingCall, parent: CallContext): void;
}

let FOLLOW: Follow | undefined;

export function installFollow(f: Follow): void {
  FOLLOW = f;
}

/**
 * Start a call: applies the timeout and signal (per call, else the
 * defaults), metadata, the deadline and the idempotency key, and returns
 * the call and the promise the caller awaits. A signal that is already
 * aborted, metadata that is refused, a parent that ended or a deadline that
 * passed reject at once and `call` is undefined: nothing must be sent.
 */
export function startCall(
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
  options: CallOptions | undefined,
  defaults: CallerDefaults | undefined,
): { promise: Promise<unknown>; call: OutgoingCall | undefined } {
  const signal = options?.signal ?? defaults?.signal;
  if (signal?.aborted) return refused(new RpcError("CANCELLED", `call to '${name}' aborted before it was sent`, { cause: signal.reason }));
  const parent = (options?.parent !== undefined ? options.parent : defaults?.parent !== undefined ? defaults.parent : currentCall()) ?? undefined;
  const follow = parent && FOLLOW;
  const ended = follow && follow.ended(name, parent);
  if (ended) return refused(ended);
  let meta: Meta | undefined;
  const m1 = defaults?.meta;
  const m2 = options?.meta;
  if (m1 !== undefined || m2 !== undefined) {
    try {
      meta = checkMeta(mergeMeta(m1, m2), metaLimits(defaults?.metaLimits), `metadata of '${name}'`);
    } catch (err) {
      return refused(err);
    }
  }
  // The earliest of the call's timeout, its deadline and its parent's deadline.
  const timeout = options?.timeout ?? defaults?.timeout;
  let deadline = options?.deadline ?? defaults?.deadline;
  let why: string | undefined;
  const inherited = parent?.deadline;
  let ms = timeout !== undefined && timeout > 0 ? timeout : undefined;
  if (deadline !== undefined || inherited !== undefined) {
    const now = Date.now();
    if (ms !== undefined) deadline = deadline === undefined ? now + ms : Math.min(deadline, now + ms);
    if (deadline !== undefined && (inherited === undefined || deadline <= inherited)) {
      if (deadline - now !== ms) why = `passed its deadline`;
    } else if (inherited !== undefined) {
      deadline = inherited;
      why = "passed the deadline it inherited from the call being served";
    }
    ms = Math.max(0, (deadline as number) - now);
    if (ms === 0) return refused(new RpcError("TIMEOUT", `call to '${name}' not sent: it ${why ?? "passed its deadline"}`));
  }
  const made = newCall(name, args, kwargs);
  const call = made[0];
  call.meta = meta;
  call.onResponseMeta = options?.onResponseMeta ?? defaults?.onResponseMeta;
  if (parent) call.parent = parent;
  const idem = options?.idempotent ?? defaults?.idempotent;
  if (idem) call.key = typeof idem === "string" ? idem : newIdempotencyKey();
  const started = settle(made, ms === undefined ? undefined : (deadline ?? Date.now() + ms), ms, signal, why, defaults);
  if (follow) follow.follow(call, parent);
  return started;
}

installStart(startCall);
