// Base64 for the text serializers: Node's Buffer when present (fast), the
// standard atob/btoa in browsers. Decoding is in ./base64-decode.ts: only
// superjson turns base64 back into bytes, so a JSON page does not load it.
interface BufferLike {
  from(a: ArrayBufferLike, o: number, l: number): { toString(e: string): string };
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Standard base64 (with padding) of `b`. */
export function toBase64(b: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
