/**
 * Bounded waiting for tests: a promise settled from outside, and a race
 * against a deadline, so a broken behaviour fails the test instead of
 * hanging it (no sleeps as synchronisation).
 */

/** A promise with its resolve and reject in reach. */
export class Deferred<T = void> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
}

/** `promise`, or a rejection naming `what` after `ms` ms; the timer is cleared either way. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
