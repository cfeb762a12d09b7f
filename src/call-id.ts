/**
 * Call ids on the wire (docs/protocol.md, "Call ids"): integers from 0 to
 * 2^53 - 1, the range every JSON and MessagePack peer carries exactly (a
 * JSON number above it is rounded by most parsers, this one's included).
 */
/** The largest call id a peer may use: `Number.MAX_SAFE_INTEGER` (2^53 - 1). */
export const MAX_CALL_ID = Number.MAX_SAFE_INTEGER;

/** True for an id in range: an integer from 0 to {@link MAX_CALL_ID}. */
export function isCallId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The id of a call envelope whose id is an integer outside the range
 * (negative, above 2^53 - 1, or a BigInt from a 64-bit MessagePack int),
 * or undefined when the frame is not such a call.
 */
export function outOfRangeCallId(decoded: unknown): number | bigint | undefined {
  if (!Array.isArray(decoded) || decoded[0] !== 0) return undefined;
  const id = decoded[1] as unknown;
  if (typeof id === "bigint") return id;
  if (typeof id === "number" && Number.isInteger(id) && !isCallId(id)) return id;
  return undefined;
}

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
// A JSON number token: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?, matched loosely: the
// frame already parsed, so only its extent matters.
const NUMBER_BYTE = new Set([..."0123456789+-.eE"].map((c) => c.charCodeAt(0)));

/**
 * The exact text of the id in a JSON call frame `[0, <id>, ...`, which
 * JSON.parse may have rounded, so an error can carry back the id the peer
 * sent. Undefined when the frame does not start that way. Reads at most
 * the first few dozen bytes.
 */
export function jsonCallIdText(frame: Uint8Array): string | undefined {
  let i = 0;
  const skip = (): void => {
    while (i < frame.length && SPACE.has(frame[i] as number)) i++;
  };
  const expect = (byte: number): boolean => {
    skip();
    if (frame[i] !== byte) return false;
    i++;
    return true;
  };
  if (!expect(0x5b) || !expect(0x30) || !expect(0x2c)) return undefined;
  skip();
  const start = i;
  while (i < frame.length && i - start < 40 && NUMBER_BYTE.has(frame[i] as number)) i++;
  if (i === start || i - start >= 40) return undefined;
  let text = "";
  for (let j = start; j < i; j++) text += String.fromCharCode(frame[j] as number);
  return text;
}
