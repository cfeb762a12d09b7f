import { RpcError } from "../errors.js";
import { decodeLimitError, type DecodeLimits } from "./decode-limits.js";

/**
 * Walk the structure of one MessagePack value in `frame` without building
 * it, and refuse (`PROTOCOL_ERROR`) before msgpackr decodes anything:
 * - every extension type but the timestamp (-1, 4, 8 or 12 bytes), and the
 *   never-used byte 0xc1: wirecall's msgpack is plain MessagePack, and
 *   msgpackr would otherwise build records, shared structures, typed arrays,
 *   Sets, Errors and RegExps from a peer's bytes;
 * - a declared length (str, bin, ext, array, map) larger than the bytes left
 *   (an array or map entry takes at least one byte), so nothing is allocated
 *   for data that is not there;
 * - truncated frames and trailing bytes after the value;
 * - more values, containers or nesting than `limits` allow.
 * Iterative, one pass, no allocation beyond a small stack of counts.
 */
export function scanMsgpack(frame: Uint8Array, limits: Readonly<DecodeLimits>): void {
  const b = frame;
  const n = b.length;
  const maxDepth = limits.maxDepth;
  const stack: number[] = [];
  let pos = 0;
  let depth = 0;
  let remaining = 1; // values still to read at the current level
  let elements = 0;
  let containers = 0;
  for (;;) {
    if (remaining === 0) {
      if (depth === 0) break;
      remaining = stack[--depth] as number;
      continue;
    }
    remaining--;
    if (pos >= n) throw truncated(pos);
    const t = b[pos++] as number;
    elements++;
    if (t < 0x80 || t >= 0xe0) continue; // fixint
    if (t >= 0xa0 && t < 0xc0) {
      // fixstr, the commonest after fixint
      pos += t & 0x1f;
      if (pos > n) throw truncated(n);
      continue;
    }
    let count = -1; // entries of a container opened here (map entries count twice)
    let skip = 0; // payload bytes after the header
    if (t < 0x90) count = (t & 0x0f) * 2;
    else if (t < 0xa0) count = t & 0x0f;
    else {
      switch (t) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          continue;
        case 0xc1:
          throw new RpcError("PROTOCOL_ERROR", `msgpack frame refused: byte 0xc1 at offset ${pos - 1} is never used in MessagePack`);
        case 0xc4:
        case 0xd9:
          need(pos, 1, n);
          skip = b[pos] as number;
          pos += 1;
          break;
        case 0xc5:
        case 0xda:
          need(pos, 2, n);
          skip = u16(b, pos);
          pos += 2;
          break;
        case 0xc6:
        case 0xdb:
          need(pos, 4, n);
          skip = u32(b, pos);
          pos += 4;
          break;
        case 0xc7:
        case 0xc8:
        case 0xc9: {
          const h = t === 0xc7 ? 1 : t === 0xc8 ? 2 : 4;
          need(pos, h + 1, n);
          const len = h === 1 ? (b[pos] as number) : h === 2 ? u16(b, pos) : u32(b, pos);
          checkExt(b[pos + h] as number, len, pos - 1);
          pos += h + 1;
          skip = len;
          break;
        }
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
          const len = 1 << (t - 0xd4);
          need(pos, 1, n);
          checkExt(b[pos] as number, len, pos - 1);
          pos += 1;
          skip = len;
          break;
        }
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xdc:
          need(pos, 2, n);
          count = u16(b, pos);
          pos += 2;
          break;
        case 0xdd:
          need(pos, 4, n);
          count = u32(b, pos);
          pos += 4;
          break;
        case 0xde:
          need(pos, 2, n);
          count = u16(b, pos) * 2;
          pos += 2;
          break;
        case 0xdf:
          need(pos, 4, n);
          count = u32(b, pos) * 2;
          pos += 4;
          break;
      }
    }
    if (count >= 0) {
      if (++containers > limits.maxContainers) {
        throw decodeLimitError("msgpack", "maxContainers", limits.maxContainers, "arrays and maps");
      }
      if (depth + 1 > maxDepth) throw decodeLimitError("msgpack", "maxDepth", maxDepth, "nesting");
      if (count > n - pos) {
        throw new RpcError("PROTOCOL_ERROR", `msgpack frame refused: a container at offset ${pos - 1} declares ${count} values but only ${n - pos} bytes follow`);
      }
      if (count > 0) {
        stack[depth++] = remaining;
        remaining = count;
      }
      continue;
    }
    if (skip > n - pos) {
      throw new RpcError("PROTOCOL_ERROR", `msgpack frame refused: a value at offset ${pos - 1} declares ${skip} bytes but only ${n - pos} follow`);
    }
    pos += skip;
  }
  if (pos !== n) throw new RpcError("PROTOCOL_ERROR", `msgpack frame refused: ${n - pos} bytes after the value (a frame holds one value)`);
  if (elements > limits.maxElements) throw decodeLimitError("msgpack", "maxElements", limits.maxElements, `${elements} values`);
}

function u16(b: Uint8Array, p: number): number {
  return ((b[p] as number) << 8) | (b[p + 1] as number);
}

function u32(b: Uint8Array, p: number): number {
  return (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number));
}

function need(pos: number, k: number, n: number): void {
  if (pos + k > n) throw truncated(pos);
}

function truncated(pos: number): RpcError {
  return new RpcError("PROTOCOL_ERROR", `msgpack frame refused: it ends inside a value (offset ${pos})`);
}

/** Only the timestamp extension (type -1, written 0xff) of 4, 8 or 12 bytes is plain MessagePack that wirecall documents. */
function checkExt(type: number, len: number, at: number): void {
  if (type === 0xff && (len === 4 || len === 8 || len === 12)) return;
  const signed = type > 127 ? type - 256 : type;
  throw new RpcError(
    "PROTOCOL_ERROR",
    `msgpack frame refused: extension type ${signed} (${len} bytes) at offset ${at}; wirecall's msgpack is plain MessagePack ` +
      `and accepts only the timestamp extension (-1). Send bytes as bin (Uint8Array), other types as plain arrays and maps, ` +
      `or use the superjson serializer for Set, Map, RegExp and typed arrays`,
  );
}
