/**
 * The bounds of call metadata (./meta.ts checks metadata against them),
 * apart so that naming them does not load the checks.
 */
import { RpcError } from "../errors.js";

export interface MetaLimits {
  /** Entries in one call's (or answer's) metadata (default 64). */
  maxEntries: number;
  /** UTF-8 bytes of all its keys and values together (default 8 KiB, like gRPC's default header list). */
  maxBytes: number;
}

export const DEFAULT_META_LIMITS: Readonly<MetaLimits> = Object.freeze({ maxEntries: 64, maxBytes: 8192 });

/** Limits with overrides, each checked to be a positive integer. */
export function metaLimits(o: Partial<MetaLimits> | undefined): Readonly<MetaLimits> {
  if (o === undefined) return DEFAULT_META_LIMITS;
  const l = { ...DEFAULT_META_LIMITS, ...o };
  for (const k of ["maxEntries", "maxBytes"] as const) {
    if (!Number.isInteger(l[k]) || l[k] < 0) throw new RpcError("INVALID_META", `metaLimits.${k} must be a non-negative integer, got ${String(l[k])}`);
  }
  return l;
}
