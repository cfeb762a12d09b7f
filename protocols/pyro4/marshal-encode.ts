/**
 * A marshal encoder (format version 2 forms, without references: every
 * Python 3 reads them) for Pyro4's "marshal" serializer.
 *
 * JavaScript -> Python as for serpent, except that bytes go as real bytes
 * and NaN/Infinity as real floats: null/undefined -> None, boolean -> bool,
 * safe integer -> int, other numbers -> float, BigInt -> int, string -> str,
 * Uint8Array/ArrayBuffer/DataView -> bytes, Array -> list, PyTuple -> tuple,
 * Set -> set, PyComplex -> complex, Map and plain objects -> dict, Date ->
 * ISO string, Error -> Pyro4's exception dict, `toJSON` -> that.
 */
import { ErrorCodes, RpcError } from "../../src/errors.js";
import { PyTuple } from "../python/pickle-encoder.js";
import { encodeUtf8SurrogatePass } from "../python/text.js";
import { DEFAULT_PYRO4_LIMITS } from "./limits.js";
import { classDictFor } from "./class-dicts.js";
import { PyComplex, asBytes } from "./python-values.js";

function refuse(message: string): never {
  throw new RpcError(ErrorCodes.SERIALIZE_ERROR, `marshal: ${message}`);
}

/** Encode `value` as one marshal document. */
export function encodeMarshal(value: unknown, options: { maxDepth?: number } = {}): Uint8Array {
  const w = new Writer(options.maxDepth ?? DEFAULT_PYRO4_LIMITS.maxDepth);
  w.value(value, 0);
  return w.finish();
}

class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;
  readonly #maxDepth: number;
  readonly #active = new Set<object>();

  constructor(maxDepth: number) {
    this.#maxDepth = maxDepth;
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  #byte(b: number): void {
    this.#reserve(1);
    this.#buf[this.#len++] = b;
  }

  #i32(n: number): void {
    this.#reserve(4);
    this.#view.setInt32(this.#len, n, true);
    this.#len += 4;
  }

  #f64(f: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#len, f, true);
    this.#len += 8;
  }

  #raw(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  #int(n: bigint): void {
    if (n >= -2147483648n && n <= 2147483647n) {
      this.#byte(0x69);
      this.#i32(Number(n));
      return;
    }
    // TYPE_LONG: signed count of 15-bit digits, least significant first.
    const digits: number[] = [];
    let m = n < 0n ? -n : n;
    while (m > 0n) {
      digits.push(Number(m & 0x7fffn));
      m >>= 15n;
    }
    this.#byte(0x6c);
    this.#i32(n < 0n ? -digits.length : digits.length);
    this.#reserve(digits.length * 2);
    for (const d of digits) {
      this.#view.setUint16(this.#len, d, true);
      this.#len += 2;
    }
  }

  #str(s: string): void {
    const b = encodeUtf8SurrogatePass(s);
    this.#byte(0x75);
    this.#i32(b.length);
    this.#raw(b);
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case "string":
        return this.#str(v);
      case "number":
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) return this.#int(BigInt(v));
        this.#byte(0x67);
        return this.#f64(v);
      case "bigint":
        return this.#int(v);
      case "boolean":
        return this.#byte(v ? 0x54 : 0x46);
      case "undefined":
        return this.#byte(0x4e);
      case "object":
        if (v === null) return this.#byte(0x4e);
        return this.#object(v, depth);
      default:
        refuse(`cannot encode a ${typeof v}`);
    }
  }

  #object(v: object, depth: number): void {
    const b = asBytes(v);
    if (b) {
      this.#byte(0x73);
      this.#i32(b.length);
      this.#raw(b);
      return;
    }
    if (v instanceof PyComplex) {
      this.#byte(0x79);
      this.#f64(v.real);
      this.#f64(v.imag);
      return;
    }
    if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) refuse("an invalid Date has no ISO form");
      return this.#str(v.toISOString());
    }
    if (depth >= this.#maxDepth) refuse(`nesting deeper than ${this.#maxDepth}`);
    if (this.#active.has(v)) refuse("recursive structure");
    this.#active.add(v);
    const d = depth + 1;
    let cd: Record<string, unknown> | undefined;
    if (Array.isArray(v)) this.#items(0x5b, v, d);
    else if (v instanceof PyTuple) this.#items(0x28, v.items, d);
    else if (ArrayBuffer.isView(v)) this.#items(0x5b, Array.from(v as unknown as ArrayLike<number | bigint>), d);
    else if (v instanceof Set) this.#items(0x3c, [...v].map((x) => (Array.isArray(x) ? new PyTuple(x) : x)), d);
    else if (v instanceof Map) {
      this.#byte(0x7b);
      for (const [k, x] of v) {
        this.value(Array.isArray(k) ? new PyTuple(k) : k, d);
        this.value(x, d);
      }
      this.#byte(0x30);
    } else if ((cd = classDictFor(v)) !== undefined) this.value(cd, depth);
    else if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
      this.#active.delete(v);
      this.value((v as { toJSON(): unknown }).toJSON(), depth);
      return;
    } else {
      this.#byte(0x7b);
      for (const k of Object.keys(v)) {
        const x = (v as Record<string, unknown>)[k];
        if (typeof x === "function" || typeof x === "symbol") continue;
        this.#str(k);
        this.value(x, d);
      }
      this.#byte(0x30);
    }
    this.#active.delete(v);
  }

  #items(code: number, items: readonly unknown[], d: number): void {
    this.#byte(code);
    this.#i32(items.length);
    for (const x of items) this.value(x, d);
  }
}
