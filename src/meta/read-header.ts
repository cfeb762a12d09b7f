/**
 * Validating a call header read from the wire (./header.ts has the layout).
 * Apart from writing one, so that a page whose answers carry no header
 * never loads it: the session loads it when the first answer with a header
 * arrives; the serving half imports it.
 */
import { RpcError } from "../errors.js";
import type { CallHeader } from "./header.js";
import { checkMeta, type MetaLimits } from "./meta.js";

/** Idempotency keys longer than this are refused: a key is an id, not a payload. */
export const MAX_KEY_LENGTH = 128;

/** Validate a header read from the wire: PROTOCOL_ERROR for its shape, INVALID_META / META_TOO_LARGE for its metadata. */
export function readHeader(v: unknown, limits: Readonly<MetaLimits>, where: string): CallHeader {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new RpcError("PROTOCOL_ERROR", "malformed call header (not an object)");
  const h = v as Record<string, unknown>;
  const out: CallHeader = {};
  if (h.meta !== undefined && h.meta !== null) out.meta = checkMeta(h.meta, limits, where);
  const t = h.timeout;
  if (t !== undefined && t !== null) {
    if (typeof t !== "number" || !(t >= 0) || !Number.isFinite(t)) throw new RpcError("PROTOCOL_ERROR", "malformed call header: timeout must be a non-negative number of ms");
    out.timeout = t;
  }
  const k = h.key;
  if (k !== undefined && k !== null) {
    if (typeof k !== "string" || k === "" || k.length > MAX_KEY_LENGTH) throw new RpcError("PROTOCOL_ERROR", `malformed call header: key must be a string of 1 to ${MAX_KEY_LENGTH} characters`);
    out.key = k;
  }
  return out;
}
