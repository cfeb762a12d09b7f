/**
 * What one server lets its peers' unfinished frames cost: memory across all
 * its connections (`maxBufferedBytes`) and time per frame (`frameTimeout`,
 * `minReadRate`). Shared by the tcp/tls and ws servers; knows nothing of
 * sockets or framing. Each connection gets a {@link ReadAccount}; its framer
 * reports how many bytes of the current unfinished frame it holds.
 *
 * Memory is refused as it arrives, never reserved from a declared length: a
 * peer announcing a large frame and sending nothing costs nothing. Time is
 * checked by one sweep timer per server that runs only while some frame is
 * unfinished (and until its next tick after), instead of a timer per frame
 * on the hot path.
 */
import { DEFAULT_LIMITS, RpcError, type Limits } from "../src/transport-sdk.js";

/** Bytes of an unfinished frame each connection holds without drawing on the shared budget. */
export const FREE_BYTES_PER_CONNECTION = 64 * 1024;

export type ReadLimits = Pick<Limits, "maxBufferedBytes" | "frameTimeout" | "minReadRate">;

export class ReadBudget {
  readonly limits: Readonly<ReadLimits>;
  /** Counted bytes held by all accounts (what exceeds each one's free allowance). */
  #counted = 0;
  readonly #active = new Set<ReadAccount>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastSweep = 0;
  readonly #tick: number;

  constructor(limits: Partial<ReadLimits> = {}) {
    this.limits = Object.freeze({
      maxBufferedBytes: limits.maxBufferedBytes ?? DEFAULT_LIMITS.maxBufferedBytes,
      frameTimeout: limits.frameTimeout ?? DEFAULT_LIMITS.frameTimeout,
      minReadRate: limits.minReadRate ?? DEFAULT_LIMITS.minReadRate,
    });
    // A frame is closed at most a quarter of its grace late, and the sweep stays cheap.
    this.#tick = Math.min(1000, Math.max(20, this.limits.frameTimeout / 4));
  }

  /** Bytes of unfinished frames held now beyond the per-connection allowances. */
  get counted(): number {
    return this.#counted;
  }

  /** Connections holding an unfinished frame now. */
  get unfinished(): number {
    return this.#active.size;
  }

  /**
   * An account for one connection. `isPaused` tells whether the server has
   * stopped reading it (that time does not count against the peer);
   * `onExpired` closes the connection when its frame is too slow.
   */
  open(isPaused: () => boolean, onExpired: (err: RpcError) => void): ReadAccount {
    return new ReadAccount(this, isPaused, onExpired);
  }

  /** @internal Move `delta` counted bytes; false (and nothing moved) when that would pass the budget. */
  reserve(delta: number): boolean {
    if (delta > 0 && this.#counted + delta > this.limits.maxBufferedBytes) return false;
    this.#counted += delta;
    return true;
  }

  /** @internal */
  activate(a: ReadAccount): void {
    this.#active.add(a);
    if (this.#timer !== undefined || this.limits.frameTimeout <= 0) return;
    this.#lastSweep = Date.now();
    this.#timer = setInterval(this.#sweep, this.#tick);
    this.#timer.unref();
  }

  /** @internal */
  deactivate(a: ReadAccount): void {
    // The sweep stops its own timer once it finds nothing unfinished: clearing it
    // here would cost a setInterval per message whenever messages straddle reads
    // (every 64 KiB message on ws, ~20 µs each).
    this.#active.delete(a);
  }

  readonly #sweep = (): void => {
    if (this.#active.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    const slept = now - this.#lastSweep;
    this.#lastSweep = now;
    const { frameTimeout, minReadRate } = this.limits;
    for (const a of this.#active) {
      if (a.isPaused()) {
        // The server stopped reading: the peer cannot make progress, so the clock stops too.
        a.started += slept;
        continue;
      }
      const elapsed = now - a.started;
      const allowed = frameTimeout + (minReadRate > 0 ? (a.held * 1000) / minReadRate : 0);
      if (elapsed <= allowed) continue;
      a.expire(
        new RpcError(
          "TIMEOUT",
          `an unfinished frame of ${a.held} bytes took over ${elapsed} ms (frameTimeout ${frameTimeout} ms, then minReadRate ${minReadRate} bytes/s); the connection was closed`,
        ),
      );
    }
  };
}

/** One connection's unfinished frame, as its framer reports it. */
export class ReadAccount {
  /** Bytes of the unfinished frame received so far (its header included); 0 when none. */
  held = 0;
  /** @internal When the unfinished frame began (ms), moved forward while the server was not reading. */
  started = 0;
  readonly isPaused: () => boolean;
  readonly #budget: ReadBudget;
  readonly #onExpired: (err: RpcError) => void;
  #counted = 0;

  constructor(budget: ReadBudget, isPaused: () => boolean, onExpired: (err: RpcError) => void) {
    this.#budget = budget;
    this.isPaused = isPaused;
    this.#onExpired = onExpired;
  }

  /** The shared budget's limits, for error messages. */
  get limits(): Readonly<ReadLimits> {
    return this.#budget.limits;
  }

  /**
   * The unfinished frame now holds `bytes` (0: there is none). False when
   * holding them would take the server past `maxBufferedBytes`: the caller
   * then drops the frame and closes the connection with PAYLOAD_TOO_LARGE.
   */
  hold(bytes: number): boolean {
    if (bytes === this.held) return true;
    const counted = bytes > FREE_BYTES_PER_CONNECTION ? bytes - FREE_BYTES_PER_CONNECTION : 0;
    if (counted !== this.#counted) {
      if (!this.#budget.reserve(counted - this.#counted)) return false;
      this.#counted = counted;
    }
    if (this.held === 0) {
      this.started = Date.now();
      this.#budget.activate(this);
    } else if (bytes === 0) {
      this.#budget.deactivate(this);
    }
    this.held = bytes;
    return true;
  }

  /** A frame was completed and `bytes` of the next one are already held: its clock starts now. */
  restart(bytes: number): boolean {
    this.release();
    return this.hold(bytes);
  }

  /** Give everything back (the frame is done, dropped, or the connection closed). Idempotent. */
  release(): void {
    if (this.held === 0) return;
    this.#budget.reserve(-this.#counted);
    this.#counted = 0;
    this.held = 0;
    this.#budget.deactivate(this);
  }

  /** @internal Called by the sweep: release, then close the connection. */
  expire(err: RpcError): void {
    this.release();
    this.#onExpired(err);
  }
}
