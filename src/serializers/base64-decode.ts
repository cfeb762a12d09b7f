// Bytes from base64, for superjson (JSON's bytes arrive as the string; see ./base64.ts).
interface BufferLike {
  from(s: string, e: string): Uint8Array & { buffer: ArrayBufferLike };
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

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
