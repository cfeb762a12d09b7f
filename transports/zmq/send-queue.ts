/**
 * A small send queue in front of one ZeroMQ socket. zeromq.js allows one
 * pending `send()` at a time (a second one fails with EBUSY) and, rightly,
 * builds no hidden queue: this is the visible one, bounded by a high-water
 * mark that turns into `Connection.send() === false` and a later drain.
 *
 * zeromq.js may defer even a send that could go at once (it yields to the
 * event loop after a run of synchronous operations), so each send is
 * awaited before the next; the first of a burst still goes synchronously.
 */
import type { MessageLike } from "zeromq";

export interface SendTarget {
  send(message: MessageLike[]): Promise<void>;
}

export class SendQueue {
  readonly #sock: SendTarget;
  readonly #highWater: number;
  readonly #onDrain: () => void;
  readonly #onError: (err: unknown) => void;
  #queue: MessageLike[][] = [];
  #head = 0;
  #busy = false;
  #blocked = false;
  #closed = false;
  #flushed: (() => void)[] = [];

  /** `highWater`: messages waiting in JavaScript before `push` returns false. */
  constructor(sock: SendTarget, highWater: number, onDrain: () => void, onError: (err: unknown) => void) {
    this.#sock = sock;
    this.#highWater = highWater;
    this.#onDrain = onDrain;
    this.#onError = onError;
  }

  /** Messages waiting in JavaScript (not yet handed to ZeroMQ). */
  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Queue one multipart message. False when above the high-water mark: stop producing until the drain callback. */
  push(parts: MessageLike[]): boolean {
    if (this.#closed) return false;
    this.#queue.push(parts);
    if (!this.#busy) void this.#pump();
    if (this.length > this.#highWater) this.#blocked = true;
    return !this.#blocked;
  }

  /** Resolves once every queued message is in ZeroMQ's hands (or the queue closed). */
  flushed(): Promise<void> {
    if (!this.#busy || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#flushed.push(resolve));
  }

  /** Stop: later pushes are dropped, waiting messages are discarded. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#wakeFlushed();
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    while (!this.#closed && this.length > 0) {
      const parts = this.#queue[this.#head] as MessageLike[];
      this.#queue[this.#head++] = undefined as unknown as MessageLike[];
      try {
        await this.#sock.send(parts);
      } catch (err) {
        if (!this.#closed) this.#onError(err);
        break;
      }
      if (this.#blocked && this.length <= this.#highWater / 2 && !this.#closed) {
        this.#blocked = false;
        this.#onDrain();
      }
    }
    this.#queue = this.#queue.slice(this.#head);
    this.#head = 0;
    this.#busy = false;
    this.#wakeFlushed();
  }

  #wakeFlushed(): void {
    const waiters = this.#flushed;
    this.#flushed = [];
    for (const w of waiters) w();
  }
}
