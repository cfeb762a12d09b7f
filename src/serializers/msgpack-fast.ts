/**
 * A decoder for the small frames that make up most RPC traffic (`[0, id,
 * "add", [1, 2]]`, `[1, id, 3]`): arrays of at most {@link FAST_DEPTH}
 * levels holding small integers, float64s, booleans, nil and short ASCII
 * strings, {@link FAST_ELEMENTS} values in all. For such a frame msgpackr's
 * per-frame set-up (a DataView per frame, its state save) and the separate
 * structure scan cost more than the values themselves.
 *
 * It builds exactly what msgpackr builds for those bytes, or gives up
 * ({@link MISS}) at the first byte it does not take: a map, bin, ext, a
 * 64-bit integer, float32, a non-ASCII or long string, a container past its
 * bounds, a value past the frame's end, bytes after the value. The caller
 * then decodes the frame the full way (scanMsgpack, then msgpackr), so every
 * check and error of that path holds for every frame this one refuses; what
 * this one accepts passes all of them too (it stays under the decode limits
 * it is enabled for: see {@link fastFits}). It reads each byte at most once
 * and stops after {@link FAST_ELEMENTS} values, so a hostile frame costs at
 * most a few dozen steps here before the full path.
 */
import type { DecodeLimits } from "./decode-limits.js";

/** Values (containers included) one frame may hold for this decoder. */
export const FAST_ELEMENTS = 64;
/** Nesting of arrays (the envelope is the first level). */
export const FAST_DEPTH = 4;
/** Longest string taken, in bytes. */
const FAST_STRING = 32;

/** What {@link fastDecode} returns for a frame it does not take. */
export const MISS: unique symbol = Symbol("wirecall.msgpackFastMiss");

/** True when decode limits let through every frame this decoder takes (so it may skip the scan). */
export function fastFits(limits: Readonly<DecodeLimits>): boolean {
  return limits.maxDepth >= FAST_DEPTH && limits.maxContainers >= FAST_ELEMENTS && limits.maxElements >= FAST_ELEMENTS;
}

// The decoder's state, module-wide: decoding is synchronous and never re-entered.
let b: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
let budget = 0;

// float64 without a DataView per frame: the bytes go through one shared scratch word.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The value of `frame`, or {@link MISS}. */
export function fastDecode(frame: Uint8Array): unknown {
  b = frame;
  pos = 0;
  end = frame.length;
  budget = FAST_ELEMENTS;
  naming = end > 1 && (frame[0] as number) >= 0x90 && (frame[0] as number) < 0xa0 && (frame[1] === 0 || frame[1] === 3);
  const v = value(1);
  // Release the frame: the module must not keep a peer's bytes alive.
  b = EMPTY;
  return pos === end ? v : MISS;
}

const EMPTY = new Uint8Array(0);

function value(depth: number): unknown {
  if (--budget < 0 || pos >= end) return MISS;
  const t = b[pos++] as number;
  if (t < 0x80) return t;
  if (t >= 0xe0) return t - 0x100;
  if (t >= 0xa0 && t < 0xc0) return str(t & 0x1f, depth);
  if (t >= 0x90 && t < 0xa0) return arr(t & 0x0f, depth);
  switch (t) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcc:
      return pos + 1 > end ? MISS : b[pos++];
    case 0xcd:
      if (pos + 2 > end) return MISS;
      pos += 2;
      return ((b[pos - 2] as number) << 8) | (b[pos - 1] as number);
    case 0xce:
      if (pos + 4 > end) return MISS;
      pos += 4;
      return (b[pos - 4] as number) * 0x1000000 + (((b[pos - 3] as number) << 16) | ((b[pos - 2] as number) << 8) | (b[pos - 1] as number));
    case 0xd0:
      return pos + 1 > end ? MISS : ((b[pos++] as number) << 24) >> 24;
    case 0xd1:
      if (pos + 2 > end) return MISS;
      pos += 2;
      return (((b[pos - 2] as number) << 24) >> 16) | (b[pos - 1] as number);
    case 0xd2:
      if (pos + 4 > end) return MISS;
      pos += 4;
      return ((b[pos - 4] as number) << 24) | ((b[pos - 3] as number) << 16) | ((b[pos - 2] as number) << 8) | (b[pos - 1] as number);
    case 0xcb:
      if (pos + 8 > end) return MISS;
      if (littleEndian) for (let i = 0; i < 8; i++) f64Bytes[7 - i] = b[pos + i] as number;
      else for (let i = 0; i < 8; i++) f64Bytes[i] = b[pos + i] as number;
      pos += 8;
      return f64[0];
    case 0xd9:
      return pos + 1 > end ? MISS : str(b[pos++] as number, depth);
    case 0xdc:
      if (pos + 2 > end) return MISS;
      pos += 2;
      return arr(((b[pos - 2] as number) << 8) | (b[pos - 1] as number), depth);
    default:
      return MISS;
  }
}

function arr(count: number, depth: number): unknown {
  // Each value takes at least a byte: a count past the bytes left is not this decoder's to refuse.
  if (depth > FAST_DEPTH || count > budget || count > end - pos) return MISS;
  const a = new Array<unknown>(count);
  for (let i = 0; i < count; i++) {
    const v = value(depth + 1);
    if (v === MISS) return MISS;
    a[i] = v;
  }
  return a;
}

/**
 * The last method name of each length read from a call or one-way call
 * (`[0, id, name, ...]`, `[3, name, ...]`: the only strings at the
 * envelope's own level there): the next call of the same method gets the
 * same string, made and hashed once, not a new one. No other string is
 * kept (arguments, results, error messages).
 */
const names: (string | undefined)[] = new Array<string | undefined>(FAST_STRING + 1).fill(undefined);
/** The frame being read is a call or a one-way call: its strings at depth 2 are names. */
let naming = false;

function str(length: number, depth: number): unknown {
  if (length > FAST_STRING || pos + length > end) return MISS;
  const named = naming && depth === 2;
  const name = named ? names[length] : undefined;
  if (name !== undefined) {
    let i = 0;
    while (i < length && b[pos + i] === name.charCodeAt(i)) i++;
    if (i === length) {
      pos += length;
      return name;
    }
  }
  let s = "";
  for (let i = pos; i < pos + length; i++) {
    const c = b[i] as number;
    if (c >= 0x80) return MISS;
    s += String.fromCharCode(c);
  }
  pos += length;
  if (named) names[length] = s;
  return s;
}

/**
 * `v`, an array of fewer than 16 members, each a scalar or an array of
 * fewer than 16 scalars (the plain answer `[1, id, 3]`, the plain call
 * `[0, id, "add", [1, 2]]`), written byte for byte as msgpackr writes it
 * with wirecall's options (integers in their shortest form, -0 as 0, other
 * numbers as float64, undefined as nil, ASCII strings of up to 31 bytes),
 * or undefined when anything else is found: msgpackr writes it then. Only
 * plain arrays: msgpackr may write a subclass as an extension.
 */
export function fastEncodeShallow(v: readonly unknown[]): Uint8Array | undefined {
  const size = arraySize(v, true);
  if (size < 0) return undefined;
  const out = new Uint8Array(size);
  writeArray(out, 0, v);
  return out;
}

/** Bytes of the array `v` as this writer writes it (`nest`: its members may be arrays of scalars), or -1. */
function arraySize(v: readonly unknown[], nest: boolean): number {
  const n = v.length;
  if (n >= 16 || (v as { constructor?: unknown }).constructor !== Array) return -1;
  let size = 1;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    let k: number;
    switch (typeof x) {
      case "number":
        k = numberSize(x);
        break;
      case "string": {
        const len = x.length;
        if (len >= 0x20) return -1; // fixstr only
        for (let j = 0; j < len; j++) if (x.charCodeAt(j) >= 0x80) return -1;
        k = 1 + len;
        break;
      }
      case "boolean":
      case "undefined":
        k = 1;
        break;
      case "object":
        k = x === null ? 1 : nest && Array.isArray(x) ? arraySize(x, false) : -1;
        break;
      default:
        k = -1;
    }
    if (k < 0) return -1;
    size += k;
  }
  return size;
}

/** Write the array `v` (measured by arraySize) at `at`; returns the position after it. */
function writeArray(out: Uint8Array, at: number, v: readonly unknown[]): number {
  const n = v.length;
  out[at++] = 0x90 | n;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    switch (typeof x) {
      case "number":
        at = writeNumber(out, at, x);
        break;
      case "string": {
        const len = x.length;
        out[at++] = 0xa0 | len;
        for (let j = 0; j < len; j++) out[at++] = x.charCodeAt(j);
        break;
      }
      case "boolean":
        out[at++] = x ? 0xc3 : 0xc2;
        break;
      case "object":
        if (x !== null) {
          at = writeArray(out, at, x as unknown[]);
          break;
        }
        out[at++] = 0xc0;
        break;
      default:
        out[at++] = 0xc0;
    }
  }
  return at;
}

/** Bytes msgpackr takes for the number `x` (its tests, in its order). */
function numberSize(x: number): number {
  if (x >>> 0 === x) return x < 0x80 ? 1 : x < 0x100 ? 2 : x < 0x10000 ? 3 : 5;
  if (x >> 0 === x) return x >= -0x20 ? 1 : x >= -0x80 ? 2 : x >= -0x8000 ? 3 : 5;
  return 9;
}

function writeNumber(out: Uint8Array, at: number, x: number): number {
  if (x >>> 0 === x) {
    if (x < 0x80) {
      out[at] = x;
      return at + 1;
    }
    if (x < 0x100) {
      out[at] = 0xcc;
      out[at + 1] = x;
      return at + 2;
    }
    if (x < 0x10000) {
      out[at] = 0xcd;
      out[at + 1] = x >>> 8;
      out[at + 2] = x & 0xff;
      return at + 3;
    }
    out[at] = 0xce;
    out[at + 1] = x >>> 24;
    out[at + 2] = (x >>> 16) & 0xff;
    out[at + 3] = (x >>> 8) & 0xff;
    out[at + 4] = x & 0xff;
    return at + 5;
  }
  if (x >> 0 === x) {
    if (x >= -0x20) {
      out[at] = 0x100 + x;
      return at + 1;
    }
    if (x >= -0x80) {
      out[at] = 0xd0;
      out[at + 1] = x + 0x100;
      return at + 2;
    }
    if (x >= -0x8000) {
      out[at] = 0xd1;
      out[at + 1] = (x >> 8) & 0xff;
      out[at + 2] = x & 0xff;
      return at + 3;
    }
    out[at] = 0xd2;
    out[at + 1] = (x >> 24) & 0xff;
    out[at + 2] = (x >> 16) & 0xff;
    out[at + 3] = (x >> 8) & 0xff;
    out[at + 4] = x & 0xff;
    return at + 5;
  }
  out[at] = 0xcb;
  f64[0] = x;
  if (littleEndian) for (let i = 0; i < 8; i++) out[at + 1 + i] = f64Bytes[7 - i] as number;
  else for (let i = 0; i < 8; i++) out[at + 1 + i] = f64Bytes[i] as number;
  return at + 9;
}
