/**
 * The pickles that used to kill or hang a recipe server (issue 11, item 2),
 * built byte by byte so the unit, fuzz and hostile tests send the same ones.
 */
import { Op } from "../protocols/python/pickle-opcodes.js";

/** PROTO 2, `count` EMPTY_DICTs, STOP: one container per byte (24 MiB of them took a server to 5 GB). */
export function emptyDicts(count: number): Uint8Array {
  const b = new Uint8Array(count + 3);
  b[0] = Op.PROTO;
  b[1] = 2;
  b.fill(Op.EMPTY_DICT, 2, count + 2);
  b[count + 2] = Op.STOP;
  return b;
}

/**
 * ValueError(ValueError(...ValueError("'\\")...)), `levels` deep, in
 * 33 + 4 * levels bytes: str() of each level quotes the one inside it,
 * escaping its quotes and backslashes, so the text grows about 4x per level.
 */
export function nestedExceptions(levels: number): Uint8Array {
  const out: number[] = [Op.PROTO, 2, ...ascii("cexceptions\nValueError\n"), Op.BINPUT, 0, Op.POP];
  for (let i = 0; i < levels; i++) out.push(Op.BINGET, 0);
  out.push(Op.SHORT_BINSTRING, 2, 0x27, 0x5c);
  for (let i = 0; i < levels; i++) out.push(Op.TUPLE1, Op.REDUCE);
  out.push(Op.STOP);
  return Uint8Array.from(out);
}

/**
 * v0 = None, v(k+1) = (vk, vk) through the memo: `levels` tuples in 5 bytes
 * each, 2^levels leaves when written out as a tree. With `method`, wrapped as
 * the recipe request `(method, (v,), {})`.
 */
export function sharedPairs(levels: number, method?: string): Uint8Array {
  const out: number[] = [Op.PROTO, 2];
  if (method !== undefined) out.push(Op.SHORT_BINUNICODE, method.length, ...ascii(method));
  out.push(Op.NONE);
  for (let i = 0; i < levels; i++) out.push(Op.BINPUT, 0, Op.BINGET, 0, Op.TUPLE2);
  if (method !== undefined) out.push(Op.TUPLE1, Op.EMPTY_DICT, Op.TUPLE3);
  out.push(Op.STOP);
  return Uint8Array.from(out);
}

/** `(method, ([{}, {}, ...],), {})` with `count` dicts: about one heap container per request byte. */
export function listOfDicts(count: number, method: string): Uint8Array {
  const head = [Op.PROTO, 2, Op.SHORT_BINUNICODE, method.length, ...ascii(method), Op.MARK];
  const tail = [Op.LIST, Op.TUPLE1, Op.EMPTY_DICT, Op.TUPLE3, Op.STOP];
  const b = new Uint8Array(head.length + count + tail.length);
  b.set(head);
  b.fill(Op.EMPTY_DICT, head.length, head.length + count);
  b.set(tail, head.length + count);
  return b;
}

function ascii(s: string): number[] {
  return Array.from(s, (c) => c.charCodeAt(0));
}
