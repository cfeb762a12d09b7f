/**
 * The producing end of a stream: pulls from the async iterable only while
 * the consumer has granted credit (docs/protocol.md, "Streams"), so a slow
 * consumer stops the producer and nothing buffers without bound.
 */
export interface ProducerHost {
  /** Send one envelope; false when the transport asks us to wait for drain. */
  send(env: unknown[]): boolean;
  /** Resolves when the transport can take more. */
  writable(): Promise<void>;
  /** The stream ended one way or another: forget it. `stopped`: the consumer or the connection stopped it. */
  finished(id: number, stopped: boolean): void;
  /** The error envelope's payload for `err`. */
  wireError(err: unknown): unknown;
}

export class Producer {
  #credit = 0;
  #running = false;
  #stopped = false;
  #wake: (() => void) | undefined;
  #iter: AsyncIterator<unknown> | undefined;

  constructor(
    readonly id: number,
    readonly source: AsyncIterable<unknown>,
    readonly host: ProducerHost,
  ) {}

  /** The consumer granted `n` more items. */
  grant(n: number): void {
    if (this.#stopped) return;
    this.#credit += n;
    if (!this.#running) void this.#run();
    else this.#signal();
  }

  /** The consumer stopped (break) or the connection closed: the source's `finally` runs. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#signal();
    const iter = this.#iter;
    if (iter && typeof iter.return === "function") {
      Promise.resolve()
        .then(() => iter.return?.())
        .catch(() => {});
    } else if (!this.#running) {
      this.host.finished(this.id, true);
    }
  }

  #signal(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async #run(): Promise<void> {
    this.#running = true;
    const host = this.host;
    try {
      this.#iter = this.source[Symbol.asyncIterator]();
      for (;;) {
        while (this.#credit <= 0 && !this.#stopped) await new Promise<void>((r) => (this.#wake = r));
        if (this.#stopped) break;
        const r = await this.#iter.next();
        if (this.#stopped) break;
        if (r.done) {
          host.send([10, this.id]);
          break;
        }
        this.#credit--;
        if (!host.send([8, this.id, r.value])) await host.writable();
      }
    } catch (err) {
      if (!this.#stopped) host.send([11, this.id, host.wireError(err)]);
    } finally {
      host.finished(this.id, this.#stopped);
    }
  }
}
