/**
 * A pickle encoder for reply and request values: None, bool, int, float,
 * str, bytes, tuple, list, dict, set and builtin exceptions.
 *
 * Two targets. `python: 2` writes protocol 2 pickles that Python 2.7 and
 * every Python 3 read: bytes go as `_codecs.encode(latin-1 text, "latin1")`
 * (what Python 3 itself writes for protocol 2: `str` on Python 2, `bytes` on
 * Python 3) and exceptions under the `exceptions` module. `python: 3` writes
 * protocol 3 (Python 3.0+): bytes as BINBYTES, names under `builtins`.
 *
 * JavaScript to Python: null/undefined -> None; boolean -> bool; a number
 * that is a safe integer -> int, any other number -> float; BigInt -> int;
 * string -> str; Uint8Array/ArrayBuffer/DataView -> bytes; Array -> list;
 * {@link PyTuple} -> tuple; Map and plain objects -> dict; Set -> set;
 * Date -> its ISO string; Error -> a builtin exception (see
 * {@link pythonExceptionName}) carrying a `code` attribute; other objects ->
 * `toJSON()` if they have one, else their own enumerable properties as a
 * dict. Functions, symbols and recursive structures are refused with
 * `SERIALIZE_ERROR`.
 *
 * Containers are memoized as Python's own pickler does (`BINPUT` after
 * each, `BINGET` when it is met again), so a value reachable twice is written
 * once and arrives shared, and a small value full of shared references (a
 * decoded request echoed back) stays small. A pickle that would outgrow
 * `maxEncodedSize` bytes, or that visits more than `maxEncodedValues`
 * values, is refused with `PAYLOAD_TOO_LARGE` before it grows further.
 */
import { RpcError } from "../../src/errors.js";
import { encodeLimitError, resolvePickleLimits, type PickleLimits } from "./pickle-limits.js";
import { Op } from "./pickle-opcodes.js";
import { pythonExceptionName } from "./python-exceptions.js";
import { encodeUtf8SurrogatePass } from "./text.js";

/** A Python tuple. Arrays encode as lists; wrap one in a PyTuple when the peer needs a tuple. */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

export interface PickleEncodeOptions {
  /** The Python major version that reads the pickle (default 2: readable by both). */
  python?: 2 | 3;
  /** Deepest nesting accepted (default 200). */
  maxDepth?: number;
  /** `maxEncodedSize` and `maxEncodedValues` apply (defaults: `DEFAULT_PICKLE_LIMITS`). */
  limits?: Partial<PickleLimits>;
}

/**
 * Encode `value` as one pickle. Throws `RpcError` `SERIALIZE_ERROR` for
 * values Python cannot receive, `PAYLOAD_TOO_LARGE` past the encode limits.
 */
export function encodePickle(value: unknown, options: PickleEncodeOptions = {}): Uint8Array {
  const lim = resolvePickleLimits(options.limits);
  const w = new PickleWriter(options.python ?? 2, options.maxDepth ?? 200, lim.maxEncodedSize, lim.maxEncodedValues);
  return w.finish(value);
}

function refuse(message: string): never {
  throw new RpcError("SERIALIZE_ERROR", `pickle: ${message}`);
}

const BYTE_BUFFER_SIZE = 256;

class PickleWriter {
  #buf = new Uint8Array(BYTE_BUFFER_SIZE);
  #view = new DataView(this.#buf.buffer);
  #len = 0;
  readonly #python: 2 | 3;
  readonly #maxDepth: number;
  /** Containers written so far: their memo index, or -1 while still being written (a cycle). */
  readonly #memo = new Map<object, number>();
  #nextMemo = 0;
  readonly #maxSize: number;
  readonly #maxValues: number;
  /** Values that may still be visited (counted down). */
  #values: number;

  constructor(python: 2 | 3, maxDepth: number, maxSize: number, maxValues: number) {
    this.#python = python;
    this.#maxDepth = maxDepth;
    this.#maxSize = maxSize;
    this.#maxValues = maxValues;
    this.#values = maxValues;
  }

  finish(value: unknown): Uint8Array {
    this.#op(Op.PROTO);
    this.#byte(this.#python === 2 ? 2 : 3);
    this.#value(value, 0);
    this.#op(Op.STOP);
    return this.#buf.subarray(0, this.#len);
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const need = this.#len + n;
    if (need > this.#maxSize) throw encodeLimitError(`pickle: ${need} bytes and more`, "maxEncodedSize", this.#maxSize);
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    // Never more room than the limit allows: the buffer itself stays bounded.
    if (size > this.#maxSize) size = this.#maxSize;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  #op(op: number): void {
    this.#byte(op);
  }

  #byte(b: number): void {
    this.#reserve(1);
    this.#buf[this.#len++] = b;
  }

  #u32(n: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.#len, n, true);
    this.#len += 4;
  }

  #raw(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  #ascii(s: string): void {
    this.#reserve(s.length);
    for (let i = 0; i < s.length; i++) this.#buf[this.#len++] = s.charCodeAt(i);
  }

  #global(module: string, name: string): void {
    this.#op(Op.GLOBAL);
    this.#ascii(`${module}\n${name}\n`);
  }

  #value(v: unknown, depth: number): void {
    if (--this.#values < 0) throw encodeLimitError("pickle: values", "maxEncodedValues", this.#maxValues);
    switch (typeof v) {
      case "undefined":
        return this.#op(Op.NONE);
      case "boolean":
        return this.#op(v ? Op.NEWTRUE : Op.NEWFALSE);
      case "number":
        return Number.isSafeInteger(v) && !Object.is(v, -0) ? this.#int(v) : this.#float(v);
      case "bigint":
        return v >= -0x80000000n && v <= 0x7fffffffn ? this.#int(Number(v)) : this.#long(v);
      case "string":
        return this.#str(v);
      case "object":
        if (v === null) return this.#op(Op.NONE);
        return this.#object(v, depth);
      default:
        return refuse(`cannot pickle a ${typeof v}`);
    }
  }

  #int(n: number): void {
    if (n >= 0 && n < 0x100) {
      this.#op(Op.BININT1);
      this.#byte(n);
    } else if (n >= 0 && n < 0x10000) {
      this.#op(Op.BININT2);
      this.#byte(n & 0xff);
      this.#byte(n >>> 8);
    } else if (n >= -0x80000000 && n <= 0x7fffffff) {
      this.#op(Op.BININT);
      this.#reserve(4);
      this.#view.setInt32(this.#len, n, true);
      this.#len += 4;
    } else {
      this.#long(BigInt(n));
    }
  }

  /** LONG1/LONG4: little-endian two's complement, as short as the sign allows. */
  #long(v: bigint): void {
    const bytes: number[] = [];
    let x = v;
    for (;;) {
      const b = Number(x & 0xffn);
      bytes.push(b);
      x >>= 8n;
      // Done once the rest is pure sign extension and this byte's top bit agrees with it.
      if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
    }
    if (bytes.length < 256) {
      this.#op(Op.LONG1);
      this.#byte(bytes.length);
    } else {
      this.#op(Op.LONG4);
      this.#u32(bytes.length);
    }
    this.#raw(Uint8Array.from(bytes));
  }

  #float(n: number): void {
    this.#op(Op.BINFLOAT);
    this.#reserve(8);
    this.#view.setFloat64(this.#len, n, false);
    this.#len += 8;
  }

  #str(s: string): void {
    const b = encodeUtf8SurrogatePass(s);
    this.#op(Op.BINUNICODE);
    this.#u32(b.length);
    this.#raw(b);
  }

  #bytes(b: Uint8Array): void {
    if (this.#python === 3) {
      if (b.length < 256) {
        this.#op(Op.SHORT_BINBYTES);
        this.#byte(b.length);
      } else {
        this.#op(Op.BINBYTES);
        this.#u32(b.length);
      }
      this.#raw(b);
      return;
    }
    // _codecs.encode(u"<latin-1 text>", "latin1"): bytes on Python 3, str on Python 2.
    this.#global("_codecs", "encode");
    let extra = 0;
    for (let i = 0; i < b.length; i++) if ((b[i] as number) >= 0x80) extra++;
    this.#op(Op.BINUNICODE);
    this.#u32(b.length + extra);
    this.#reserve(b.length + extra);
    for (let i = 0; i < b.length; i++) {
      const c = b[i] as number;
      if (c < 0x80) this.#buf[this.#len++] = c;
      else {
        this.#buf[this.#len++] = 0xc0 | (c >> 6);
        this.#buf[this.#len++] = 0x80 | (c & 0x3f);
      }
    }
    this.#str("latin1");
    this.#op(Op.TUPLE2);
    this.#op(Op.REDUCE);
  }

  #object(v: object, depth: number): void {
    if (v instanceof Uint8Array) return this.#bytes(v);
    if (v instanceof ArrayBuffer) return this.#bytes(new Uint8Array(v));
    if (ArrayBuffer.isView(v)) return this.#bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    if (v instanceof Date) return this.#str(Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString());
    const seen = this.#memo.get(v);
    if (seen !== undefined) {
      if (seen < 0) refuse("recursive structures cannot be pickled");
      return this.#memoGet(seen);
    }
    if (depth >= this.#maxDepth) refuse(`nesting deeper than ${this.#maxDepth}`);
    this.#memo.set(v, -1);
    const d = depth + 1;
    if (Array.isArray(v)) this.#list(v, d);
    else if (v instanceof PyTuple) this.#tuple(v.items, d);
    else if (v instanceof Map) this.#dict(v.entries(), v.size, d);
    else if (v instanceof Set) this.#set(v, d);
    else if (v instanceof Error) this.#exception(v);
    else if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
      this.#memo.delete(v);
      return this.#value((v as { toJSON(): unknown }).toJSON(), d);
    } else {
      const keys = Object.keys(v);
      this.#dict(
        keys.map((k) => [k, (v as Record<string, unknown>)[k]] as const),
        keys.length,
        d,
      );
    }
    this.#memoPut(v);
  }

  /** The container on top of the stack gets the next memo index. */
  #memoPut(v: object): void {
    const i = this.#nextMemo++;
    this.#memo.set(v, i);
    if (i < 0x100) {
      this.#op(Op.BINPUT);
      this.#byte(i);
    } else {
      this.#op(Op.LONG_BINPUT);
      this.#u32(i);
    }
  }

  #memoGet(i: number): void {
    if (i < 0x100) {
      this.#op(Op.BINGET);
      this.#byte(i);
    } else {
      this.#op(Op.LONG_BINGET);
      this.#u32(i);
    }
  }

  #list(items: readonly unknown[], depth: number): void {
    this.#op(Op.EMPTY_LIST);
    if (items.length === 0) return;
    this.#op(Op.MARK);
    for (const x of items) this.#value(x, depth);
    this.#op(Op.APPENDS);
  }

  #tuple(items: readonly unknown[], depth: number): void {
    if (items.length === 0) return this.#op(Op.EMPTY_TUPLE);
    if (items.length <= 3) {
      for (const x of items) this.#value(x, depth);
      return this.#op(items.length === 1 ? Op.TUPLE1 : items.length === 2 ? Op.TUPLE2 : Op.TUPLE3);
    }
    this.#op(Op.MARK);
    for (const x of items) this.#value(x, depth);
    this.#op(Op.TUPLE);
  }

  #dict(entries: Iterable<readonly [unknown, unknown]>, size: number, depth: number): void {
    this.#op(Op.EMPTY_DICT);
    if (size === 0) return;
    this.#op(Op.MARK);
    for (const [k, x] of entries) {
      this.#value(k, depth);
      this.#value(x, depth);
    }
    this.#op(Op.SETITEMS);
  }

  #set(s: Set<unknown>, depth: number): void {
    // EMPTY_SET is protocol 4; set(list) via REDUCE reads everywhere.
    this.#global(this.#python === 2 ? "__builtin__" : "builtins", "set");
    this.#list([...s], depth);
    this.#op(Op.TUPLE1);
    this.#op(Op.REDUCE);
  }

  /** The exception class's constructor applied to (message,), then its `code` set as an attribute. */
  #exception(e: Error): void {
    const name = pythonExceptionName(e, this.#python);
    this.#global(this.#python === 2 ? "exceptions" : "builtins", name);
    this.#str(typeof e.message === "string" ? e.message : String(e.message));
    this.#op(Op.TUPLE1);
    this.#op(Op.REDUCE);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code) {
      this.#op(Op.EMPTY_DICT);
      this.#str("code");
      this.#str(code);
      this.#op(Op.SETITEM);
      this.#op(Op.BUILD);
    }
  }
}
