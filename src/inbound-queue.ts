/**
 * Calls read from a peer that wait for a free slot under the session's
 * in-flight limit. Reading goes on while they wait (so cancels are read and
 * honoured even when every slot is taken by a handler that never settles),
 * but only up to a bound in entries and bytes: past it the session stops
 * reading and a flood stays in the peer's socket, not in our memory.
 */
import { ServerCall, type PeerInfo } from "./call-context.js";
import type { CallId } from "./protocol.js";

/** A call (or, with `id` null, a one-way call) the session has read. */
export class InboundCall extends ServerCall {
  /** Its handler was started (it holds an in-flight slot until the handler settles). */
  started = false;
  /** A call on this side's reference `target` (src/refs/), not on the handler. */
  target: number | undefined = undefined;

  constructor(
    readonly id: CallId | null,
    method: string,
    args: readonly unknown[],
    kwargs: Readonly<Record<string, unknown>> | undefined,
    origin: PeerInfo,
    /** Size of the frame it came in, counted against the queue's byte bound while it waits. */
    readonly bytes: number,
  ) {
    super(method, args, kwargs, origin, id === null);
  }
}

/**
 * The calls of one connection by id, while running or waiting. Most
 * connections have one call in flight at a time: that one is kept in a
 * field, and only the others in a Map (a Map emptied by every answer and
 * refilled by the next call reallocates its table each time).
 */
export class CallTable {
  #first: InboundCall | undefined = undefined;
  #more: Map<CallId, InboundCall> | undefined = undefined;

  get(id: CallId): InboundCall | undefined {
    const first = this.#first;
    if (first !== undefined && first.id === id) return first;
    return this.#more === undefined ? undefined : this.#more.get(id);
  }

  /** Add a call whose id is not in the table. */
  add(call: InboundCall): void {
    if (this.#first === undefined) this.#first = call;
    else (this.#more ??= new Map()).set(call.id as CallId, call);
  }

  delete(id: CallId): void {
    const first = this.#first;
    if (first !== undefined && first.id === id) this.#first = undefined;
    else this.#more?.delete(id);
  }

  *[Symbol.iterator](): IterableIterator<InboundCall> {
    if (this.#first !== undefined) yield this.#first;
    if (this.#more !== undefined) yield* this.#more.values();
  }

  clear(): void {
    this.#first = undefined;
    this.#more = undefined;
  }
}

/** One-way calls running or waiting, kept like {@link CallTable} keeps calls: the first in a field, the others in a Set. */
export class CallSet {
  #first: InboundCall | undefined = undefined;
  #more: Set<InboundCall> | undefined = undefined;

  add(call: InboundCall): void {
    if (this.#first === undefined) this.#first = call;
    else (this.#more ??= new Set()).add(call);
  }

  /** True when `call` was in the set. */
  delete(call: InboundCall): boolean {
    if (this.#first === call) {
      this.#first = undefined;
      return true;
    }
    return this.#more !== undefined && this.#more.delete(call);
  }

  *[Symbol.iterator](): IterableIterator<InboundCall> {
    if (this.#first !== undefined) yield this.#first;
    if (this.#more !== undefined) yield* this.#more;
  }

  clear(): void {
    this.#first = undefined;
    this.#more = undefined;
  }
}

export class InboundQueue {
  #items: (InboundCall | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  #cancelled = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  /** Entries waiting, cancelled ones included until they are dropped. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** At or past its bound: the session should stop reading. */
  get full(): boolean {
    return this.length >= this.maxEntries || this.#bytes >= this.maxBytes;
  }

  push(call: InboundCall): void {
    this.#items.push(call);
    this.#bytes += call.bytes;
  }

  /** The next call that was not cancelled while it waited, or undefined. */
  shift(): InboundCall | undefined {
    while (this.#head < this.#items.length) {
      const call = this.#items[this.#head] as InboundCall;
      this.#items[this.#head++] = undefined;
      this.#bytes -= call.bytes;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      if (call.aborted) {
        if (this.#cancelled > 0) this.#cancelled--;
        continue;
      }
      return call;
    }
    return undefined;
  }

  /**
   * A waiting call was cancelled (its signal aborted by the caller). It
   * never runs; once more than half the queue is cancelled entries they are
   * dropped, so cancelling frees queue space at an amortised constant cost.
   */
  cancelled(): void {
    if (++this.#cancelled * 2 <= this.length) return;
    const live: (InboundCall | undefined)[] = [];
    let bytes = 0;
    for (let i = this.#head; i < this.#items.length; i++) {
      const c = this.#items[i] as InboundCall;
      if (c.aborted) continue;
      live.push(c);
      bytes += c.bytes;
    }
    this.#items = live;
    this.#head = 0;
    this.#bytes = bytes;
    this.#cancelled = 0;
  }

  /** Remove and return every waiting call that was not cancelled. */
  drain(): InboundCall[] {
    const out: InboundCall[] = [];
    for (let c = this.shift(); c !== undefined; c = this.shift()) out.push(c);
    this.#cancelled = 0;
    return out;
  }
}
