/**
 * The serving half of a peer session (src/session.ts): the calls and one-way
 * calls the peer makes, run on the handler (or on this side's references)
 * under the in-flight limit, queued past it, cancelled, expired at their
 * deadline, answered, and drained on shutdown. The session loads this
 * module and makes its `Serving` when the first call from the peer arrives
 * (a server, or a client given a handler, loads it ahead), so a browser
 * page that only calls never fetches it.
 */
import { unref } from "./caller.js";
import type { PeerInfo } from "./call-context.js";
import { runInCall } from "./run-in-call.js";
import { RpcError } from "./errors.js";
import type { OutFrame } from "./frame-parts.js";
import { NEEDS_CONTEXT, type RPCHandler } from "./handler.js";
import { CallSet, CallTable, InboundCall, InboundQueue } from "./inbound-queue.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { putHeader, type CallHeader } from "./meta/header.js";
import { readHeader } from "./meta/read-header.js";
import type { IdempotencyCache } from "./meta/idempotency.js";
import type { MetaLimits } from "./meta/meta.js";
import { Kind, type CallId } from "./protocol.js";
import type { RefSession } from "./refs/ref-tables.js";
import { NEEDS_REFS, needsRefs, replaceRefs } from "./refs/walk.js";
import { DEFAULT_MAX_QUEUED, DEFAULT_MAX_QUEUED_BYTES, type SessionOptions } from "./session-options.js";
import type { ServerSpan, Telemetry } from "./telemetry/telemetry.js";

/**
 * How the serving half reaches into its session: one table of functions
 * shared by every session (no closures per connection), each taking the
 * session as its first argument.
 */
export interface SessionAccess<S> {
  closed(s: S): boolean;
  writeBlocked(s: S): boolean;
  /** The reference tables, once made; why they could not be loaded. */
  refs(s: S): RefSession | undefined;
  refsFailed(s: S): Error | undefined;
  withRefs(s: S, then: (err?: Error) => void): void;
  encode(s: S, env: unknown[]): OutFrame;
  send(s: S, frame: OutFrame): void;
  sendError(s: S, id: CallId | null, err: unknown, meta?: Record<string, string>): void;
  wireId(s: S, id: CallId | null): CallId | bigint | null;
  updateReading(s: S): void;
  /** An answer was sent: the connection is not idle. */
  touch(s: S): void;
}

/** What the serving half takes from its session once, when made (after the hello: the serializer is agreed). */
export interface ServingInit {
  readonly opts: SessionOptions;
  readonly origin: PeerInfo;
  readonly metaLimits: Readonly<MetaLimits>;
  /** The connection negotiated call headers; references; the serializer is json. */
  readonly headers: boolean;
  readonly refsOn: boolean;
  readonly json: boolean;
  readonly shuttingDown: boolean;
}

export class Serving<S = unknown> {
  readonly #s: S;
  readonly #a: SessionAccess<S>;
  readonly #origin: PeerInfo;
  readonly #metaLimits: Readonly<MetaLimits>;
  readonly #refsOn: boolean;
  readonly #handler: RPCHandler | undefined;
  readonly #idempotency: IdempotencyCache | undefined;
  readonly #telemetry: Telemetry | undefined;
  readonly #maxInFlight: number;
  readonly #json: boolean;
  readonly #headers: boolean;
  /** A plain call may run before its call object is made (src/handler.ts, dispatchPlain): a handler, no telemetry. */
  readonly #plain: boolean;
  // Calls the peer made: by id while running or waiting (not after a cancel).
  readonly #calls = new CallTable();
  /** One-way calls running or waiting, so that a close can abort them (made by the first one). */
  #oneway: CallSet | undefined;
  /** Handlers started and not yet settled, calls and one-way calls, cancelled ones included. */
  #running = 0;
  readonly #queue: InboundQueue;
  #shuttingDown = false;
  #pumping = false;
  #idleWaiters: (() => void)[] | undefined;

  constructor(session: S, access: SessionAccess<S>, init: ServingInit) {
    const o = init.opts;
    this.#s = session;
    this.#a = access;
    this.#origin = init.origin;
    this.#metaLimits = init.metaLimits;
    this.#refsOn = init.refsOn;
    this.#handler = o.handler;
    this.#idempotency = o.idempotency;
    this.#telemetry = o.telemetry;
    this.#json = init.json;
    this.#headers = init.headers;
    this.#maxInFlight = Math.max(1, o.maxInFlight ?? DEFAULT_LIMITS.maxInFlight);
    this.#queue = new InboundQueue(Math.max(1, o.maxQueued ?? DEFAULT_MAX_QUEUED), o.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES);
    this.#shuttingDown = init.shuttingDown;
    this.#plain = o.handler !== undefined && o.telemetry === undefined;
  }

  /** Handlers running, one-way calls included. */
  get running(): number {
    return this.#running;
  }

  /** Handlers running or calls waiting for a slot. */
  get busy(): boolean {
    return this.#running > 0 || this.#queue.length > 0;
  }

  /** Enough calls wait for a slot that the connection should not be read. */
  get full(): boolean {
    return this.#queue.full;
  }

  /** Calls still waiting are refused like new ones; one-way calls waiting are dropped. */
  shutdown(): void {
    this.#shuttingDown = true;
    for (const call of this.#queue.drain()) this.#refuseQueued(call);
    if (this.#running === 0) this.#wakeIdle();
  }

  idle(): Promise<void> {
    // A closed connection's handlers were aborted; nobody waits for their answers.
    if (this.#a.closed(this.#s) || (this.#running === 0 && this.#queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => (this.#idleWaiters ??= []).push(resolve));
  }

  /** Abort every call running or waiting. */
  abortAll(reason: Error): void {
    for (const call of this.#calls) call.abort(reason);
    if (this.#oneway) for (const call of this.#oneway) call.abort(reason);
  }

  /** The connection closed: every call's signal fires with `reason`, nothing waits any more. */
  close(reason: Error): void {
    this.abortAll(reason);
    this.#calls.clear();
    this.#oneway?.clear();
    this.#queue.drain();
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    if (waiters === undefined) return;
    this.#idleWaiters = undefined;
    for (const w of waiters) w();
  }

  /** A call (`id` set) or one-way call (`id` null) from the peer. */
  incoming(id: CallId | null, method: string, args: unknown[], kwargs: Record<string, unknown> | undefined, bytes: number, refList?: unknown, target?: number, env?: unknown[], header?: unknown): void {
    if (id !== null) {
      if (this.#calls.get(id) !== undefined) {
        // Answered as a connection-level error: an error with this id would settle the first call.
        this.#a.sendError(this.#s, null, new RpcError("PROTOCOL_ERROR", `call id ${id} is already in flight on this connection; this call was refused and call ${id} goes on`, { data: { id } }));
        return;
      }
      if (this.#shuttingDown) {
        this.#a.sendError(this.#s, id, new RpcError("SHUTTING_DOWN", "the server is shutting down"));
        return;
      }
    } else if (this.#shuttingDown) {
      return;
    }
    // The plain call or one-way call with a free slot (no header, references or target: nothing to set up around it).
    if (header === undefined && refList === undefined && target === undefined && this.#plain && this.#running < this.#maxInFlight && this.#queue.length === 0 && !this.#a.writeBlocked(this.#s)) {
      if (this.#runPlain(id, method, args, kwargs, bytes)) return;
    }
    const call = new InboundCall(id, method, args, kwargs, this.#origin, bytes);
    call.target = target;
    if (header !== undefined) {
      let h: CallHeader;
      try {
        h = readHeader(header, this.#metaLimits, `metadata of '${method}'`);
      } catch (err) {
        if (id !== null) this.#a.sendError(this.#s, id, err);
        return;
      }
      if (h.meta !== undefined) call.meta = h.meta;
      if (h.key !== undefined) call.key = h.key;
      if (h.timeout !== undefined) {
        if (h.timeout <= 0) {
          if (id !== null) this.#a.sendError(this.#s, id, new RpcError("TIMEOUT", `call to '${method}' arrived after its deadline`));
          return;
        }
        call.deadline = Date.now() + h.timeout;
      }
    }
    if (refList !== undefined && id !== null) {
      try {
        // In place: the call holds the same args and kwargs objects.
        (this.#a.refs(this.#s) as RefSession).decode(env ?? [Kind.Call, id, method, args, kwargs ?? null], refList, call);
      } catch (err) {
        this.#a.refs(this.#s)?.endInbound(call);
        this.#a.sendError(this.#s, id, err);
        return;
      }
    }
    if (id === null) (this.#oneway ??= new CallSet()).add(call);
    else this.#calls.add(call);
    // Past setTimeout's range (24.8 days) a timer would fire at once: such a deadline is never reached while the call runs.
    if (call.deadline !== undefined && call.deadline - Date.now() <= MAX_TIMER) call.timer = unref(setTimeout((this.#expire ??= (c) => this.#expireCall(c)), call.deadline - Date.now(), call));
    if (this.#running < this.#maxInFlight && !this.#a.writeBlocked(this.#s) && this.#queue.length === 0) {
      this.#run(call);
      if (this.#running >= this.#maxInFlight) this.#a.updateReading(this.#s);
    } else {
      this.#queue.push(call);
      this.#a.updateReading(this.#s);
    }
  }

  #run(call: InboundCall): void {
    this.#running++;
    call.started = true;
    const handler = this.#handler;
    const cache = this.#idempotency;
    if (call.key !== undefined && cache !== undefined && call.id !== null) {
      const claim = cache.claim(call.method, call.key);
      if ("repeat" in claim) {
        claim.repeat.replay(call.method).then(
          (result) => this.#finish(call, result, undefined),
          (err: unknown) => this.#finish(call, undefined, err ?? new Error(String(err))),
        );
        return;
      }
      call.keyEntry = claim.first;
    }
    const tel = this.#telemetry;
    if (tel !== undefined && handler && call.target === undefined) return this.#runTraced(call, handler, tel);
    if (handler !== undefined && call.target === undefined && call.deadline === undefined) {
      // The plain call: a method that returns a value is answered now, with no promise and no closure made.
      let result: unknown;
      let then: unknown;
      try {
        result = handler.dispatchNow(call);
        if (result instanceof Promise) return this.#settle(call, result);
        // `await` reads a thenable's `then` once: so does this (a getter runs once; its throw fails the call).
        if (result !== null && (typeof result === "object" || typeof result === "function")) then = (result as { then?: unknown }).then;
      } catch (err) {
        return this.#finish(call, undefined, err ?? new Error(String(err)));
      }
      if (typeof then !== "function") return this.#finish(call, result, undefined);
      return this.#settle(call, adopt(result as object, then));
    }
    const done =
      call.target !== undefined
        ? (this.#a.refs(this.#s) as RefSession).invoke(call.target, call.method, call.args)
        : handler
          ? call.deadline === undefined
            ? handler.dispatch(call)
            : // Only a call with a deadline enters the async context: AsyncLocalStorage slows every promise of the process once used.
              runInCall(call, () => handler.dispatch(call))
          : Promise.reject(new RpcError("METHOD_NOT_FOUND", `method '${call.method}' is not served here: this side serves no handler (connect(url, { handler }))`));
    this.#settle(call, done);
  }

  /**
   * Run a plain call (or one-way call) on a method that needs no context,
   * before any call object is made: a plain value is answered here (a
   * one-way call's is dropped, as ever) and nothing else is made; anything
   * else (a promise, a throw, a value for the reference tables or the walk)
   * gets its call object now and goes on as in {@link #run}. False when
   * the method needs its context: nothing ran.
   */
  #runPlain(id: CallId | null, method: string, args: unknown[], kwargs: Record<string, unknown> | undefined, bytes: number): boolean {
    let result: unknown;
    let then: unknown;
    try {
      result = (this.#handler as RPCHandler).dispatchPlain(method, args, kwargs);
      if (result === NEEDS_CONTEXT) return false;
      if (result instanceof Promise) {
        this.#settle(this.#adopt(id, method, args, kwargs, bytes), result);
        return true;
      }
      // `await` reads a thenable's `then` once: so does this (a getter runs once; its throw fails the call).
      if (result !== null && (typeof result === "object" || typeof result === "function")) then = (result as { then?: unknown }).then;
    } catch (err) {
      this.#finish(this.#adopt(id, method, args, kwargs, bytes), undefined, err ?? new Error(String(err)));
      return true;
    }
    if (typeof then === "function") {
      this.#settle(this.#adopt(id, method, args, kwargs, bytes), adopt(result as object, then));
      return true;
    }
    if (id === null) {
      // A one-way call that returned: nothing to answer, but the connection was used.
      this.#a.touch(this.#s);
      return true;
    }
    if (this.#a.refs(this.#s) !== undefined || mayHoldRefs(result, this.#json)) {
      this.#finish(this.#adopt(id, method, args, kwargs, bytes), result, undefined);
      return true;
    }
    // Idleness counts from the last answer too, not only from the last frame read.
    this.#a.touch(this.#s);
    if (this.#a.closed(this.#s)) return true;
    let frame: OutFrame;
    try {
      frame = this.#a.encode(this.#s, [Kind.Reply, this.#a.wireId(this.#s, id), result]);
    } catch {
      // Refused by the serializer: #finish says so as it says it for every call.
      this.#finish(this.#adopt(id, method, args, kwargs, bytes), result, undefined);
      return true;
    }
    this.#a.send(this.#s, frame);
    return true;
  }

  /** The call object of a plain call whose handler already started: it holds its slot (and its id) from now on. */
  #adopt(id: CallId | null, method: string, args: unknown[], kwargs: Record<string, unknown> | undefined, bytes: number): InboundCall {
    const call = new InboundCall(id, method, args, kwargs, this.#origin, bytes);
    call.started = true;
    if (id === null) (this.#oneway ??= new CallSet()).add(call);
    else this.#calls.add(call);
    this.#running++;
    if (this.#running >= this.#maxInFlight) this.#a.updateReading(this.#s);
    return call;
  }

  #settle(call: InboundCall, done: Promise<unknown>): void {
    done.then(
      (result) => this.#finish(call, result, undefined),
      (err: unknown) => this.#finish(call, undefined, err ?? new Error(String(err))),
    );
  }

  #runTraced(call: InboundCall, handler: RPCHandler, tel: Telemetry): void {
    let span: ServerSpan | undefined;
    let done: Promise<unknown>;
    try {
      span = tel.server(call);
      const s = span;
      done = s.plain && call.deadline === undefined ? handler.dispatch(call) : s.run(() => runInCall(call, () => handler.dispatch(call)));
    } catch (err) {
      done = Promise.reject(err);
    }
    done.then(
      (result) => {
        span?.end(undefined);
        this.#finish(call, result, undefined);
      },
      (err: unknown) => {
        span?.end(err ?? new Error(String(err)));
        this.#finish(call, undefined, err ?? new Error(String(err)));
      },
    );
  }

  #finish(call: InboundCall, result: unknown, err: unknown): void {
    this.#running--;
    const refs = this.#a.refs(this.#s);
    // The deadline covers the streams the answer carries too (docs/protocol.md 6.4): its timer goes when they end.
    const endRefs = refs
      ? () => {
          if (call.timer !== undefined) clearTimeout(call.timer);
          refs.endInbound(call);
        }
      : undefined;
    let lingering = false;
    let replayable = true;
    // Idleness counts from the last answer too, not only from the last frame read.
    this.#a.touch(this.#s);
    const id = call.id;
    if (id === null) {
      this.#oneway?.delete(call);
      if (err !== undefined && !this.#a.closed(this.#s)) this.#handler?.options.onError?.(err, call);
    } else if (this.#calls.get(id) === call) {
      // Not cancelled, connection still open: the caller waits for this answer.
      this.#calls.delete(id);
      if (err === undefined) {
        let frame: OutFrame | undefined;
        try {
          let env: unknown[] = [Kind.Reply, this.#a.wireId(this.#s, id), result];
          if (refs) {
            lingering = true;
            env = refs.encodeResult(env, this.#json, (r) => call.abort(r), endRefs as () => void, () => call.signal);
            replayable = env.length === 3;
          } else if (mayHoldRefs(result, this.#json)) {
            env = replaceRefs(env, 2, RESULT_NAMES, this.#refsOn ? needsRefs : undefined, this.#json)[0];
          }
          const meta = call.responseMeta;
          if (meta !== undefined && this.#headers) env = putHeader(env, { meta });
          frame = this.#a.encode(this.#s, env);
        } catch (e) {
          if (e === NEEDS_REFS && this.#a.refsFailed(this.#s) === undefined) {
            // The result carries the first reference or stream: answer once the tables exist, as if the handler had just returned.
            this.#calls.add(call);
            this.#running++;
            this.#a.withRefs(this.#s, () => this.#finish(call, result, undefined));
            return;
          }
          if (e === NEEDS_REFS) err = this.#a.refsFailed(this.#s);
          else err = isLimit(e) ? e : new RpcError("SERIALIZE_ERROR", `cannot encode the result of '${call.method}': ${(e as Error)?.message ?? e}`);
        }
        if (frame) this.#a.send(this.#s, frame);
      }
      if (err !== undefined) this.#a.sendError(this.#s, id, err, call.responseMeta);
    }
    const entry = call.keyEntry;
    if (entry !== undefined) {
      // A handler that failed because its call was aborted did not complete: a retry runs it again.
      if (err !== undefined && call.aborted && call.key !== undefined) this.#idempotency?.forget(call.method, call.key, entry);
      entry.settle(result, err, replayable);
    }
    if (endRefs === undefined) {
      if (call.timer !== undefined) clearTimeout(call.timer);
    } else if (!lingering) endRefs();
    if (this.#a.closed(this.#s)) return;
    this.pump();
    if (this.#running === 0 && this.#queue.length === 0) this.#wakeIdle();
    this.#a.updateReading(this.#s);
  }

  /** Start waiting calls while slots are free and the peer reads its answers. */
  pump(): void {
    // A call answered at once finishes inside #run and pumps again: the loop already running takes the next one.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && this.#running < this.#maxInFlight && !this.#a.writeBlocked(this.#s) && !this.#a.closed(this.#s)) {
        const call = this.#queue.shift();
        if (!call) break;
        if (this.#shuttingDown) this.#refuseQueued(call);
        else this.#run(call);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #refuseQueued(call: InboundCall): void {
    if (call.id === null) {
      this.#oneway?.delete(call);
      return;
    }
    if (this.#calls.get(call.id) !== call) return;
    this.#calls.delete(call.id);
    this.#a.sendError(this.#s, call.id, new RpcError("SHUTTING_DOWN", "the server is shutting down"));
  }

  /** `#expireCall` bound to this serving half, made by the first call with a deadline (most connections have none). */
  #expire: ((call: InboundCall) => void) | undefined;

  /** A call's deadline passed: its handler's signal fires; a call still waiting for a slot never runs. */
  #expireCall(call: InboundCall): void {
    call.timer = undefined;
    const err = new RpcError("TIMEOUT", `the deadline of '${call.method}' passed`);
    if (call.started) {
      call.abort(err);
      return;
    }
    if (call.id === null ? !this.#oneway?.delete(call) : this.#calls.get(call.id) !== call) return;
    if (call.id !== null) this.#calls.delete(call.id);
    call.abort(err);
    this.#queue.cancelled();
    if (call.id !== null) this.#a.sendError(this.#s, call.id, err);
    if (this.#running === 0 && this.#queue.length === 0) this.#wakeIdle();
    this.#a.updateReading(this.#s);
  }

  cancel(id: CallId): void {
    const call = this.#calls.get(id);
    if (!call) return; // finished already (its answer is on its way and will be ignored), or never existed
    this.#calls.delete(id);
    const waiting = !call.started;
    call.abort(new RpcError("CANCELLED", "the caller cancelled the call"));
    if (waiting) {
      this.#queue.cancelled();
      if (this.#running === 0 && this.#queue.length === 0) this.#wakeIdle();
      this.#a.updateReading(this.#s);
    }
    // A running call keeps its slot until its handler settles: cancelling frees no capacity by itself.
  }
}

/** The longest delay setTimeout takes (2^31-1 ms); longer ones fire at once. */
const MAX_TIMER = 0x7fffffff;

const RESULT_NAMES = ["", "", "result"];

/**
 * False for a result the reference walk (src/refs/walk.ts) would pass
 * unchanged without a look inside: a primitive it accepts.
 */
function mayHoldRefs(v: unknown, json: boolean): boolean {
  switch (typeof v) {
    case "object":
    case "function":
      return v !== null;
    case "symbol":
      return true;
    case "number":
      return json && !Number.isFinite(v);
    default:
      return false;
  }
}

/** The promise `await thenable` makes, with `then` read already (once). */
function adopt(thenable: object, then: Function): Promise<unknown> {
  return new Promise((resolve, reject) => void then.call(thenable, resolve, reject));
}

/** The live-export limit is its own error, not an encoding failure. */
function isLimit(e: unknown): e is RpcError {
  return e instanceof RpcError && e.code === "REFERENCE_LIMIT";
}
