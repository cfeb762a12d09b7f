/**
 * Every limit of the Pyro4 codecs in one place. A Pyro4 peer is a stranger
 * on a socket: each field bounds the memory or time one message can cost.
 * Decoders take a `Partial<Pyro4Limits>` and fill the rest from
 * {@link DEFAULT_PYRO4_LIMITS}.
 */
export interface Pyro4Limits {
  /** Largest message body (annotations + data, in bytes) accepted; checked on the header, before the body is buffered. Python's Pyro4 calls this MAX_MESSAGE_SIZE. */
  maxMessageSize: number;
  /** Annotation chunks one message may carry (Pyro4 itself sends at most HMAC, CORR and STRM). */
  maxAnnotations: number;
  /** Largest output of a compressed (zlib) body; inflating stops there instead of growing with a bomb. */
  maxDecompressedSize: number;
  /** Deepest nesting of containers in decoded data; also bounds the decoders' recursion. */
  maxDepth: number;
  /** Values (scalars and containers) one decoded body may hold, so small input cannot build a huge object graph. */
  maxItems: number;
  /** Decimal digits of one int literal; Python's own default `int_max_str_digits` is 4300, and parsing longer ones costs quadratic time. */
  maxIntDigits: number;
}

export const DEFAULT_PYRO4_LIMITS: Readonly<Pyro4Limits> = Object.freeze({
  maxMessageSize: 64 * 1024 * 1024,
  maxAnnotations: 64,
  maxDecompressedSize: 64 * 1024 * 1024,
  maxDepth: 200,
  maxItems: 4 * 1024 * 1024,
  maxIntDigits: 4300,
});

/** The limits with the given overrides applied; refuses values that are not positive integers. */
export function pyro4Limits(overrides: Partial<Pyro4Limits> = {}): Pyro4Limits {
  const lim: Pyro4Limits = { ...DEFAULT_PYRO4_LIMITS };
  for (const key of Object.keys(DEFAULT_PYRO4_LIMITS) as (keyof Pyro4Limits)[]) {
    const v = overrides[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`Pyro4 limit ${key} must be a positive integer, got ${String(v)}`);
    lim[key] = v;
  }
  return lim;
}
