/**
 * MessagePack in parts (scatter/gather): a frame whose large binary values
 * leave as their own buffers instead of being copied into the encoded frame.
 *
 * No wire change: MessagePack's `bin` is a header (0xc4/0xc5/0xc6 and the
 * length) followed by the raw bytes, so the bytes msgpackr would write
 * around a binary value, then the value itself, then the rest, are the
 * same stream. Containers on the way to a large binary get their headers
 * written here exactly as msgpackr writes them (arrays and plain objects
 * only, with this package's options: `useRecords: false`,
 * `variableMapSize: true`); everything else is msgpackr's own output.
 * test/tcp-scatter-parts.test.ts checks the concatenation against `pack`
 * for random values.
 */
import type { Packr } from "msgpackr";

/**
 * Binary values at least this long become parts of their own. Below it a
 * copy costs less than the extra part: the tcp writer copies frames and
 * parts up to 16 KiB into one buffer per tick anyway (frame-writer.ts).
 */
export const SPLIT_BINARY_MIN = 16 * 1024;
/** How deep the search for large binaries goes: the envelope, its args or result, their members, theirs. */
const MAX_DEPTH = 4;
/** Values the search looks at before giving up (a huge value is packed as before): bounds its cost per frame. */
const MAX_VISITS = 1024;

const BUFFER_TO_JSON = (globalThis as { Buffer?: { prototype: { toJSON?: unknown } } }).Buffer?.prototype.toJSON;

/** A binary value msgpackr writes as `bin` (a subclass with its own toJSON goes through that instead). */
function isBin(v: Uint8Array): boolean {
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  return toJSON === undefined || toJSON === BUFFER_TO_JSON;
}

function isBig(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.byteLength >= SPLIT_BINARY_MIN && isBin(v);
}

// The search's state, module-wide: encoding is synchronous and never re-entered.
let visits = 0;
/** Containers (arrays, plain objects) with a large binary below them. */
let marks: Set<object> | undefined;

/** True when a large binary is reachable from `v` through arrays and plain objects; marks the containers on the way. */
function search(v: unknown, depth: number): boolean {
  if (typeof v !== "object" || v === null || ++visits > MAX_VISITS) return false;
  if (v instanceof Uint8Array) return v.byteLength >= SPLIT_BINARY_MIN && isBin(v);
  if (depth >= MAX_DEPTH) return false;
  let found = false;
  const c = (v as { constructor?: unknown }).constructor;
  if (c === Array) {
    const a = v as unknown[];
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (typeof x === "object" && x !== null && search(x, depth + 1)) found = true;
    }
  } else if (c === Object) {
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (typeof x === "object" && x !== null && search(x, depth + 1)) found = true;
    }
  }
  if (found) (marks ??= new Set()).add(v);
  return found;
}

/** Collects the output: runs of small encoded pieces are joined; large binaries stay as they are. */
class Parts {
  readonly out: Uint8Array[] = [];
  #run: Uint8Array[] = [];
  #runLength = 0;

  add(piece: Uint8Array): void {
    this.#run.push(piece);
    this.#runLength += piece.length;
  }

  /** A container or bin header: `first`, then `length` in `size` big-endian bytes (0, 2 or 4). */
  header(first: number, length: number, size: number): void {
    const h = new Uint8Array(1 + size);
    h[0] = first;
    for (let i = 0; i < size; i++) h[size - i] = (length >>> (8 * i)) & 0xff;
    this.add(h);
  }

  binary(b: Uint8Array): void {
    // Only called for >= 16 KiB: bin 16 or bin 32, as msgpackr's writeBuffer picks.
    if (b.byteLength < 0x10000) this.header(0xc5, b.byteLength, 2);
    else this.header(0xc6, b.byteLength, 4);
    this.#end();
    this.out.push(b);
  }

  finish(): Uint8Array[] {
    this.#end();
    return this.out;
  }

  #end(): void {
    const run = this.#run;
    if (run.length === 0) return;
    if (run.length === 1) {
      this.out.push(run[0] as Uint8Array);
    } else {
      const joined = new Uint8Array(this.#runLength);
      let at = 0;
      for (const p of run) {
        joined.set(p, at);
        at += p.length;
      }
      this.out.push(joined);
    }
    this.#run = [];
    this.#runLength = 0;
  }
}

/** msgpackr's header for a container of `length` entries: fix form, 16-bit or 32-bit. */
function containerHeader(parts: Parts, length: number, fix: number, x16: number): void {
  if (length < 0x10) parts.header(fix | length, 0, 0);
  else if (length < 0x10000) parts.header(x16, length, 2);
  else parts.header(x16 + 1, length, 4);
}

function write(packr: Packr, parts: Parts, v: unknown, found: Set<object>): void {
  if (isBig(v)) return parts.binary(v);
  if (typeof v !== "object" || v === null || !found.has(v)) return parts.add(packr.pack(v));
  if (Array.isArray(v)) {
    containerHeader(parts, v.length, 0x90, 0xdc);
    for (let i = 0; i < v.length; i++) write(packr, parts, v[i], found);
    return;
  }
  // A plain object: msgpackr writes Object.keys with variableMapSize.
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  containerHeader(parts, keys.length, 0x80, 0xde);
  for (const k of keys) {
    parts.add(packr.pack(k));
    write(packr, parts, o[k], found);
  }
}

/**
 * `value` packed by `packr`, as one buffer when it holds no binary of
 * {@link SPLIT_BINARY_MIN} bytes or more within reach, else as parts whose
 * concatenation is `packr.pack(value)`, each large binary a part of its own
 * (the caller's memory, not a copy).
 */
export function packParts(packr: Packr, value: unknown): Uint8Array | Uint8Array[] {
  if (isBig(value)) {
    const parts = new Parts();
    parts.binary(value);
    return parts.finish();
  }
  visits = 0;
  marks = undefined;
  if (!search(value, 0)) return packr.pack(value);
  const found = marks as unknown as Set<object>;
  marks = undefined;
  const parts = new Parts();
  write(packr, parts, value, found);
  return parts.finish();
}
