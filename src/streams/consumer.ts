/**
 * The consuming end of a stream: an AsyncIterable that grants the producer
 * credit as items are read, so at most `window` items are ever in flight or
 * buffered (docs/protocol.md, "Streams").
 */
import { RpcError } from "../errors.js";

export interface ConsumerHost {
  send(env: unknown[]): void;
  /** The stream is over on this side: forget it. */
  finished(id: number): void;
  /** Reading started: hold the stream until it is over. */
  started(id: number): void;
}

/**
 * What bounds a stream read as part of a call's answer: the call's signal
 * and its timeout's deadline cover the streams its result carries, as a
 * gRPC deadline covers the whole stream. `name` says which call.
 */
export interface StreamLimit {
  readonly name: string;
  readonly signal?: AbortSignal | undefined;
  /** `Date.now()` ms after which the stream stops with `TIMEOUT`. */
  readonly deadline?: number | undefined;
}

/** The error of a stream whose call's timeout passed. */
export function streamTimeout(name: string): RpcError {
  return new RpcError("TIMEOUT", `the stream from '${name}' passed its call's timeout (a call's timeout covers the streams its result carries: give the call a longer timeout, or none)`);
}

type Waiter = { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void };

export class Consumer implements AsyncIterable<unknown>, AsyncIterator<unknown> {
  #items: unknown[] = [];
  #head = 0;
  #done = false;
  #error: unknown;
  #waiter: Waiter | undefined;
  #started = false;
  /** Items read since the last grant. */
  #read = 0;
  /** Items granted and not yet received. */
  #outstanding = 0;
  #expired = false;
  #ended = false;
  /** The call's signal and deadline; streams nested in its items inherit them. */
  limit: StreamLimit | undefined;

  constructor(
    readonly id: number,
    readonly window: number,
    readonly host: ConsumerHost,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (this.#started) throw new RpcError("PROTOCOL_ERROR", "a remote stream can be iterated only once");
    this.#started = true;
    if (!this.#done) {
      this.host.started(this.id);
      this.#outstanding = this.window;
      this.host.send([9, this.id, this.window]);
    }
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (!this.#started) this[Symbol.asyncIterator]();
    // Also checked here: a loop fed only by microtasks (mem://, a full buffer) never lets the deadline's timer run.
    const limit = this.limit;
    if (limit?.deadline !== undefined && Date.now() >= limit.deadline) this.expire();
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      this.#consumed();
      return Promise.resolve({ value, done: false });
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** `break` or `return` in the loop: tell the producer to stop. */
  return(): Promise<IteratorResult<unknown>> {
    this.stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  /**
   * The call's deadline passed: whatever is buffered is dropped and every
   * read from now on fails with `TIMEOUT`, also when the producer's error
   * (its side of the deadline) arrived first. A stream that ended cleanly
   * keeps its items.
   */
  expire(): void {
    // A stream that ended cleanly before the deadline keeps what it delivered.
    if (this.#expired || this.#ended) return;
    this.#expired = true;
    const err = streamTimeout(this.limit?.name ?? "");
    this.#error = err;
    if (!this.#done) this.stop(err);
    this.#items = [];
    this.#head = 0;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
  }

  /** Stop without reading further (also used when the call's signal aborts). */
  stop(reason?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#items = [];
    this.#head = 0;
    this.host.send([12, this.id]);
    this.host.finished(this.id);
    if (reason !== undefined) this.fail(reason);
    else this.#settle();
  }

  #consumed(): void {
    if (this.#done) return;
    this.#read++;
    // Grant in batches of half a window: fewer credit frames, and the producer never idles.
    if (this.#read * 2 >= this.window) {
      this.#outstanding += this.#read;
      this.host.send([9, this.id, this.#read]);
      this.#read = 0;
    }
  }

  /** The next item is within the credit granted (or the stream is over here and drops it). */
  get canTake(): boolean {
    return this.#done || this.#outstanding > 0;
  }

  /** An item arrived. False when the producer sent more than its credit. */
  push(value: unknown): boolean {
    if (this.#done) return true;
    if (this.#outstanding <= 0) return false;
    this.#outstanding--;
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      this.#consumed();
      w.resolve({ value, done: false });
    } else {
      this.#items.push(value);
    }
    return true;
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#ended = true;
    this.host.finished(this.id);
    this.#settle();
  }

  fail(err: unknown): void {
    if (this.#error === undefined) this.#error = err;
    if (!this.#done) {
      this.#done = true;
      this.host.finished(this.id);
    }
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
  }

  #settle(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve({ value: undefined, done: true });
  }
}
