/**
 * The one way out of a ZeroMQ socket: every message this transport sends on
 * a socket (calls, replies, error replies, the authkey challenge, goodbyes)
 * goes through that socket's SendQueue, and nothing else calls its `send()`.
 *
 * zeromq.js allows one pending `send()` per socket: a second one while the
 * first waits throws EBUSY ("Socket is busy writing"). It builds no hidden
 * queue; this is the visible one, bounded by a high-water mark that turns
 * into `Connection.send() === false` and a later drain.
 *
 * Fast path: the queue owns the socket's `sendTimeout` and keeps it at 0.
 * With a zero send timeout zeromq.js hands the message to ZeroMQ inside
 * `send()` itself (no poll, no deferral), so when nothing is waiting and the
 * socket is writable the message goes at once, nothing stays pending, and
 * the next message may follow in the same tick: no await, no microtask hop
 * per message. A ROUTER never blocks (it drops past the high-water mark);
 * for a DEALER or REQ socket `writable` (ZMQ_POLLOUT) says whether ZeroMQ
 * takes a message now.
 *
 * Slow path: when the socket is not writable, or a send is still pending,
 * the message waits here. The pump sends the first waiting message with an
 * infinite timeout and awaits it (zeromq.js polls for writability), then
 * goes back to the fast path for the rest while the socket stays writable.
 */
import type { MessageLike } from "zeromq";

/** One message: its frames, or its only frame (no array to build). */
export type Outgoing = MessageLike | MessageLike[];

export interface SendTarget {
  send(message: Outgoing): Promise<void>;
  /** ZMQ_POLLOUT: ZeroMQ takes a message now. */
  readonly writable: boolean;
  /** ZMQ_SNDTIMEO, managed by the queue. */
  sendTimeout: number;
}

export class SendQueue {
  readonly #sock: SendTarget;
  readonly #highWater: number;
  readonly #onDrain: () => void;
  readonly #onError: (err: unknown) => void;
  /** The socket never blocks a send (a ROUTER): skip the writability check. */
  readonly #neverBlocks: boolean;
  readonly #failed = (err: unknown): void => this.#fail(err);
  #queue: Outgoing[] = [];
  #head = 0;
  /** The last send handed to zeromq.js on the fast path: normally settled at once; awaited only after an EBUSY. */
  #pending: Promise<void> | undefined;
  #busy = false;
  #blocked = false;
  #closed = false;
  #flushed: (() => void)[] = [];

  /** `highWater`: messages waiting in JavaScript before `push` returns false. */
  constructor(sock: SendTarget, highWater: number, onDrain: () => void, onError: (err: unknown) => void, neverBlocks = false) {
    this.#sock = sock;
    this.#highWater = highWater;
    this.#onDrain = onDrain;
    this.#onError = onError;
    this.#neverBlocks = neverBlocks;
    sock.sendTimeout = 0;
  }

  /** Messages waiting in JavaScript (not yet handed to ZeroMQ). */
  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Nothing waiting and nothing pending: everything pushed is in ZeroMQ's hands. */
  get idle(): boolean {
    return !this.#busy && this.length === 0;
  }

  /** Above the high-water mark: what `push` would return is false. */
  get blocked(): boolean {
    return this.#blocked || this.#closed;
  }

  /** Queue one multipart message. False when above the high-water mark: stop producing until the drain callback. */
  push(parts: Outgoing): boolean {
    if (this.#closed) return false;
    if (!this.#busy && (this.#neverBlocks || this.#sock.writable) && this.#trySend(parts)) return !this.#blocked;
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

  /**
   * Hand one message to zeromq.js with the zero send timeout: it is in
   * ZeroMQ's hands when `send()` returns (a failure, which a writable socket
   * does not produce, arrives as a rejection and closes the queue's owner).
   * False when zeromq.js reports EBUSY all the same (a build that defers
   * every send): the caller queues the message behind the pending one.
   */
  #trySend(parts: Outgoing): boolean {
    let sent: Promise<void>;
    try {
      sent = this.#sock.send(parts);
    } catch (err) {
      if ((err as { code?: string })?.code === "EBUSY" && this.#pending) return false;
      this.#fail(err);
      return true;
    }
    sent.then(undefined, this.#failed);
    this.#pending = sent;
    return true;
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    while (!this.#closed && this.length > 0) {
      const parts = this.#queue[this.#head] as Outgoing;
      if (this.#neverBlocks || this.#sock.writable) {
        if (!this.#trySend(parts)) {
          // EBUSY: zeromq.js still holds the previous send. Wait for it (its outcome is reported by #trySend), then retry.
          await (this.#pending as Promise<void>).then(undefined, () => {});
          this.#pending = undefined;
          continue;
        }
        this.#queue[this.#head++] = undefined as unknown as Outgoing;
      } else {
        // Blocked: let zeromq.js poll for writability with no timeout, then go back to the fast path.
        this.#queue[this.#head++] = undefined as unknown as Outgoing;
        this.#sock.sendTimeout = -1;
        try {
          await this.#sock.send(parts);
        } catch (err) {
          this.#fail(err);
          break;
        } finally {
          if (!this.#closed) this.#sock.sendTimeout = 0;
        }
      }
      if (this.#blocked && this.length <= this.#highWater / 2 && !this.#closed) {
        this.#blocked = false;
        this.#onDrain();
      }
    }
    this.#queue = this.#head < this.#queue.length && !this.#closed ? this.#queue.slice(this.#head) : [];
    this.#head = 0;
    this.#busy = false;
    this.#wakeFlushed();
  }

  #fail(err: unknown): void {
    if (!this.#closed) this.#onError(err);
  }

  #wakeFlushed(): void {
    if (this.#flushed.length === 0) return;
    const waiters = this.#flushed;
    this.#flushed = [];
    for (const w of waiters) w();
  }
}
