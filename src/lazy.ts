/**
 * A part of wirecall loaded once per process, when first needed: in a page
 * bundle each is a chunk of its own that a page which never needs it never
 * fetches (the serving half, the encoding walk, the reference tables, the
 * call header reader).
 */
import { RpcError } from "./errors.js";

export class Lazy<T> {
  /** The module's part, once loaded. */
  m: T | undefined;
  #loading: Promise<T> | undefined;
  readonly #what: string;
  readonly #load: () => Promise<T>;

  /** `what` names it in the error when it cannot be loaded. */
  constructor(what: string, load: () => Promise<T>) {
    this.#what = what;
    this.#load = load;
  }

  /** Load it (once; a failed load may be retried): `MISSING_DEPENDENCY` when it cannot be (a page's chunk that failed to download). */
  load(): Promise<T> {
    return (this.#loading ??= this.#load().then(
      (m) => (this.m = m),
      (e: unknown) => {
        this.#loading = undefined;
        throw new RpcError("MISSING_DEPENDENCY", `cannot load wirecall's ${this.#what}: ${(e as Error)?.message ?? e}`, { cause: e });
      },
    ));
  }

  /** Run `k` once loaded (at once when it is), with the error when it cannot be. */
  run(k: (err?: Error) => void): void {
    if (this.m !== undefined) k();
    else this.load().then(() => k(), k);
  }
}
