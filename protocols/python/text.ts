/**
 * Text codecs for Python interop. Python 3 writes str with the
 * "surrogatepass" error handler, so lone surrogates travel as 3-byte
 * sequences that a strict UTF-8 codec would refuse; these helpers accept and
 * produce them.
 */
import { utf8Decode, utf8Encode } from "../../src/serializers/utf8.js";

/**
 * Decode UTF-8, accepting encoded lone surrogates when `surrogates` is true.
 * Returns undefined for anything else that is not UTF-8.
 */
export function decodeUtf8Lenient(b: Uint8Array, surrogates = true): string | undefined {
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    if ((b[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return latin1(b);
  try {
    return utf8Decode(b);
  } catch {
    return surrogates ? decodeSurrogatePass(b) : undefined;
  }
}

function latin1(b: Uint8Array): string {
  let s = "";
  if (b.length <= 32) {
    // Most pickled strings are short names and keys: a loop beats spreading a subarray.
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
    return s;
  }
  for (let i = 0; i < b.length; i += 0x2000) s += String.fromCharCode(...b.subarray(i, i + 0x2000));
  return s;
}

function decodeSurrogatePass(b: Uint8Array): string | undefined {
  const units: number[] = [];
  let out = "";
  for (let i = 0; i < b.length; ) {
    const c = b[i] as number;
    let cp: number;
    let n: number;
    if (c < 0x80) [cp, n] = [c, 1];
    else if (c >= 0xc2 && c < 0xe0) [cp, n] = [c & 0x1f, 2];
    else if (c >= 0xe0 && c < 0xf0) [cp, n] = [c & 0x0f, 3];
    else if (c >= 0xf0 && c < 0xf5) [cp, n] = [c & 0x07, 4];
    else return undefined;
    if (i + n > b.length) return undefined;
    for (let k = 1; k < n; k++) {
      const cc = b[i + k] as number;
      if ((cc & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n === 3 && cp < 0x800) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff))) return undefined;
    if (cp > 0xffff) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    else units.push(cp);
    i += n;
    if (units.length >= 0x2000) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode(...units);
}

/** UTF-8 encode; lone surrogates become 3-byte sequences (Python's surrogatepass) instead of U+FFFD. */
export function encodeUtf8SurrogatePass(s: string): Uint8Array {
  if ((s as { isWellFormed?: () => boolean }).isWellFormed?.() ?? !/[\ud800-\udfff]/.test(s)) return utf8Encode(s);
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}

/** Characters U+0000..U+00FF to bytes; undefined when a character is outside latin-1. */
export function latin1ToBytes(s: string): Uint8Array | undefined {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return undefined;
    b[i] = c;
  }
  return b;
}
