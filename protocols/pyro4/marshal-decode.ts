/**
 * A data-only decoder for Python's marshal format (versions 0-4), Pyro4's
 * "marshal" serializer. Only data types are read: None, bool, int, float,
 * complex, str, bytes, tuple, list, dict, set, frozenset, and back
 * references to them (FLAG_REF / TYPE_REF). Code objects, Ellipsis,
 * StopIteration and anything else are refused.
 *
 * Python -> JavaScript as for serpent: None -> null, int -> number (BigInt
 * outside the safe range), float -> number, complex -> PyComplex, str ->
 * string, bytes -> Uint8Array, tuple and list -> Array, dict -> plain object
 * when every key is a str (else Map; "__class__" dicts through the class
 * hook), set/frozenset -> Set.
 *
 * Cost: every declared length and count is checked against the bytes still
 * present before anything is allocated; a back reference adds the size of
 * what it refers to against `maxItems`, so a small DAG cannot stand for an
 * exponentially large tree; a reference to a container still being read
 * (a cycle) is refused.
 */
import { ErrorCodes, RpcError } from "../../src/errors.js";
import { decodeUtf8Lenient } from "../python/text.js";
import { defaultClassHook, type ClassHook } from "./class-dicts.js";
import { pyro4Limits, type Pyro4Limits } from "./limits.js";
import { PyComplex, pythonDict } from "./python-values.js";

export interface MarshalDecodeOptions {
  limits?: Partial<Pyro4Limits>;
  /** What to make of dicts tagged with "__class__" (default {@link defaultClassHook}). */
  classHook?: ClassHook;
}

/** Decode one marshal document. */
export function decodeMarshal(data: Uint8Array, options: MarshalDecodeOptions = {}): unknown {
  const lim = pyro4Limits(options.limits);
  if (data.length > lim.maxMessageSize) {
    throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `marshal: ${data.length} bytes exceed the limit of ${lim.maxMessageSize} (limits.maxMessageSize)`);
  }
  try {
    const r = new Reader(data, lim, options.classHook ?? defaultClassHook);
    const v = r.value(0);
    if (r.pos !== data.length) fail(`${data.length - r.pos} bytes left after the value`, r.pos);
    return v;
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw new RpcError(ErrorCodes.PROTOCOL_ERROR, `marshal: cannot decode (${(err as Error)?.message ?? String(err)})`, { cause: err });
  }
}

function fail(message: string, at: number): never {
  throw new RpcError(ErrorCodes.PROTOCOL_ERROR, `marshal: ${message} at offset ${at}`);
}

const FLAG_REF = 0x80;
/** A reference slot whose value is still being read. */
const PENDING: unique symbol = Symbol("pending");

class Reader {
  readonly #d: Uint8Array;
  readonly #v: DataView;
  readonly #lim: Pyro4Limits;
  readonly #hook: ClassHook;
  pos = 0;
  #items = 0;
  readonly #refs: unknown[] = [];
  /** Values counted for each reference's subtree, charged again on every use. */
  readonly #refCost: number[] = [];
  /** Whether each reference's value is unhashable (a list, dict, set, or a tuple holding one). */
  readonly #refUnhashable: boolean[] = [];
  /**
   * Whether the value just read cannot be a dict key or set element in
   * Python. A flag beside the return value: marking objects in a WeakSet
   * would cost more than the parse itself.
   */
  #unhashable = false;
  /** Decimal-ish bound on an int's 15-bit digits, from maxIntDigits (15 bits ~ 4.5 decimal digits). */
  readonly #maxLongDigits: number;

  constructor(d: Uint8Array, lim: Pyro4Limits, hook: ClassHook) {
    this.#d = d;
    this.#v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    this.#lim = lim;
    this.#hook = hook;
    this.#maxLongDigits = Math.ceil(lim.maxIntDigits / 4.5) + 1;
  }

  #count(n: number): void {
    this.#items += n;
    if (this.#items > this.#lim.maxItems) {
      throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `marshal: more than ${this.#lim.maxItems} values (limits.maxItems)`);
    }
  }

  #need(n: number): void {
    if (n > this.#d.length - this.pos) fail(`needs ${n} bytes, ${this.#d.length - this.pos} present`, this.pos);
  }

  #u8(): number {
    this.#need(1);
    return this.#d[this.pos++] as number;
  }

  #i32(): number {
    this.#need(4);
    const n = this.#v.getInt32(this.pos, true);
    this.pos += 4;
    return n;
  }

  /** A length or count, checked against the bytes left (each item takes at least `min` bytes). */
  #size(min: number): number {
    const at = this.pos;
    const n = this.#i32();
    if (n < 0) fail(`negative size ${n}`, at);
    if (n * min > this.#d.length - this.pos) fail(`declares ${n} items or bytes, only ${this.#d.length - this.pos} bytes present`, at);
    return n;
  }

  #bytes(n: number): Uint8Array {
    this.#need(n);
    const b = this.#d.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  #text(n: number, at: number): string {
    const s = decodeUtf8Lenient(this.#bytes(n));
    if (s === undefined) fail("str is not valid UTF-8", at);
    return s;
  }

  value(depth: number): unknown {
    const at = this.pos;
    const code = this.#u8();
    const type = code & ~FLAG_REF;
    if (type === 0x72 /* r */) {
      const i = this.#i32();
      if (i < 0 || i >= this.#refs.length) fail(`reference ${i} to nothing`, at);
      const v = this.#refs[i];
      if (v === PENDING) fail("recursive structure (a reference to a container being read)", at);
      this.#count(this.#refCost[i] as number);
      this.#unhashable = this.#refUnhashable[i] as boolean;
      return v;
    }
    let slot = -1;
    if (code & FLAG_REF) {
      slot = this.#refs.length;
      this.#refs.push(PENDING);
      this.#refCost.push(0);
      this.#refUnhashable.push(false);
    }
    const before = this.#items;
    this.#unhashable = false;
    const v = this.#read(type, depth, at);
    if (slot >= 0) {
      this.#refs[slot] = v;
      this.#refCost[slot] = this.#items - before;
      this.#refUnhashable[slot] = this.#unhashable;
    }
    return v;
  }

  #read(type: number, depth: number, at: number): unknown {
    this.#count(1);
    switch (type) {
      case 0x4e /* N */:
        return null;
      case 0x54 /* T */:
        return true;
      case 0x46 /* F */:
        return false;
      case 0x69 /* i */:
        return this.#i32();
      case 0x49 /* I: int64, Python 2 */: {
        this.#need(8);
        const n = this.#v.getBigInt64(this.pos, true);
        this.pos += 8;
        return narrow(n);
      }
      case 0x6c /* l */:
        return this.#long(at);
      case 0x67 /* g */: {
        this.#need(8);
        const f = this.#v.getFloat64(this.pos, true);
        this.pos += 8;
        return f;
      }
      case 0x66 /* f */:
        return this.#textFloat(at);
      case 0x79 /* y */: {
        this.#need(16);
        const c = new PyComplex(this.#v.getFloat64(this.pos, true), this.#v.getFloat64(this.pos + 8, true));
        this.pos += 16;
        return c;
      }
      case 0x78 /* x */: {
        const re = this.#textFloat(at);
        return new PyComplex(re, this.#textFloat(at));
      }
      case 0x73 /* s: bytes */:
        return new Uint8Array(this.#bytes(this.#size(1))); // a copy, never a view of the peer's buffer
      case 0x74 /* t: interned */:
      case 0x75 /* u */:
      case 0x61 /* a: ascii */:
      case 0x41 /* A: ascii interned */:
        return this.#text(this.#size(1), at);
      case 0x7a /* z: short ascii */:
      case 0x5a /* Z: short ascii interned */:
        return this.#text(this.#u8(), at);
      case 0x29 /* ): small tuple */:
        return this.#sequence(this.#u8(), depth, at, false);
      case 0x28 /* ( */:
        return this.#sequence(this.#size(1), depth, at, false);
      case 0x5b /* [ */:
        return this.#sequence(this.#size(1), depth, at, true);
      case 0x3c /* < set */:
        return this.#set(this.#size(1), depth, at, false);
      case 0x3e /* > frozenset */:
        return this.#set(this.#size(1), depth, at, true);
      case 0x7b /* { */:
        return this.#dict(depth, at);
      default:
        return fail(`type code ${JSON.stringify(String.fromCharCode(type))} (0x${type.toString(16)}) is not data (code objects and the like are refused)`, at);
    }
  }

  #enter(depth: number, at: number): number {
    if (depth >= this.#lim.maxDepth) fail(`nesting deeper than ${this.#lim.maxDepth} (limits.maxDepth)`, at);
    return depth + 1;
  }

  #long(at: number): number | bigint {
    const n = this.#i32();
    const size = Math.abs(n);
    if (size > this.#maxLongDigits) fail(`int of ${size} 15-bit digits exceeds the limit (limits.maxIntDigits)`, at);
    this.#need(size * 2);
    let v = 0n;
    for (let k = size - 1; k >= 0; k--) {
      const digit = this.#v.getUint16(this.pos + k * 2, true);
      if (digit >= 1 << 15) fail("int digit out of range", at);
      v = (v << 15n) | BigInt(digit);
    }
    this.pos += size * 2;
    return narrow(n < 0 ? -v : v);
  }

  #textFloat(at: number): number {
    const n = this.#u8();
    const t = String.fromCharCode(...this.#bytes(n));
    const lower = t.toLowerCase();
    if (lower === "inf" || lower === "+inf" || lower === "infinity") return Infinity;
    if (lower === "-inf" || lower === "-infinity") return -Infinity;
    if (lower === "nan" || lower === "+nan" || lower === "-nan") return NaN;
    if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t)) fail(`malformed float '${t}'`, at);
    return Number(t);
  }

  #sequence(n: number, depth: number, at: number, list: boolean): unknown[] {
    const d = this.#enter(depth, at);
    // Grown as items arrive, never preallocated from the declared count: nested
    // declarations could otherwise reserve memory for bytes that never come.
    const out: unknown[] = [];
    let hashable = !list;
    for (let i = 0; i < n; i++) {
      out.push(this.value(d));
      if (this.#unhashable) hashable = false;
    }
    this.#unhashable = !hashable;
    return out;
  }

  #key(d: number, what: string): unknown {
    const at = this.pos;
    const k = this.value(d);
    if (this.#unhashable) fail(`unhashable ${what}`, at);
    return k;
  }

  #set(n: number, depth: number, at: number, frozen: boolean): Set<unknown> {
    const d = this.#enter(depth, at);
    const s = new Set<unknown>();
    for (let i = 0; i < n; i++) s.add(this.#key(d, "set element"));
    this.#unhashable = !frozen;
    return s;
  }

  #dict(depth: number, at: number): unknown {
    const d = this.#enter(depth, at);
    const keys: unknown[] = [];
    const values: unknown[] = [];
    for (;;) {
      this.#need(1);
      if (this.#d[this.pos] === 0x30 /* 0: TYPE_NULL ends a dict */) {
        this.pos++;
        break;
      }
      keys.push(this.#key(d, "dict key"));
      values.push(this.value(d));
    }
    const o = pythonDict(keys, values);
    if (o instanceof Map) {
      this.#unhashable = true;
      return o;
    }
    if (Object.prototype.hasOwnProperty.call(o, "__class__")) {
      const cls = o.__class__;
      const v = this.#hook(typeof cls === "string" ? cls : "", o);
      this.#unhashable = v === o;
      return v;
    }
    this.#unhashable = true;
    return o;
  }
}

function narrow(n: bigint): number | bigint {
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}
