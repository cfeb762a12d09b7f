/**
 * Pyro4's optional body compression (Flags.COMPRESSED): zlib, as Python's
 * `zlib.compress`/`zlib.decompress` write and read it. Inflating stops at an
 * output limit, so a small bomb costs at most the limit, never more.
 */
import { deflateSync, inflateSync } from "node:zlib";
import { ErrorCodes, RpcError } from "../../src/errors.js";
import { DEFAULT_PYRO4_LIMITS } from "./limits.js";

/** Pyro4 leaves bodies under 200 bytes alone: compressing them costs more than it saves. */
export const COMPRESS_MIN_SIZE = 200;

/** Inflate a zlib body; `PAYLOAD_TOO_LARGE` past `maxOutput` bytes, `PROTOCOL_ERROR` for bytes that are not zlib. */
export function decompress(data: Uint8Array, maxOutput: number = DEFAULT_PYRO4_LIMITS.maxDecompressedSize): Uint8Array {
  try {
    return inflateSync(data, { maxOutputLength: maxOutput });
  } catch (err) {
    if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `Pyro4: compressed body inflates past the limit of ${maxOutput} bytes (limits.maxDecompressedSize)`);
    }
    throw new RpcError(ErrorCodes.PROTOCOL_ERROR, `Pyro4: compressed body is not valid zlib data (${(err as Error).message})`);
  }
}

/**
 * Compress as Pyro4 does (with COMPRESSION on): only bodies of 200 bytes or
 * more, and only when that makes them smaller. Returns the bytes to send
 * and whether to set Flags.COMPRESSED.
 */
export function maybeCompress(data: Uint8Array): { data: Uint8Array; compressed: boolean } {
  if (data.length < COMPRESS_MIN_SIZE) return { data, compressed: false };
  const z = deflateSync(data);
  return z.length < data.length ? { data: z, compressed: true } : { data, compressed: false };
}
