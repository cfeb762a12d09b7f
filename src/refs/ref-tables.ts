/**
 * A session's reference and stream tables (docs/protocol.md, "Streams and
 * references"): one id space per direction for everything this side
 * exports (callbacks, `ref()` objects, streams it produces), the stubs and
 * stream consumers for what the peer exported, one release rule, and
 * everything freed when the connection closes. The session makes them
 * (src/refs/load.ts) when the first reference or stream travels on a
 * connection whose hello negotiated references.
 */
import { unref, type OutgoingCall } from "../caller.js";
import { startCall } from "../start-call.js";
import type { CallOptions, Caller } from "../call-types.js";
import { RpcError, isWireError, type WireError } from "../errors.js";
import { fromWireError } from "../errors-from-wire.js";
import { toWireError } from "../errors-to-wire.js";
import { createFacade, proxyInfo } from "../facade.js";
import { Consumer, type StreamLimit } from "../streams/consumer.js";
import { Producer } from "../streams/producer.js";
import { registerStub, type RefOwner } from "./marks.js";
import { DEFAULT_STREAM_WINDOW, MAX_EXPORTS, MAX_REFS_PER_FRAME, MAX_STREAMS, RefKind } from "./ref-session.js";

export { DEFAULT_STREAM_WINDOW, MAX_EXPORTS, MAX_STREAMS, RefKind };
import { MAX_DEPTH, formatPath, replaceRefs, type PathKey, type RefEntry } from "./walk.js";
import type { Serializer } from "../serializers/serializer.js";
import type { SessionOptions } from "../session-options.js";

/** What the session lends to the tables. */
export interface RefHost {
  /** Encode and send; false when the transport asks to wait for drain. Throws when it cannot encode. */
  sendEnvelope(env: unknown[]): boolean;
  /** Send a call on a reference through the session's pending table. */
  sendRefCall(call: OutgoingCall, target: number): void;
  readonly ready: boolean;
  readonly exposeStack: boolean;
  readonly defaults: { timeout?: number; signal?: AbortSignal; captureStack?: boolean };
}

/** A session as its tables reach it (src/session.ts's PeerSession, named by shape so that no import loop forms). */
export interface TablesSession {
  readonly ready: boolean;
  readonly serializer: Serializer | undefined;
  send(call: OutgoingCall, target?: number): void;
}

/** What the tables take from the session's access table. */
export interface TablesAccess<S> {
  opts(s: S): SessionOptions;
  /** Send a frame; false when the transport asks to wait for drain (the session then pauses reading). */
  send(s: S, frame: Uint8Array): boolean;
}

/** The reference and stream tables of session `s` (made when the first reference or stream travels on it). */
export function tablesOf<S extends TablesSession>(s: S, a: TablesAccess<S>): RefSession {
  const o = a.opts(s);
  return new RefSession(
    {
      sendEnvelope: (env) => a.send(s, (s.serializer as Serializer).encode(env)),
      sendRefCall: (call, target) => s.send(call, target),
      get ready() {
        return s.ready;
      },
      exposeStack: o.handler?.options.exposeStack ?? false,
      defaults: o,
    },
    o.streamWindow,
  );
}

interface Export {
  id: number;
  kind: "f" | "o" | "s";
  value: unknown;
  /** The call whose arguments carried it: it is freed when that call settles, unless kept. */
  scope: object | undefined;
  kept: boolean;
  producer: Producer | undefined;
  /** Aborted when a stream returned by a handler is stopped by the consumer or the connection. */
  abort: ((reason: unknown) => void) | undefined;
  /** Run once when a stream ends, however it ends. */
  done: (() => void) | undefined;
}

/** Resolved when a reference to this side's own object comes back. */
const OWN = "r";

const finalizer: FinalizationRegistry<{ table: WeakRef<RefSession>; id: number }> | undefined =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry(({ table, id }) => table.deref()?.collected(id))
    : undefined;

const streamFinalizer: FinalizationRegistry<{ table: WeakRef<RefSession>; id: number }> | undefined =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry(({ table, id }) => table.deref()?.unreadCollected(id))
    : undefined;

class RefCaller implements Caller {
  constructor(
    readonly table: RefSession,
    readonly id: number,
  ) {}
  call(name: string, args: unknown[], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    return this.table.callRef(this.id, name, args, kwargs, options);
  }
  async notify(name: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<void> {
    await this.table.callRef(this.id, name, args, kwargs, undefined);
  }
  async close(): Promise<void> {
    this.table.release(this.id);
  }
}

export class RefSession implements RefOwner {
  readonly #host: RefHost;
  readonly #window: number;
  readonly #self = new WeakRef(this);
  readonly #exports = new Map<number, Export>();
  /** Exports of kind "s" among them. */
  #streams = 0;
  #nextExport = 1;
  /** Reference ids of the peer this side holds, with the scope (inbound call) that frees them. */
  readonly #imports = new Map<number, object | undefined>();
  /**
   * Streams this side reads, by id: held strongly once reading started, and
   * weakly before, so that a stream result nobody reads is stopped when it
   * is garbage-collected instead of holding the producer until disconnect.
   */
  readonly #consumers = new Map<number, Consumer>();
  readonly #unread = new Map<number, WeakRef<Consumer>>();
  /** Export ids (outgoing call scopes) or import ids (inbound call scopes) by scope. */
  readonly #scopes = new Map<object, number[]>();
  /** Streams the last {@link encode} exported outside any call's scope. */
  #streamsDone: Export[] | undefined;
  #closed = false;
  /** Set while a consumer's stop aborts the call, so that the abort does not fail the call's other streams. */
  #stopping = false;
  #writeWaiters: (() => void)[] = [];

  constructor(host: RefHost, window = DEFAULT_STREAM_WINDOW) {
    this.#host = host;
    this.#window = Math.max(1, Math.floor(window));
  }

  /** Exports and imports alive (tests assert that un-kept callbacks leave nothing). */
  get size(): { exports: number; imports: number; streams: number } {
    return { exports: this.#exports.size, imports: this.#imports.size, streams: this.#consumers.size + this.#unread.size };
  }

  // ---- encoding --------------------------------------------------------

  /**
   * Replace what travels by reference in `env[from..]`; append the reference
   * list when there is one. `scope`: the outgoing call that owns exported
   * callbacks (undefined for results: they live until released).
   */
  encode(env: unknown[], from: number, names: readonly string[], json: boolean, scope: object | undefined, onStop?: (reason: unknown) => void): unknown[] {
    this.#streamsDone = undefined;
    const created: number[] = [];
    const exporter = (v: unknown, kind: "f" | "o" | "s", path: readonly PathKey[]): [string, number] => {
      const own = this.#ownId(v);
      if (own !== undefined) return [OWN, own];
      const info = kind === "f" ? proxyInfo(v) : undefined;
      if (info) {
        if (info.caller instanceof RefCaller) {
          // A method of a reference proxy, or a proxy of another connection's reference: forward calls to it.
          if (info.path !== "") throw new RpcError("SERIALIZE_ERROR", `the method '${info.path}' of a reference proxy cannot travel; pass the proxy itself`);
          kind = "o";
        } else {
          throw new RpcError("SERIALIZE_ERROR", `a connection proxy at ${path.join(".")} cannot travel; pass ref(obj) or a callback instead`);
        }
      }
      if (this.#exports.size >= MAX_EXPORTS || (kind === "s" && this.#streams >= MAX_STREAMS)) {
        const what = kind === "s" ? `${MAX_STREAMS} live streams it produces (read, break out of or stop some)` : `${MAX_EXPORTS} live streams, callbacks and references (release some)`;
        throw new RpcError("REFERENCE_LIMIT", `${formatPath(path, names)} cannot travel: this connection already holds ${what}`);
      }
      const id = this.#nextExport++;
      const e: Export = { id, kind, value: v, scope, kept: false, producer: undefined, abort: scope === undefined ? onStop : undefined, done: undefined };
      if (kind === "s" && scope === undefined) (this.#streamsDone ??= []).push(e);
      this.#exports.set(id, e);
      if (kind === "s") this.#streams++;
      created.push(id);
      return [kind, id];
    };
    let out: unknown[];
    let refs: RefEntry[] | undefined;
    try {
      [out, refs] = replaceRefs(env, from, names, exporter, json);
    } catch (err) {
      for (const id of created) this.#dropExport(id);
      throw err;
    }
    if (!refs) return env;
    if (scope !== undefined) this.#scopes.set(scope, created);
    return trailing(out, refs);
  }

  /**
   * Encode a handler's result. `end` runs when the inbound call's references
   * are done: at once, or when the streams the result carries have ended
   * (a stream the handler returned may read a stream it received).
   * `signalOf`: the call's signal (made only when the result streams);
   * when something other than the consumer aborts it, its streams stop.
   */
  encodeResult(env: unknown[], json: boolean, abort: (reason: unknown) => void, end: () => void, signalOf?: () => AbortSignal): unknown[] {
    let out: unknown[];
    try {
      out = this.encode(env, 2, RESULT_NAMES, json, undefined, abort);
    } catch (err) {
      end();
      throw err;
    }
    const streams = this.#streamsDone;
    this.#streamsDone = undefined;
    if (!streams) {
      end();
      return out;
    }
    // Whatever else ends the call (its deadline, the server giving up on it) ends its streams, and the consumer learns why.
    const signal = signalOf?.();
    const onAbort = (): void => {
      if (this.#stopping) return;
      for (const e of streams) this.#failStream(e, signal?.reason);
    };
    let left = streams.length;
    const one = (): void => {
      if (--left > 0) return;
      signal?.removeEventListener("abort", onAbort);
      end();
    };
    for (const e of streams) e.done = one;
    // Already aborted: fail the streams after the answer that announces them is sent.
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener("abort", onAbort, { once: true });
    return out;
  }

  /** Stop a stream this side produces for a reason of its own; the consumer gets it as the stream's error. */
  #failStream(e: Export, reason: unknown): void {
    const id = e.id;
    if (this.#exports.get(id) !== e) return;
    if (e.producer) e.producer.stop();
    else this.#finishExport(id, e);
    this.#trySend([RefKind.Fail, id, toWireError(reason ?? new RpcError("CANCELLED", "the stream's call was cancelled"), this.#host.exposeStack)]);
  }

  /** Forget export `id`; every removal goes through here, so that the stream count stays true. */
  #dropExport(id: number): Export | undefined {
    const e = this.#exports.get(id);
    if (!e) return undefined;
    this.#exports.delete(id);
    if (e.kind === "s") this.#streams--;
    return e;
  }

  #finishExport(id: number, e: Export): void {
    if (this.#exports.get(id) === e) this.#dropExport(id);
    const done = e.done;
    e.done = undefined;
    done?.();
  }

  #ownId(v: unknown): number | undefined {
    const info = proxyInfo(v);
    if (info && info.caller instanceof RefCaller && info.caller.table === this && info.path === "") return info.caller.id;
    if (typeof v === "function" && !info) {
      const id = (v as { [STUB_ID]?: unknown })[STUB_ID];
      if (typeof id === "number" && (v as { [STUB_TABLE]?: unknown })[STUB_TABLE] === this) return id;
    }
    return undefined;
  }

  /** The outgoing call that carried exports settled: free the ones not kept. Streams it carried stop. */
  endOutgoing(call: object): void {
    const ids = this.#scopes.get(call);
    if (!ids) return;
    this.#scopes.delete(call);
    for (const id of ids) {
      const e = this.#exports.get(id);
      if (!e || e.kept) continue;
      this.#dropExport(id);
      e.producer?.stop();
    }
  }

  // ---- decoding --------------------------------------------------------

  /**
   * Put stubs and stream consumers where the peer's reference list says.
   * `scope`: the inbound call that frees them when it ends (undefined: they
   * live until released, or until collected).
   */
  decode(env: unknown[], list: unknown, scope: object | undefined, limit?: StreamLimit, streamsDone?: () => void): void {
    if (!Array.isArray(list) || list.length > MAX_REFS_PER_FRAME) throw new RpcError("PROTOCOL_ERROR", "malformed reference list");
    const ids: number[] = [];
    const counter = { left: 0, done: streamsDone };
    try {
      this.#decodeList(env, list, scope, limit, streamsDone, ids, counter);
    } catch (err) {
      // Nothing of a refused list stays behind: what an answer or item brought is released (a call's are freed by its answer).
      for (const id of ids) {
        if (this.#imports.has(id)) {
          if (scope === undefined) this.release(id);
          else this.#imports.delete(id);
        } else {
          this.#consumer$(id)?.stop();
        }
      }
      throw err;
    }
    if (scope !== undefined && ids.length > 0) this.#scopes.set(scope, ids);
    if (counter.left === 0) streamsDone?.();
  }

  #decodeList(
    env: unknown[],
    list: unknown[],
    scope: object | undefined,
    limit: StreamLimit | undefined,
    streamsDone: (() => void) | undefined,
    ids: number[],
    counter: { left: number; done: (() => void) | undefined },
  ): void {
    for (const entry of list) {
      if (!Array.isArray(entry) || entry.length !== 3 || typeof entry[1] !== "string" || !isId(entry[2])) throw new RpcError("PROTOCOL_ERROR", "malformed reference entry");
      const [path, kind, id] = entry as [unknown, string, number];
      let value: unknown;
      if (kind === OWN) {
        const e = this.#exports.get(id);
        if (!e || e.kind === "s") throw new RpcError("REFERENCE_RELEASED", `the peer passed back reference ${id}, which is released`);
        value = e.value;
      } else if (kind === "f" || kind === "o" || kind === "s") {
        if (this.#imports.has(id) || this.#consumer$(id)) throw new RpcError("PROTOCOL_ERROR", `reference id ${id} is already in use`);
        value = kind === "s" ? this.#consumer(id, limit, streamsDone ? () => this.#oneDone(counter) : undefined) : this.#stub(kind, id);
        if (kind === "s") counter.left++;
        if (kind !== "s") this.#imports.set(id, scope);
        ids.push(id);
      } else {
        throw new RpcError("PROTOCOL_ERROR", `unknown reference kind '${kind}'`);
      }
      placeRef(env, path, value);
    }
  }

  #oneDone(counter: { left: number; done: (() => void) | undefined }): void {
    if (--counter.left === 0) counter.done?.();
  }

  /** An inbound call ended: references it received and did not keep are gone (the peer frees them at its end). */
  endInbound(call: object): void {
    const ids = this.#scopes.get(call);
    if (!ids) return;
    this.#scopes.delete(call);
    for (const id of ids) {
      if (this.#imports.get(id) === call) this.#imports.delete(id);
      // A stream that came with the call's arguments ends with it.
      this.#consumer$(id)?.stop(new RpcError("REFERENCE_RELEASED", "the call that carried this stream has ended"));
    }
  }

  #stub(kind: "f" | "o", id: number): unknown {
    const caller = new RefCaller(this, id);
    let stub: object;
    if (kind === "o") {
      stub = createFacade(caller);
    } else {
      const fn = (...args: unknown[]): Promise<unknown> => caller.call("", args);
      Object.defineProperty(fn, STUB_ID, { value: id });
      Object.defineProperty(fn, STUB_TABLE, { value: this });
      stub = fn;
    }
    registerStub(stub, this, id);
    finalizer?.register(stub, { table: this.#self, id });
    return stub;
  }

  #consumer(id: number, limit: StreamLimit | undefined, done: (() => void) | undefined): Consumer {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const c = new Consumer(id, this.#window, {
      send: (env) => this.#trySend(env),
      finished: (sid) => {
        if (timer !== undefined) clearTimeout(timer);
        this.#consumers.delete(sid);
        this.#unread.delete(sid);
        done?.();
      },
      started: (sid) => {
        const self = this.#unread.get(sid)?.deref();
        if (!self) return;
        this.#unread.delete(sid);
        this.#consumers.set(sid, self);
      },
    });
    this.#unread.set(id, new WeakRef(c));
    streamFinalizer?.register(c, { table: this.#self, id }, c);
    if (!limit) return c;
    c.limit = limit;
    const signal = limit.signal;
    if (signal) {
      if (signal.aborted) c.stop(new RpcError("CANCELLED", "the stream's call was aborted", { cause: signal.reason }));
      else signal.addEventListener("abort", () => c.stop(new RpcError("CANCELLED", "the stream's call was aborted", { cause: signal.reason })), { once: true });
    }
    if (limit.deadline !== undefined) {
      const expire = (): void => c.expire();
      const left = limit.deadline - Date.now();
      if (left <= 0) expire();
      else timer = unref(setTimeout(expire, left));
    }
    return c;
  }

  // ---- RefOwner ----------------------------------------------------------

  keep(id: number): void {
    if (!this.#imports.has(id)) throw new RpcError("REFERENCE_RELEASED", "keep(): the reference is already released (keep it while the call that carried it runs)");
    if (this.#imports.get(id) === undefined) return;
    this.#imports.set(id, undefined);
    this.#trySend([RefKind.Keep, id]);
  }

  release(id: number): void {
    if (!this.#imports.delete(id)) return;
    this.#trySend([RefKind.Release, id]);
  }

  #consumer$(id: number): Consumer | undefined {
    return this.#consumers.get(id) ?? this.#unread.get(id)?.deref();
  }

  /** A stream result was garbage-collected before anyone read it: stop its producer. */
  unreadCollected(id: number): void {
    if (this.#closed || !this.#unread.has(id)) return;
    this.#unread.delete(id);
    this.#trySend([RefKind.Stop, id]);
  }

  /** A stub was garbage-collected: release what it stood for if it is still held. */
  collected(id: number): void {
    if (this.#closed) return;
    if (this.#imports.has(id)) this.release(id);
  }

  // ---- calls on references -------------------------------------------------

  callRef(id: number, name: string, args: unknown[], kwargs: Record<string, unknown> | undefined, options: CallOptions | undefined): Promise<unknown> {
    if (this.#closed || !this.#host.ready) return Promise.reject(new RpcError("CONNECTION_CLOSED", "the connection that carried this reference is closed"));
    if (!this.#imports.has(id)) return Promise.reject(new RpcError("REFERENCE_RELEASED", `the reference${name ? ` (method '${name}')` : ""} was released: keep() a callback to use it after its call ends`));
    const { promise, call } = startCall(name, args, kwargs, options, this.#host.defaults);
    if (call) this.#host.sendRefCall(call, id);
    return promise;
  }

  /**
   * A frame of one of the kinds above. Returns the inbound ref call's
   * envelope to answer, or undefined when handled here.
   */
  frame(env: unknown[]): void {
    const kind = env[0];
    const id = env[1];
    switch (kind) {
      case RefKind.Release: {
        if (!isId(id)) break;
        const e = this.#exports.get(id);
        if (e && e.kind !== "s") this.#dropExport(id);
        return;
      }
      case RefKind.Keep: {
        if (!isId(id)) break;
        const e = this.#exports.get(id);
        // A stream is not kept: it ends with its call whatever the peer says.
        if (e && e.kind !== "s") e.kept = true;
        return;
      }
      case RefKind.Credit: {
        const n = env[2];
        if (!isId(id) || typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 1 << 30) break;
        const e = this.#exports.get(id);
        if (!e || e.kind !== "s") return; // stopped already
        if (!e.producer) e.producer = this.#producer(id, e.value as AsyncIterable<unknown>);
        e.producer.grant(n);
        return;
      }
      case RefKind.Stop: {
        if (!isId(id)) break;
        const e = this.#exports.get(id);
        if (!e || e.kind !== "s") return;
        this.#stopping = true;
        try {
          e.abort?.(new RpcError("CANCELLED", "the consumer stopped the stream"));
        } finally {
          this.#stopping = false;
        }
        if (e.producer) e.producer.stop();
        else this.#finishExport(id, e);
        return;
      }
      case RefKind.Item: {
        if (!isId(id) || (env.length !== 3 && env.length !== 4)) break;
        const c = this.#consumer$(id);
        if (!c) return; // stopped here; items in flight are dropped
        // Credit is checked before the item's references are made.
        if (!c.canTake) {
          const err = new RpcError("PROTOCOL_ERROR", `stream ${id}: the peer sent more items than its credit`);
          c.stop(err);
          throw err;
        }
        if (env.length === 4) this.decode(env, env[3], undefined, c.limit);
        c.push(env[2]);
        return;
      }
      case RefKind.End: {
        if (!isId(id)) break;
        this.#consumer$(id)?.end();
        return;
      }
      case RefKind.Fail: {
        if (!isId(id) || !isWireError(env[2])) break;
        this.#consumer$(id)?.fail(fromWireError(env[2] as WireError));
        return;
      }
    }
    throw new RpcError("PROTOCOL_ERROR", `malformed envelope of kind ${String(kind)}`);
  }

  #producer(id: number, source: AsyncIterable<unknown>): Producer {
    return new Producer(id, source, {
      send: (env) => {
        if (this.#closed) return true;
        try {
          const out = env[0] === RefKind.Item ? this.encode(env, 2, ["item"], false, undefined) : env;
          return this.#host.sendEnvelope(out);
        } catch (err) {
          return this.#host.sendEnvelope([RefKind.Fail, id, toWireError(err, this.#host.exposeStack)]);
        }
      },
      writable: () => (this.#closed ? Promise.resolve() : new Promise<void>((r) => this.#writeWaiters.push(r))),
      finished: (sid) => {
        const e = this.#exports.get(sid);
        if (e) this.#finishExport(sid, e);
      },
      wireError: (err) => toWireError(err, this.#host.exposeStack),
    });
  }

  /**
   * Check a call on one of this side's references (kind 5) and take its
   * reference list off. The session runs it like any call: it takes an
   * in-flight slot, waits in the queue when none is free, and is answered,
   * cancelled and freed as calls are.
   */
  parseRefCall(env: unknown[]): { id: number; target: number; name: string; args: unknown[]; refs: unknown } {
    const [, id, target, name, args, kwargs] = env as [number, unknown, unknown, unknown, unknown, unknown];
    if (!isId(id) || !isId(target) || typeof name !== "string" || !Array.isArray(args) || (kwargs !== null && kwargs !== undefined) || env.length < 5 || env.length > 7) {
      throw new RpcError("PROTOCOL_ERROR", "malformed reference call");
    }
    const refs = env.length === 7 ? env.pop() : undefined;
    return { id, target, name, args, refs };
  }

  /** Run a call on export `target` (what the session's dispatch does for handler calls). */
  invoke(target: number, name: string, args: readonly unknown[]): Promise<unknown> {
    try {
      const e = this.#exports.get(target);
      if (!e || e.kind === "s") throw new RpcError("REFERENCE_RELEASED", `reference ${target} is released (callbacks live while their call runs unless kept)`);
      let fn: unknown;
      let self: unknown;
      if (e.kind === "f") {
        if (name !== "") throw new RpcError("METHOD_NOT_FOUND", `a callback has no method '${name}'`);
        fn = e.value;
      } else {
        if (name === "" || name.startsWith("_") || name === "constructor" || name in Object.prototype || name.includes(".")) {
          throw new RpcError("METHOD_NOT_FOUND", `method '${name}' is not callable on a reference`);
        }
        self = e.value;
        fn = (self as Record<string, unknown>)[name];
        if (typeof fn !== "function") throw new RpcError("METHOD_NOT_FOUND", `the referenced object has no method '${name}'`);
      }
      return Promise.resolve((fn as (...a: unknown[]) => unknown).apply(self, args as unknown[]));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #trySend(env: unknown[]): void {
    if (this.#closed) return;
    try {
      this.#host.sendEnvelope(env);
    } catch {
      // control frames always encode
    }
  }

  /** The transport can take more: producers waiting on it go on. */
  drain(): void {
    const w = this.#writeWaiters;
    this.#writeWaiters = [];
    for (const f of w) f();
  }

  /** The connection closed: stop every producer, fail every consumer, forget everything. */
  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    const exports = [...this.#exports.values()];
    this.#exports.clear();
    this.#streams = 0;
    for (const e of exports) {
      if (e.kind === "s") e.abort?.(reason);
      e.producer?.stop();
      e.done = undefined;
    }
    const unread = [...this.#unread.values()].map((w) => w.deref());
    for (const c of [...this.#consumers.values(), ...unread]) c?.fail(reason);
    this.#consumers.clear();
    this.#unread.clear();
    this.#imports.clear();
    this.#scopes.clear();
    this.drain();
  }
}

const STUB_ID = Symbol("wirecall.stubId");
const STUB_TABLE = Symbol("wirecall.stubTable");

const RESULT_NAMES = ["", "", "result"];

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function trailing(env: unknown[], refs: RefEntry[]): unknown[] {
  const kind = env[0];
  // The reference list is the last element: kwargs (or null) first in calls and one-way calls.
  const fixed = kind === 0 ? 5 : kind === 3 ? 4 : kind === 5 ? 6 : kind === 1 ? 3 : kind === 8 ? 3 : env.length;
  const out = env.slice(0, fixed);
  while (out.length < fixed) out.push(null);
  out.push(refs);
  return out;
}

export { isWireError };

/** Where a received reference sits: follow `path` from the envelope and check the slot holds the placeholder null. */
export function placeRef(env: unknown[], path: unknown, value: unknown): void {
  if (!Array.isArray(path) || path.length < 1 || path.length > MAX_DEPTH + 2) throw new RpcError("PROTOCOL_ERROR", "malformed reference path");
  let node: unknown = env;
  for (let i = 0; i < path.length; i++) {
    const key = path[i] as unknown;
    let holder: Record<string | number, unknown>;
    if (Array.isArray(node)) {
      if (typeof key !== "number" || !Number.isInteger(key) || key < 0 || key >= node.length) throw new RpcError("PROTOCOL_ERROR", "reference path leaves the value");
      holder = node as unknown as Record<number, unknown>;
    } else if (typeof node === "object" && node !== null && !ArrayBuffer.isView(node)) {
      const proto = Object.getPrototypeOf(node) as unknown;
      if ((proto !== Object.prototype && proto !== null) || typeof key !== "string" || key === "__proto__" || !Object.hasOwn(node, key)) {
        throw new RpcError("PROTOCOL_ERROR", "reference path leaves the value");
      }
      holder = node as Record<string, unknown>;
    } else {
      throw new RpcError("PROTOCOL_ERROR", "reference path leaves the value");
    }
    if (i === path.length - 1) {
      if (holder[key as string] !== null) throw new RpcError("PROTOCOL_ERROR", "a reference path must end at a null placeholder");
      holder[key as string] = value;
      return;
    }
    node = holder[key as string];
  }
}
