import { RpcError } from "../errors.js";

/**
 * What one frame may make a decoder (and an encoder) spend. A frame's bytes
 * are bounded by the transport's `maxFrameSize`; these bound what the bytes
 * turn into, since one byte of MessagePack (an empty map) or two of JSON
 * (`{}`) become a heap object of ~60 bytes, and a few bytes of superjson can
 * declare a typed array of a gigabyte or share one subtree so often that
 * re-encoding it never ends. Each limit is checked before the value is
 * built (a typed array's length is that of a real array in the frame, never
 * a number), in time proportional to the frame, and breaking one is a
 * `PROTOCOL_ERROR` (decoding) or `SERIALIZE_ERROR` (encoding) that names it.
 *
 * The defaults suit RPC between untrusted peers; raise them for bulk data
 * with `createJson(limits)`, `createSuperjson(limits)` or
 * `createMsgpack(limits)` and `registerSerializer()` on both ends.
 */
export interface DecodeLimits {
  /** Deepest nesting of arrays, objects and maps (the envelope's own two levels included); recursive code downstream (handlers, encoders) stays far from the stack limit. */
  maxDepth: number;
  /** Arrays, objects, maps and sets built from one frame: each costs ~30-100 bytes of heap for as little as one input byte, so this bounds the heap one frame can take (250,000 ~ 25 MB and ~0.2 s at worst). */
  maxContainers: number;
  /** Values built from one frame, map keys and containers included: each costs at least a pointer (8 bytes) for one input byte, usually more. */
  maxElements: number;
  /** Values a value expands to when every shared reference is written out again (superjson referential equalities on decode; any shared subtree on encode), so a small DAG cannot become an exponential re-encoding. */
  maxExpandedElements: number;
  /** Characters of one superjson BigInt's decimal text: V8 parses it in superlinear time (1e6 digits ~0.6 s), so long ones are refused before parsing. */
  maxBigIntDigits: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxDepth: 128,
  maxContainers: 250_000,
  maxElements: 2_000_000,
  maxExpandedElements: 2_000_000,
  maxBigIntDigits: 2048,
});

/** `DEFAULT_DECODE_LIMITS` with `overrides` applied, checked (each a positive integer). */
export function resolveDecodeLimits(overrides: Partial<DecodeLimits> = {}): Readonly<DecodeLimits> {
  const out = { ...DEFAULT_DECODE_LIMITS };
  for (const key of Object.keys(overrides) as (keyof DecodeLimits)[]) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_DECODE_LIMITS, key)) {
      throw new RpcError("INVALID_PARAMS", `unknown decode limit '${String(key)}' (known: ${Object.keys(DEFAULT_DECODE_LIMITS).join(", ")})`);
    }
    const v = overrides[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      throw new RpcError("INVALID_PARAMS", `decode limit '${key}' must be a positive integer, got ${String(v)}`);
    }
    out[key] = v;
  }
  return Object.freeze(out);
}

/** The refusal of a frame that breaks a limit: names the limit and says how to raise it. */
export function decodeLimitError(serializer: string, limit: keyof DecodeLimits, value: number, what: string): RpcError {
  return overLimit("PROTOCOL_ERROR", serializer, limit, value, `frame refused: ${what} exceeds the decode limit`, "; split the data over several calls");
}

/** A frame the underlying parser rejected (malformed text or bytes), as a coded error. */
export function undecodable(serializer: string, err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  return new RpcError("PROTOCOL_ERROR", `undecodable ${serializer} frame: ${(err as Error)?.message ?? String(err)}`);
}

/** The refusal of a value that breaks a limit while encoding (the peer's decoder would refuse the frame). */
export function encodeLimitError(serializer: string, limit: keyof DecodeLimits, value: number, what: string): RpcError {
  return overLimit(
    "SERIALIZE_ERROR",
    serializer,
    limit,
    value,
    `cannot encode this value: ${what} exceeds the limit`,
    " past which a peer refuses the frame; a shared object is written out once per use. Send less per call",
  );
}

/** `<serializer> <what> <limit> (<value>)<fix>, or raise <limit> with create<Serializer>({ <limit> }) and registerSerializer() on both peers` */
function overLimit(code: string, serializer: string, limit: string, value: number, what: string, fix: string): RpcError {
  const create = `create${serializer.charAt(0).toUpperCase()}${serializer.slice(1)}`;
  return new RpcError(code, `${serializer} ${what} ${limit} (${value})${fix}, or raise ${limit} with ${create}({ ${limit} }) and registerSerializer() on both peers`, {
    data: { limit, value },
  });
}
