// Node's Buffer is much faster than TextEncoder/TextDecoder for short
// strings; browsers get the standard codecs.
interface BufferLike {
  from(s: string, enc: "utf8"): Uint8Array;
  prototype: { utf8Slice?: unknown };
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 encode. */
export const utf8Encode: (s: string) => Uint8Array = NodeBuffer
  ? (s) => NodeBuffer.from(s, "utf8")
  : (s) => encoder.encode(s);

/** UTF-8 decode; invalid UTF-8 throws (frames are validated, not repaired). */
export function utf8Decode(b: Uint8Array): string {
  return decoder.decode(b);
}
