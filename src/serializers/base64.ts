// Base64 for the text serializers: Node's Buffer when present (fast), the
// standard atob/btoa in browsers.
interface BufferLike {
  from(a: ArrayBufferLike, o: number, l: number): { toString(e: string): string };
  from(s: string, e: string): Uint8Array;
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Standard base64 (with padding) of `b`. */
export function toBase64(b: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Bytes of a base64 string, as a plain Uint8Array. */
export function fromBase64(s: string): Uint8Array {
  if (NodeBuffer) {
    const b = NodeBuffer.from(s, "base64");
    // Small Buffers share Node's pool: copy those, so the bytes own their memory.
    return b.byteOffset === 0 && b.buffer.byteLength === b.byteLength ? new Uint8Array(b.buffer) : new Uint8Array(b);
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
