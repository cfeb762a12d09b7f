/**
 * The limits of the Python recipe codec (pickle and Python's JSON), in one
 * place. A peer chooses every byte it sends, so each limit bounds what one
 * frame can make this process spend: decoding is charged per object, per
 * element and per unit of copying, and encoding refuses a value whose
 * encoded form would outgrow a bound instead of expanding shared references
 * without end. Every refusal is an `RpcError` whose `data.limit` names the
 * limit (the message names it too), so a caller knows which one to raise.
 */
import { RpcError } from "../../src/errors.js";

/** Limits for decoding and encoding recipe messages; override any of them with a `Partial<PickleLimits>`. */
export interface PickleLimits {
  /** Largest pickle accepted, in bytes. */
  maxSize: number;
  /** Deepest nesting of containers in a decoded value (also bounds recursion in the decoder). */
  maxDepth: number;
  /** Memo entries (`PUT`/`MEMOIZE`) a pickle may create. */
  maxMemo: number;
  /** Largest int, in bytes of its two's-complement form (decimal ints: at most 4300 digits, as Python itself). */
  maxIntBytes: number;
  /**
   * Heap objects one decoded message may create: containers, bytes, marks.
   * One opcode byte makes a container of 50-200 bytes of heap, so this, not
   * the frame size, is what bounds memory for a frame of `EMPTY_DICT`s.
   */
  maxObjects: number;
  /** Values one decoded message may place on the stack or in containers (each costs a slot of 8 bytes or more). */
  maxElements: number;
  /** Exception instances one decoded message may build (each captures a stack: costly in time). */
  maxExceptions: number;
  /**
   * Characters of exception messages that one decode may build from
   * non-string arguments (`str(exc)` of nested exceptions grows with every
   * level of quoting). Past it a message ends in "..."; `args` stay exact.
   */
  maxMessageChars: number;
  /** Largest encoded message, in bytes; a bigger reply or request is refused, not built. */
  maxEncodedSize: number;
  /**
   * Values one encode may visit. Shared references are written out once per
   * reference, so a small value with sharing can expand exponentially: this
   * refuses it instead of hanging.
   */
  maxEncodedValues: number;
}

/** The limits used when none are given. */
export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = Object.freeze({
  // The transports' maxFrameSize (default 16 MiB) applies first; this bounds decodePickle used alone.
  maxSize: 64 * 1024 * 1024,
  // Python's own recursion limit is about 1000 frames; 200 levels of data is plenty.
  maxDepth: 200,
  maxMemo: 1 << 20,
  maxIntBytes: 8192,
  // 262144 containers: about 64 MiB of heap at worst, a quarter of a second to build.
  maxObjects: 1 << 18,
  // 4194304 values: about 32 MiB of slots (plus their dict entries) at worst.
  maxElements: 1 << 22,
  maxExceptions: 1024,
  maxMessageChars: 64 * 1024,
  maxEncodedSize: 64 * 1024 * 1024,
  maxEncodedValues: 1 << 22,
});

/** `limits` over the defaults. Values that are not numbers >= 0 are refused, so a typo cannot switch a limit off. */
export function resolvePickleLimits(limits: Partial<PickleLimits> | undefined): PickleLimits {
  if (limits === undefined) return DEFAULT_PICKLE_LIMITS as PickleLimits;
  if (resolved.has(limits)) return limits as PickleLimits;
  const out = { ...DEFAULT_PICKLE_LIMITS, ...limits } as PickleLimits;
  for (const k of Object.keys(limits)) {
    if (!(k in DEFAULT_PICKLE_LIMITS)) throw new RpcError("INVALID_PARAMS", `unknown pickle limit '${k}' (known: ${Object.keys(DEFAULT_PICKLE_LIMITS).join(", ")})`);
    const v = (out as unknown as Record<string, unknown>)[k];
    if (v === undefined) (out as unknown as Record<string, unknown>)[k] = (DEFAULT_PICKLE_LIMITS as unknown as Record<string, unknown>)[k];
    else if (typeof v !== "number" || !(v >= 0)) throw new RpcError("INVALID_PARAMS", `pickle limit '${k}' must be a number >= 0, got ${String(v)}`);
  }
  resolved.add(out);
  return out;
}

/** Objects {@link resolvePickleLimits} returned: passing one again costs a lookup, not a copy (decoding is per frame). */
const resolved = new WeakSet<object>([DEFAULT_PICKLE_LIMITS]);

/** A decode limit was passed: `PROTOCOL_ERROR` (the message is refused), `data` naming the limit. */
export function decodeLimitError(what: string, limit: keyof PickleLimits, value: number): RpcError {
  return new RpcError("PROTOCOL_ERROR", `${what}: more than ${value} (limit ${limit}); raise it in the limits option if the peer is trusted`, {
    data: { limit, value },
  });
}

/** An encode limit was passed: `PAYLOAD_TOO_LARGE`, `data` naming the limit. */
export function encodeLimitError(what: string, limit: keyof PickleLimits, value: number): RpcError {
  return new RpcError(
    "PAYLOAD_TOO_LARGE",
    `${what}: the encoded value would exceed ${value} (limit ${limit}); shared references are written once per reference, so return a smaller value or raise the limit`,
    { data: { limit, value } },
  );
}
