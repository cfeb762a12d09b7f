/**
 * The delivery logic every framed transport needs, written once: hold frames
 * until `open`, deliver them in order, pause and resume, report drain, close
 * the sink exactly once after what the peer sent has been delivered.
 *
 * A transport extends {@link ConnectionBase} and supplies only what is its
 * own: how to write one frame, how to stop and restart reading its socket,
 * and how to close it. It reports what its socket does through the
 * protected methods `deliver`, `drained` and `ended`.
 *
 * Rules every subclass gets for free (test/connection-base.test.ts checks
 * them, and runs the same contract against every real transport):
 * - The sink is never called re-entrantly from inside `open`, `resume` or
 *   `close`: held frames and the close go out on a microtask.
 * - Frames reach the sink in the order the transport delivered them, none
 *   after `sink.close`. While nothing is held the transport's frame goes
 *   straight to the sink in the same call (the hot path: no queue, no copy).
 * - `sink.close(err)` is called exactly once, whoever closes and however
 *   often. A close by the peer (`ended`) comes after every frame delivered
 *   before it; a local `close()` drops frames not yet delivered.
 * - `send` after `close()` or `ended()` returns false and writes nothing.
 *   Once `send` has returned false it keeps returning false until the
 *   transport reports `drained()`, and then the sink hears `drain()` once.
 *
 * Runs in browsers too: nothing here may import node:*.
 */
import type * as Early from "./connection-early.js";
import type { EarlyAccess, EarlyRead } from "./connection-early.js";
import { RpcError } from "./errors.js";
import { Lazy } from "./lazy.js";
import type { Connection, ConnectionSink } from "./transport.js";

/** Tuning a transport passes to {@link ConnectionBase}. */
export interface ConnectionBaseOptions {
  /**
   * Before `open`, reading stops once held frames reach this many bytes
   * (unless a handshake read waits). 0, the default, stops after a single
   * frame, so an unauthenticated peer can get only one frame ahead.
   */
  holdBeforeOpen?: number;
}

/** Set in ConnectionBase's static block. */
let ACCESS: EarlyAccess<ConnectionBase>;
/** The handshake read, loaded by the first one: only transports with a handshake (authkey) run it. */
const EARLY = new Lazy("handshake read (src/connection-early.js)", (): Promise<typeof Early> => import("./connection-early.js"));

/** The empty held-frames list every connection shares while it holds none (never pushed to). */
const NONE: Uint8Array[] = [];

/** The transport is up. */
const LIVE = 0;
/** The transport ended by itself (peer close, socket error): held frames still reach the sink, then its close. */
const ENDED = 1;
/** `close()` was called: nothing more is delivered, the sink's close is due. */
const CLOSED = 2;
type State = typeof LIVE | typeof ENDED | typeof CLOSED;

export abstract class ConnectionBase implements Connection {
  abstract readonly transport: string;
  abstract readonly remoteAddress: string | undefined;

  #sink: ConnectionSink | undefined;
  /**
   * True when a delivered frame may go straight to the sink: opened, first
   * flush done, not paused, nothing held, not closed. The one test on the
   * receive hot path.
   */
  #flowing = false;
  #paused = false;
  /** What the transport was last told: true after `pauseReading()` until `resumeReading()`. */
  #readPaused = false;
  /** Frames waiting for the sink; the shared empty {@link NONE} while none is (most of a connection's life). */
  #held: Uint8Array[] = NONE;
  #head = 0;
  #heldBytes = 0;
  #flushScheduled = false;
  #blocked = false;
  #state: State = LIVE;
  #closeErr: Error | undefined;
  #sinkClosed = false;
  #early: EarlyRead | undefined;
  readonly #holdBeforeOpen: number;

  static {
    ACCESS = {
      busy: (c) => c.#sink !== undefined || c.#early !== undefined,
      take: (c) => {
        if (c.#head === c.#held.length) return undefined;
        const frame = c.#shift();
        if (c.#readPaused && c.#state === LIVE && !c.#overBudget()) c.#startReading();
        return frame;
      },
      gone: (c) => (c.#state === LIVE ? undefined : (c.#closeErr ?? closedError())),
      wait: (c, early) => {
        c.#early = early;
        if (c.#readPaused) c.#startReading();
      },
    };
  }

  constructor(options: ConnectionBaseOptions = {}) {
    this.#holdBeforeOpen = options.holdBeforeOpen ?? 0;
  }

  // ---- what a transport supplies -----------------------------------------

  /**
   * Write one frame (the hot path). The transport owns `frame` from here on.
   * Return false when its outgoing buffer is above its high-water mark; it
   * then owes one `drained()` call once the buffer is low again. Never
   * called after `close()` or `ended()`.
   */
  protected abstract write(frame: Uint8Array, text: boolean): boolean;
  /**
   * Write one frame given as parts (their concatenation), same contract as
   * `write`. This default joins them into one buffer and calls `write`; a
   * transport that can write the parts as they are overrides it.
   */
  protected writeParts(parts: readonly Uint8Array[], text: boolean): boolean {
    return this.write(joinParts(parts), text);
  }
  /** Stop reading from the socket (best effort: frames that still arrive are held). */
  protected abstract pauseReading(): void;
  /**
   * Read again, and, for a transport that buffers bytes itself, deliver
   * what it has while `flowing` stays true. Called after every flush that
   * leaves the connection flowing, so it must be cheap when already reading.
   */
  protected abstract resumeReading(): void;
  /**
   * Flush what `write` queued when that needs no wait on the peer, then
   * close the socket. Called once, on the first `close()` while the
   * transport is still up; the sink's close is the base's job.
   */
  protected abstract closeTransport(err: Error | undefined): void;

  // ---- what a transport reports ------------------------------------------

  /** One complete frame from the peer. Dropped after `close()`/`ended()`. */
  protected deliver(frame: Uint8Array): void {
    if (this.#flowing) {
      (this.#sink as ConnectionSink).frame(frame);
      return;
    }
    if (this.#state !== LIVE) return;
    const early = this.#early;
    if (early) {
      this.#early = undefined;
      early.resolve(frame);
      return;
    }
    if (this.#held === NONE) this.#held = [];
    this.#held.push(frame);
    this.#heldBytes += frame.byteLength;
    if (!this.#sink && this.#heldBytes >= this.#holdBeforeOpen) this.#stopReading();
  }

  /** The outgoing buffer is low again after `write` returned false. Spurious calls are ignored. */
  protected drained(): void {
    if (!this.#blocked || this.#state !== LIVE || !this.#sink) return;
    this.#blocked = false;
    this.#sink.drain();
  }

  /**
   * The transport ended without `close()` (the peer closed, the socket
   * failed): frames delivered so far still reach the sink, in order and
   * when not paused, then `sink.close(err)`. Ignored after `close()`.
   */
  protected ended(err?: Error): void {
    if (this.#state !== LIVE) return;
    this.#state = ENDED;
    this.#flowing = false;
    this.#closeErr = err;
    this.#failEarly();
    this.#schedule();
  }

  /** Frames may go straight to the sink now; a transport buffering bytes delivers while this holds. */
  protected get flowing(): boolean {
    return this.#flowing;
  }

  /** Neither closed nor ended. */
  protected get live(): boolean {
    return this.#state === LIVE;
  }

  /** `send` returned false and no `drained()` has come since. */
  protected get writeBlocked(): boolean {
    return this.#blocked;
  }

  /**
   * Before `open` only: the next frame from the peer, for a handshake the
   * transport runs itself. Frames held before the call are taken first.
   * Rejects with PAYLOAD_TOO_LARGE for a frame longer than `maxLength`, and
   * with the close reason when the connection ends first.
   */
  protected receiveBeforeOpen(maxLength: number): Promise<Uint8Array> {
    const m = EARLY.m;
    return m !== undefined ? m.receive(this, ACCESS, maxLength) : EARLY.load().then((l) => l.receive(this, ACCESS, maxLength));
  }

  // ---- Connection --------------------------------------------------------

  open(sink: ConnectionSink): void {
    if (this.#sink) throw new RpcError("INTERNAL_ERROR", "open() called twice");
    this.#sink = sink;
    this.#failEarly(new RpcError("INTERNAL_ERROR", "open() while a handshake read waits"));
    this.#schedule();
  }

  send(frame: Uint8Array, text = false): boolean {
    if (this.#state !== LIVE) return false;
    if (this.write(frame, text) && !this.#blocked) return true;
    this.#blocked = true;
    return false;
  }

  sendParts(parts: readonly Uint8Array[], text = false): boolean {
    if (this.#state !== LIVE) return false;
    if (this.writeParts(parts, text) && !this.#blocked) return true;
    this.#blocked = true;
    return false;
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#flowing = false;
    if (this.#state === LIVE) this.#stopReading();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#schedule();
  }

  close(err?: Error): void {
    if (this.#state === CLOSED) return;
    const wasLive = this.#state === LIVE;
    this.#state = CLOSED;
    this.#flowing = false;
    // After the transport ended by itself, its reason stands: it came first.
    if (wasLive) this.#closeErr = err;
    this.#held = NONE;
    this.#head = 0;
    this.#heldBytes = 0;
    this.#failEarly();
    if (wasLive) this.closeTransport(err);
    this.#schedule();
  }

  // ---- internals ---------------------------------------------------------

  #schedule(): void {
    if (this.#flushScheduled || !this.#sink || this.#sinkClosed) return;
    this.#flushScheduled = true;
    // A closure per schedule (on open, resume and close, not per frame) rather than one kept per connection.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const sink = this.#sink;
    if (!sink || this.#sinkClosed) return;
    while (!this.#paused && this.#state !== CLOSED && this.#head < this.#held.length) sink.frame(this.#shift());
    if (this.#state === CLOSED || (this.#state === ENDED && this.#head === this.#held.length)) {
      this.#sinkClosed = true;
      sink.close(this.#closeErr);
      return;
    }
    if (this.#paused || this.#state !== LIVE) return;
    this.#flowing = true;
    this.#startReading();
  }

  #shift(): Uint8Array {
    const frame = this.#held[this.#head] as Uint8Array;
    this.#held[this.#head++] = undefined as unknown as Uint8Array;
    this.#heldBytes -= frame.byteLength;
    if (this.#head === this.#held.length) {
      this.#held = NONE;
      this.#head = 0;
    }
    return frame;
  }

  #overBudget(): boolean {
    return this.#head < this.#held.length && this.#heldBytes >= this.#holdBeforeOpen;
  }

  #stopReading(): void {
    if (this.#readPaused) return;
    this.#readPaused = true;
    this.pauseReading();
  }

  #startReading(): void {
    this.#readPaused = false;
    this.resumeReading();
  }

  #failEarly(err?: Error): void {
    const early = this.#early;
    if (!early) return;
    this.#early = undefined;
    early.reject(err ?? this.#closeErr ?? closedError());
  }
}

/** The parts of a frame as one buffer. */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function closedError(): RpcError {
  return new RpcError("CONNECTION_CLOSED", "the connection is closed");
}
