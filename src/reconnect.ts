/**
 * Reconnecting with backoff (`connect(url, { reconnect })`): loaded by the
 * proxy at connect time when the option is set, so a page that never asks
 * for it does not fetch it, and one that does has it before the network
 * goes away.
 */
import { RpcError } from "./errors.js";
import type { Connection } from "./transport.js";

export interface ReconnectOptions {
  /** Attempts after a loss before giving up (default Infinity). */
  retries?: number;
  /** First delay, ms (default 100); doubles each attempt, with jitter. */
  minDelay?: number;
  /** Largest delay, ms (default 5000). */
  maxDelay?: number;
}

/** What the reconnector asks of its proxy. */
export interface Reconnecting {
  dial(): Promise<Connection>;
  /** Run a session on the new connection. */
  attach(conn: Connection): void;
  /** The proxy was closed meanwhile. */
  readonly closed: boolean;
  /** Calls wait for the connection: the timer keeps the process alive. */
  readonly waiting: boolean;
  /** Attempts ran out: close the proxy with `reason`. */
  giveUp(reason: RpcError): void;
  onError?: ((err: unknown) => void) | undefined;
}

type Timer = ReturnType<typeof setTimeout>;

/** One proxy's reconnection attempts. */
export class Reconnector {
  readonly #p: Reconnecting;
  readonly #opts: ReconnectOptions;
  #attempt = 0;
  #timer: Timer | undefined;

  constructor(proxy: Reconnecting, options: boolean | ReconnectOptions) {
    this.#p = proxy;
    this.#opts = typeof options === "object" ? options : {};
  }

  /** A connection is ready: the next loss starts from the first delay. */
  ready(): void {
    this.#attempt = 0;
  }

  /** A call waits for the connection: keep the process alive until it comes. */
  ref(): void {
    (this.#timer as { ref?: () => void } | undefined)?.ref?.();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** The connection was lost: dial again after the next delay (or give up). */
  lost(): void {
    const p = this.#p;
    const retries = this.#opts.retries ?? Infinity;
    if (this.#attempt >= retries) return p.giveUp(new RpcError("CONNECTION_CLOSED", `gave up reconnecting after ${retries} attempts`));
    const min = this.#opts.minDelay ?? 100;
    const max = this.#opts.maxDelay ?? 5000;
    const delay = Math.min(max, min * 2 ** this.#attempt) * (0.5 + Math.random() / 2);
    this.#attempt++;
    const t = setTimeout(() => {
      this.#timer = undefined;
      if (p.closed) return;
      p.dial().then(
        (conn) => {
          if (p.closed) conn.close();
          else p.attach(conn);
        },
        (err: unknown) => {
          p.onError?.(err);
          if (!p.closed) this.lost();
        },
      );
    }, delay);
    // Keep the process alive only while calls are waiting for the connection.
    if (!p.waiting) (t as { unref?: () => void }).unref?.();
    this.#timer = t;
  }
}
