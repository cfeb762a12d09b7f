/**
 * The one caller-side implementation of per-call options, shared by every
 * client (the wirecall session, the Python recipe caller, XML-RPC over
 * HTTP, Pyro4, NATS): timeout, AbortSignal, and appending the caller's
 * stack to the error a call rejects with. A client only decides how a call
 * travels and what giving up on it means (send a cancel, drop it from a
 * queue, abort a request); see {@link OutgoingCall.onAbandon}.
 *
 * Metadata, deadlines, idempotency keys and following the call being served
 * are ./call-start.ts: a page whose calls ask only for a timeout or a
 * signal never loads it ({@link beginCall}).
 */
import type { CallContext, CallOptions } from "./call-types.js";
import { currentCall } from "./deadline.js";
import { RpcError } from "./errors.js";
import { Lazy } from "./lazy.js";
import type { MetaLimits } from "./meta/limits.js";
import type { Meta } from "./meta/meta.js";
import type { CallSpan } from "./telemetry/telemetry.js";

/**
 * The full start (./call-start.ts), loaded with the first call that asks for
 * more than a timeout or a signal: a client waits for it before
 * {@link beginCall} when {@link waitsForStart} says so. Node loads it at
 * once, and so does a side that serves (src/session.ts).
 */
export const START = new Lazy("call options: metadata, deadlines, idempotency (src/call-start.js)", async () => (await import("./call-start.js")).makeStart(PARTS));
if ((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node) START.load().catch(() => {});

function asksMore(o: CallOptions | undefined): boolean {
  return o !== undefined && (o.meta !== undefined || o.deadline !== undefined || o.idempotent !== undefined || o.parent !== undefined || o.onResponseMeta !== undefined);
}

/**
 * True when a call with these options needs ./call-start.ts and it has not
 * loaded yet (a call made while serving one follows it, so it needs it too).
 */
export function waitsForStart(options: CallOptions | undefined, defaults: CallOptions | undefined): boolean {
  return START.m === undefined && (asksMore(options) || asksMore(defaults) || currentCall() !== undefined);
}

type Timer = ReturnType<typeof setTimeout>;

/** Timers must never keep a process alive on their own. */
export function unref<T>(t: T): T {
  (t as { unref?: () => void }).unref?.();
  return t;
}

/**
 * One call from its start to its settlement. Exactly one of resolve, reject,
 * timeout or abort wins; the others do nothing. Whoever carries the call
 * (a pending table keyed by id, a queue) sets {@link onAbandon} to learn
 * that the caller gave up on it.
 */
export class OutgoingCall {
  /** Wire id, set by the session that sends it (0 until then). */
  id = 0;
  /**
   * When the call's timeout passes (`Date.now()` ms), if it has one; sent
   * as the time that remains (docs/protocol.md, section 7). It outlives the
   * reply: streams the result carries stop then (docs/protocol.md, "Lifetime").
   */
  deadline: number | undefined;
  #resolve: (v: unknown) => void;
  #reject: (e: unknown) => void;
  #settled = false;
  #timer: Timer | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  /** Run once when the call settles (src/call-context.ts: stop following its parent). */
  onSettle: (() => void) | undefined;
  /**
   * Called once, synchronously, when a timeout or an abort settled the call
   * (after it was rejected): tell the peer to cancel, or drop it from a queue.
   */
  onAbandon: ((call: OutgoingCall) => void) | undefined;
  /** Metadata to send with the call, checked. */
  meta: Meta | undefined;
  /** Receives the answer's metadata. */
  onResponseMeta: ((meta: Meta) => void) | undefined;
  /** The idempotency key, when the call is marked idempotent. */
  key: string | undefined;
  /** The call being served that this call was made for (deadline, cancellation, trace parent). */
  parent: CallContext | undefined;
  /** Telemetry following the call, once sent with telemetry on. */
  span: CallSpan | undefined;

  constructor(
    readonly name: string,
    readonly args: unknown[],
    readonly kwargs: Record<string, unknown> | undefined,
    resolve: (v: unknown) => void,
    reject: (e: unknown) => void,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** The call's AbortSignal, if it has one (a stream it returned stops when it aborts). */
  get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  get settled(): boolean {
    return this.#settled;
  }

  resolve(value: unknown): void {
    if (!this.#finish()) return;
    this.span?.end(undefined);
    this.#resolve(value);
  }

  reject(err: unknown): void {
    if (!this.#finish()) return;
    this.span?.end(err);
    this.#reject(err);
  }

  /** Arm the timeout and the signal. Called once by {@link startCall}. */
  arm(timeout: number | undefined, signal: AbortSignal | undefined, why?: string): void {
    // Past setTimeout's range (2^31-1 ms, 24.8 days) a timer would fire at once: no timer, the deadline still travels.
    if (timeout !== undefined && timeout > 0 && timeout <= 0x7fffffff) {
      this.deadline ??= Date.now() + timeout;
      const what = why ?? `timed out after ${timeout} ms`;
      this.#timer = unref(setTimeout(() => this.giveUp(new RpcError("TIMEOUT", `call to '${this.name}' ${what}`)), timeout));
    }
    if (signal) {
      this.#signal = signal;
      this.#onAbort = () => this.giveUp(new RpcError("CANCELLED", `call to '${this.name}' was aborted`, { cause: signal.reason }));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Settle with `err` (a timeout, an abort, the parent's end) and tell the carrier ({@link onAbandon}). */
  giveUp(err: RpcError): void {
    if (this.#settled) return;
    this.reject(err);
    this.onAbandon?.(this);
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
    this.onSettle?.();
    return true;
  }
}

/** Per-client settings that shape every call (per-call options override the first two). */
export interface CallerDefaults extends CallOptions {
  /**
   * Append the calling line's stack to errors a call rejects with (default
   * true). Built from V8's async stack trace when the rejection reaches the
   * caller, so it costs nothing on calls that succeed.
   */
  captureStack?: boolean;
  /** Bounds of the metadata this side sends and accepts (default 64 entries, 8 KiB). */
  metaLimits?: Partial<MetaLimits>;
}

/**
 * Start a call: applies the timeout and signal (per call, else the
 * defaults), and returns the call and the promise the caller awaits. A
 * signal that is already aborted rejects at once and `call` is undefined:
 * nothing must be sent. Until ./call-start.ts has loaded, only calls for
 * which {@link waitsForStart} is false may be started here; clients that
 * cannot wait (they are never in a page) use ./start-call.ts.
 */
export function beginCall(
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
  options: CallOptions | undefined,
  defaults: CallerDefaults | undefined,
): { promise: Promise<unknown>; call: OutgoingCall | undefined } {
  const full = START.m;
  if (full !== undefined) return full(name, args, kwargs, options, defaults);
  const signal = options?.signal ?? defaults?.signal;
  if (signal?.aborted) return refused(abortedBefore(name, signal));
  const timeout = options?.timeout ?? defaults?.timeout;
  const ms = timeout !== undefined && timeout > 0 ? timeout : undefined;
  return settle(newCall(name, args, kwargs), ms === undefined ? undefined : Date.now() + ms, ms, signal, undefined, defaults);
}

export function abortedBefore(name: string, signal: AbortSignal): RpcError {
  return new RpcError("CANCELLED", `call to '${name}' aborted before it was sent`, { cause: signal.reason });
}

/** A call and the promise it settles. */
export function newCall(name: string, args: unknown[], kwargs: Record<string, unknown> | undefined): [OutgoingCall, Promise<unknown>] {
  let call!: OutgoingCall;
  const raw = new Promise<unknown>((resolve, reject) => {
    call = new OutgoingCall(name, args, kwargs, resolve, reject);
  });
  return [call, raw];
}

/** Arm a new call (its deadline, timer and signal) and give it to the caller. */
export function settle(
  [call, raw]: [OutgoingCall, Promise<unknown>],
  deadline: number | undefined,
  ms: number | undefined,
  signal: AbortSignal | undefined,
  why: string | undefined,
  defaults: CallerDefaults | undefined,
): { promise: Promise<unknown>; call: OutgoingCall | undefined } {
  call.deadline = deadline;
  call.arm(ms, signal, why);
  return { promise: defaults?.captureStack === false ? raw : withCallerStack(raw), call };
}

/** A call refused before it started: nothing is sent. */
export function refused(err: unknown): { promise: Promise<unknown>; call: undefined } {
  return { promise: Promise.reject(err), call: undefined };
}

const captureStackTrace = (Error as { captureStackTrace?: (o: object, fn?: Function) => void }).captureStackTrace;

/**
 * The call's promise that, if it fails, appends the caller's frames to the
 * error. Capturing a stack on every call (as grpc-js does) cost about a
 * quarter of the client's CPU per call in the benchmarks; capturing it in
 * the rejection's handler gets V8's async frames ("at async
 * yourFunction (file:line)", found through the promise the caller awaits)
 * for the failing calls only, and a `then` costs less per call than an
 * async function wrapped around the await.
 */
export function withCallerStack<T>(call: Promise<T>): Promise<T> {
  return call.then(undefined, addCallerStack);
}

function addCallerStack(err: unknown): never {
  if (err instanceof Error && captureStackTrace) {
    const here: { stack?: string } = {};
    captureStackTrace(here, addCallerStack);
    const frames = (here.stack ?? "").split("\n").slice(1).join("\n");
    if (frames) Object.defineProperty(err, "stack", { value: `${err.stack ?? String(err)}\n${frames}`, writable: true, configurable: true });
  }
  throw err;
}

/** What ./call-start.ts makes its calls with (it imports nothing of this module: it is loaded from here). */
export const PARTS = { newCall, settle, refused, abortedBefore };
