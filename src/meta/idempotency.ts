/**
 * The server half of idempotent retries: a call that carries an
 * idempotency key (docs/protocol.md, section 7) runs its handler once; a
 * repeat of the key within the window, on any connection of the server,
 * gets the first call's outcome (waiting for it while it runs) instead of
 * running the handler again. Bounded in keys and time.
 */
import { RpcError } from "../errors.js";

export interface IdempotencyOptions {
  /** How long (ms) after a keyed call arrived a repeat of its key is answered from the first outcome (default 60000). */
  window?: number;
  /** Keys remembered at once (default 10000); past it the oldest is forgotten, and a late repeat of it runs again. */
  maxKeys?: number;
}

/** One key's first call and, once settled, its outcome. */
export class KeyEntry {
  readonly promise: Promise<unknown>;
  #resolve!: (v: unknown) => void;
  #reject!: (e: unknown) => void;
  settled = false;
  /** False when the first answer carried streams or references, which cannot be sent twice. */
  replayable = true;

  constructor(readonly expires: number) {
    this.promise = new Promise((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
    // Nobody may be waiting: a failed first call is not an unhandled rejection.
    this.promise.catch(() => undefined);
  }

  settle(result: unknown, err: unknown, replayable: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.replayable = replayable;
    if (err === undefined) this.#resolve(result);
    else this.#reject(err);
  }

  /** What a repeat of the key is answered with. */
  replay(method: string): Promise<unknown> {
    return this.promise.then((v) => {
      if (!this.replayable) throw new RpcError("IDEMPOTENCY_CONFLICT", `the first call with this idempotency key to '${method}' answered with a stream or reference, which cannot be sent again`);
      return v;
    });
  }
}

export class IdempotencyCache {
  readonly #entries = new Map<string, KeyEntry>();
  readonly #window: number;
  readonly #maxKeys: number;

  constructor(options: IdempotencyOptions = {}) {
    this.#window = options.window ?? 60_000;
    this.#maxKeys = Math.max(1, options.maxKeys ?? 10_000);
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The entry of a repeated key (answer from it), or undefined after
   * registering `owner` as the first call of a new key (run the handler,
   * then `settle` the returned entry).
   */
  claim(method: string, key: string): { repeat: KeyEntry } | { first: KeyEntry } {
    const now = Date.now();
    const id = `${method}\u0000${key}`;
    const found = this.#entries.get(id);
    if (found !== undefined && found.expires > now) return { repeat: found };
    if (found !== undefined) this.#entries.delete(id);
    this.#evict(now);
    const entry = new KeyEntry(now + this.#window);
    this.#entries.set(id, entry);
    return { first: entry };
  }

  /** Forget a key whose first call did not complete (aborted), so that a retry runs it. */
  forget(method: string, key: string, entry: KeyEntry): void {
    const id = `${method}\u0000${key}`;
    if (this.#entries.get(id) === entry) this.#entries.delete(id);
  }

  // Entries are in arrival order and share one window, so expired ones are at the front.
  #evict(now: number): void {
    for (const [id, e] of this.#entries) {
      if (e.expires > now && this.#entries.size < this.#maxKeys) break;
      this.#entries.delete(id);
    }
  }
}
