/**
 * Starting a call with every option: metadata (checked and bounded),
 * deadlines (its own, and the one it inherits from the call being served),
 * idempotency keys, and following the call being served. ./caller.ts starts
 * calls that ask only for a timeout or a signal without it, so a page whose
 * calls ask for nothing more never loads it; clients that are never in a
 * page (the Python recipe, XML-RPC, Pyro4, NATS) start calls through
 * ./start-call.ts, which imports it. It imports nothing of ./caller.ts but
 * types: the call itself is made there.
 */
import type { CallContext, CallOptions } from "./call-types.js";
import { currentCall } from "./deadline.js";
import { RpcError } from "./errors.js";
import { checkMeta, mergeMeta, metaLimits, type Meta, type MetaLimits } from "./meta/meta.js";

/** The defaults a client gives (./caller.ts, CallerDefaults: this module imports nothing of it). */
type Defaults = CallOptions & { metaLimits?: Partial<MetaLimits> };

/** What following a call needs of it (./caller.ts, OutgoingCall). */
export interface Followed {
  readonly name: string;
  giveUp(err: RpcError): void;
  onSettle: (() => void) | undefined;
}

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
  follow(call: Followed, parent: CallContext): void;
}

let FOLLOW: Follow | undefined;

export function installFollow(f: Follow): void {
  FOLLOW = f;
}

/** The call, made by ./caller.ts (passed in: this module imports nothing of it). */
interface Call extends Followed {
  meta: Meta | undefined;
  onResponseMeta: ((meta: Meta) => void) | undefined;
  key: string | undefined;
  parent: CallContext | undefined;
}

/** What ./caller.ts makes calls with (its `PARTS`). */
export interface StartParts<C extends Call, R> {
  newCall(name: string, args: unknown[], kwargs: Record<string, unknown> | undefined): [C, Promise<unknown>];
  settle(made: [C, Promise<unknown>], deadline: number | undefined, ms: number | undefined, signal: AbortSignal | undefined, why: string | undefined, defaults: Defaults | undefined): R;
  refused(err: unknown): R;
  abortedBefore(name: string, signal: AbortSignal): RpcError;
}

/**
 * Make the full `startCall` from ./caller.ts's parts: it applies the
 * timeout and signal (per call, else the defaults), metadata, the deadline
 * (the earliest of its timeout, its deadline and its parent's) and the
 * idempotency key. A signal that is already aborted, metadata that is
 * refused, a parent that ended or a deadline that passed reject at once
 * and `call` is undefined: nothing must be sent.
 */
export function makeStart<C extends Call, R>(parts: StartParts<C, R>) {
  const { newCall, settle, refused, abortedBefore } = parts;
  return function startCall(name: string, args: unknown[], kwargs: Record<string, unknown> | undefined, options: CallOptions | undefined, defaults: Defaults | undefined): R {
    const signal = options?.signal ?? defaults?.signal;
    if (signal?.aborted) return refused(abortedBefore(name, signal));
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
  };
}
