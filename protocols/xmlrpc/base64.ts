/**
 * Base64 for `<base64>` values, browser-safe. Decoding skips whitespace
 * (Python's `Binary` wraps lines every 76 characters) and refuses anything
 * else that is not in the alphabet.
 */
import { invalid } from "./codec-error.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const CHARS: readonly string[] = ALPHABET.split("");
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

type NodeBuffer = { from(b: ArrayBufferLike, off: number, len: number): { toString(enc: "base64"): string } };
// Node's Buffer is much faster for large payloads; the plain loops serve browsers.
const NodeBuf = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/** Standard base64 with padding, no line breaks. */
export function encodeBase64(bytes: Uint8Array): string {
  if (NodeBuf) return NodeBuf.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  const parts: string[] = [];
  let chunk = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    chunk += `${CHARS[v >> 18]}${CHARS[(v >> 12) & 63]}${CHARS[(v >> 6) & 63]}${CHARS[v & 63]}`;
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = "";
    }
  }
  if (i < n) {
    const b0 = bytes[i] as number;
    const b1 = i + 1 < n ? (bytes[i + 1] as number) : 0;
    const v = (b0 << 16) | (b1 << 8);
    chunk += `${CHARS[v >> 18]}${CHARS[(v >> 12) & 63]}${i + 1 < n ? CHARS[(v >> 6) & 63] : "="}=`;
  }
  parts.push(chunk);
  return parts.join("");
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Decode base64, ignoring whitespace. Bad characters or a bad length are a `PROTOCOL_ERROR`. */
export function decodeBase64(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let len = 0;
  let acc = 0;
  let bits = 0;
  let pad = 0;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) continue;
    if (c === 0x3d) {
      pad++;
      count++;
      continue;
    }
    const v = c < 128 ? (DECODE[c] as number) : -1;
    if (v < 0 || pad > 0) throw invalid(`<base64> holds ${pad > 0 ? "data after '='" : `the character ${JSON.stringify(text[i])}`}`);
    count++;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[len++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (count % 4 === 1 || pad > 2 || (pad > 0 && count % 4 !== 0)) throw invalid("<base64> has a bad length or padding");
  return out.slice(0, len);
}
