/**
 * A pickle decoder that only builds data. It runs the pickle virtual machine
 * for the opcodes of None, bool, int, float, str, bytes, bytearray, tuple,
 * list, dict, set/frozenset, and for builtin exception classes from an
 * allow-list; it never imports, calls or constructs anything else. Every
 * other global, `REDUCE` on anything but those, `INST`, `OBJ`, `NEWOBJ`,
 * persistent ids, extension codes and out-of-band buffers are refused.
 *
 * Decoded values: None -> null, bool -> boolean, int -> number (BigInt
 * outside the safe-integer range), float -> number, str -> string, bytes and
 * bytearray -> Uint8Array (a copy), tuple and list -> Array, dict -> a plain
 * object when every key is a str, else a Map, set/frozenset -> Set, a builtin
 * exception -> {@link PythonError}. Python 2 `str` (bytes) becomes a string
 * when it is valid UTF-8, else a Uint8Array. Recursive structures are refused.
 *
 * Every failure is an `RpcError` with code `PROTOCOL_ERROR`; a limit of
 * ./pickle-limits.ts that was passed names itself in `data.limit`.
 *
 * Cost: time and memory are linear in the input and bounded by those limits.
 * Every object, value and copy is charged as it is made, declared lengths are
 * checked against the bytes present before anything is allocated, shared
 * (memoized) values stay shared in the result instead of being copied, and
 * exception messages built from their arguments draw on one bounded budget.
 */
import { RpcError } from "../../src/errors.js";
import { HIGHEST_PROTOCOL, Op } from "./pickle-opcodes.js";
import { EXCEPTION_MODULES, PythonError, exceptionMessage, isPythonException, type MessageBudget } from "./python-exceptions.js";
import { decodeLimitError, resolvePickleLimits, type PickleLimits } from "./pickle-limits.js";
import { decodeUtf8Lenient, latin1ToBytes } from "./text.js";

export { DEFAULT_PICKLE_LIMITS, type PickleLimits } from "./pickle-limits.js";

/** Python's own cap on decimal int digits (`sys.int_info.default_max_str_digits`): parsing more is superlinear. */
const MAX_DECIMAL_DIGITS = 4300;
/** Longest protocol 0 line that is not data (a GLOBAL name, an int, a float, a memo index). */
const MAX_NAME_LINE = 256;

/** A class the decoder accepts: only ever a callee of `REDUCE`, never a value. */
class Global {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly kind: "exception" | "set" | "frozenset" | "bytes" | "bytearray" | "encode",
  ) {}
}

/** An exception under construction: `BUILD` may still add its attributes. */
class PendingException {
  state: Map<unknown, unknown> | undefined;
  constructor(
    readonly name: string,
    readonly args: unknown[],
  ) {}
}

/** dicts are Maps while decoding (keys of any type); {@link finish} turns them into objects. */
type Dict = Map<unknown, unknown>;

function fail(message: string): never {
  throw new RpcError("PROTOCOL_ERROR", `pickle: ${message}`);
}

const BUILTIN_MODULES = new Set(["builtins", "__builtin__"]);

function findGlobal(module: string, name: string): Global {
  if (EXCEPTION_MODULES.has(module) && isPythonException(name)) return new Global(module, name, "exception");
  if (BUILTIN_MODULES.has(module)) {
    if (name === "set" || name === "frozenset" || name === "bytes" || name === "bytearray") return new Global(module, name, name);
  }
  // Python 3 pickles bytes for protocols 0-2 as _codecs.encode(latin-1 text, "latin1").
  if (module === "_codecs" && name === "encode") return new Global(module, name, "encode");
  return fail(`global '${printable(module)}.${printable(name)}' is not allowed`);
}

function printable(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

const FLOAT_RE = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;
const INT_RE = /^[+-]?\d+$/;

/** Decode one pickle (protocols 0-5). Throws `RpcError` `PROTOCOL_ERROR` for anything refused or malformed. */
export function decodePickle(data: Uint8Array, limits?: Partial<PickleLimits>): unknown {
  const lim = resolvePickleLimits(limits);
  if (data.length > lim.maxSize) throw decodeLimitError(`pickle: ${data.length} bytes`, "maxSize", lim.maxSize);
  try {
    return new Machine(data, lim).run();
  } catch (err) {
    if (err instanceof RpcError) throw err;
    // A bug or an engine limit (stack, allocation) must still surface as a protocol error.
    throw new RpcError("PROTOCOL_ERROR", `pickle: cannot decode (${(err as Error)?.message ?? String(err)})`, { cause: err });
  }
}

/** The pickle protocol announced by a leading PROTO opcode, or 0 when there is none (protocols 0 and 1). */
export function pickleProtocol(data: Uint8Array): number {
  return data.length >= 2 && data[0] === Op.PROTO ? (data[1] as number) : 0;
}

class Machine {
  readonly #d: Uint8Array;
  readonly #view: DataView;
  readonly #lim: PickleLimits;
  #pos = 0;
  #stack: unknown[] = [];
  readonly #meta: unknown[][] = [];
  /** Memo indices are dense from 0 in every real pickle: an array, with a Map for the odd sparse index. */
  readonly #memo: unknown[] = [];
  readonly #sparseMemo = new Map<number, unknown>();
  /** Objects reachable twice (through GET or DUP): only these can be shared or recursive. */
  readonly #shared = new Set<unknown>();
  /** Units of copying left: twice the input (plus a little), so a shared list cannot be copied over and over. */
  #budget: number;
  /** Decimal digits to BigInt is quadratic: charged apart, with room for a few of Python's largest (4300 digits) in a small pickle. */
  #decimalWork: number;
  /** What is left of maxObjects, maxElements, maxExceptions: counted down, checked against zero. */
  #objects: number;
  #elements: number;
  #exceptions: number;

  constructor(data: Uint8Array, lim: PickleLimits) {
    this.#d = data;
    this.#budget = 2 * data.length + 4096;
    this.#decimalWork = 2 * data.length + (1 << 20);
    this.#objects = lim.maxObjects;
    this.#elements = lim.maxElements;
    this.#exceptions = lim.maxExceptions;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#lim = lim;
  }

  run(): unknown {
    const d = this.#d;
    for (;;) {
      if (this.#pos >= d.length) fail("truncated: no STOP opcode");
      const op = d[this.#pos++] as number;
      // Literal cases (names in comments, values in pickle-opcodes.ts) let V8 compile a jump table.
      switch (op) {
        case 0x80: { // PROTO
          const v = this.#u8();
          if (v > HIGHEST_PROTOCOL) fail(`unsupported protocol ${v}`);
          break;
        }
        case 0x95: // FRAME
          this.#u64(); // a read-ahead hint only
          break;
        case 0x2e: { // STOP
          if (this.#pos !== d.length) fail(`${d.length - this.#pos} bytes after STOP`);
          if (this.#meta.length !== 0 || this.#stack.length !== 1) fail("STOP with an unbalanced stack");
          return new Finisher(this.#lim, this.#shared).run(this.#stack[0]);
        }
        // --- atoms
        case 0x4e: // NONE
          this.#push(null);
          break;
        case 0x88: // NEWTRUE
          this.#push(true);
          break;
        case 0x89: // NEWFALSE
          this.#push(false);
          break;
        case 0x49: { // INT
          const line = this.#line(MAX_DECIMAL_DIGITS + 2);
          if (line === "01") this.#push(true);
          else if (line === "00") this.#push(false);
          else this.#push(this.#decimal(line));
          break;
        }
        case 0x4c: { // LONG
          const line = this.#line(MAX_DECIMAL_DIGITS + 3);
          this.#push(this.#decimal(line.endsWith("L") ? line.slice(0, -1) : line));
          break;
        }
        case 0x4a: // BININT
          this.#push(this.#i32());
          break;
        case 0x4b: // BININT1
          this.#push(this.#u8());
          break;
        case 0x4d: // BININT2
          this.#push(this.#u16());
          break;
        case 0x8a: // LONG1
          this.#push(this.#long(this.#u8()));
          break;
        case 0x8b: { // LONG4
          const n = this.#i32();
          if (n < 0) fail("negative LONG4 length");
          this.#push(this.#long(n));
          break;
        }
        case 0x46: // FLOAT
          this.#push(parseFloatLine(this.#line(MAX_NAME_LINE)));
          break;
        case 0x47: // BINFLOAT
          this.#need(8);
          this.#push(this.#view.getFloat64(this.#pos, false));
          this.#pos += 8;
          break;
        case 0x53: // STRING
          this.#push(this.#py2Str(escapeDecode(this.#rawLine())));
          break;
        case 0x54: { // BINSTRING
          const n = this.#i32();
          if (n < 0) fail("negative BINSTRING length");
          this.#push(this.#py2Str(this.#bytes(n)));
          break;
        }
        case 0x55: // SHORT_BINSTRING
          this.#push(this.#py2Str(this.#bytes(this.#u8())));
          break;
        case 0x56: // UNICODE
          this.#push(rawUnicodeEscapeDecode(this.#rawLine()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.#push(this.#utf8(this.#u8()));
          break;
        case 0x58: // BINUNICODE
          this.#push(this.#utf8(this.#u32()));
          break;
        case 0x8d: // BINUNICODE8
          this.#push(this.#utf8(this.#u64()));
          break;
        case 0x43: // SHORT_BINBYTES
          this.#push(this.#copy(this.#bytes(this.#u8())));
          break;
        case 0x42: // BINBYTES
          this.#push(this.#copy(this.#bytes(this.#u32())));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.#push(this.#copy(this.#bytes(this.#u64())));
          break;
        // --- containers: each is charged to maxObjects before it is made
        case 0x29: // EMPTY_TUPLE
          this.#object();
          this.#push([]);
          break;
        case 0x85: // TUPLE1
          this.#object();
          this.#push([this.#pop()]);
          break;
        case 0x86: { // TUPLE2
          this.#object();
          const b = this.#pop();
          this.#push([this.#pop(), b]);
          break;
        }
        case 0x87: { // TUPLE3
          this.#object();
          const c = this.#pop();
          const b = this.#pop();
          this.#push([this.#pop(), b, c]);
          break;
        }
        case 0x74: // TUPLE
        case 0x6c: // LIST
          // The mark's array becomes the tuple: charged when MARK made it.
          this.#push(this.#popMark());
          break;
        case 0x5d: // EMPTY_LIST
          this.#object();
          this.#push([]);
          break;
        case 0x7d: // EMPTY_DICT
          this.#object();
          this.#push(new Map());
          break;
        case 0x64: { // DICT
          this.#object();
          const items = this.#popMark();
          if (items.length % 2 !== 0) fail("DICT with an odd number of items");
          const m: Dict = new Map();
          for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
          this.#push(m);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.#object();
          this.#push(new Set());
          break;
        case 0x91: // FROZENSET
          this.#object();
          this.#push(new Set(this.#popMark()));
          break;
        case 0x61: { // APPEND
          const v = this.#pop();
          this.#list(this.#top()).push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.#popMark();
          const list = this.#list(this.#top());
          for (const v of items) list.push(v);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.#pop();
          const k = this.#pop();
          this.#dict(this.#top()).set(k, v);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.#popMark();
          if (items.length % 2 !== 0) fail("SETITEMS with an odd number of items");
          const m = this.#dict(this.#top());
          for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
          break;
        }
        case 0x90: { // ADDITEMS
          const items = this.#popMark();
          const s = this.#top();
          if (!(s instanceof Set)) fail("ADDITEMS on something that is not a set");
          for (const v of items) s.add(v);
          break;
        }
        // --- stack and memo
        case 0x28: // MARK
          this.#object();
          this.#meta.push(this.#stack);
          this.#stack = [];
          break;
        case 0x30: // POP
          if (this.#stack.length > 0) this.#stack.pop();
          else this.#popMark();
          break;
        case 0x31: // POP_MARK
          this.#popMark();
          break;
        case 0x32: { // DUP
          const v = this.#top();
          if (typeof v === "object" && v !== null) this.#shared.add(v);
          this.#push(v);
          break;
        }
        case 0x70: // PUT
          this.#put(this.#index(this.#line(MAX_NAME_LINE)));
          break;
        case 0x71: // BINPUT
          this.#put(this.#u8());
          break;
        case 0x72: // LONG_BINPUT
          this.#put(this.#u32());
          break;
        case 0x94: // MEMOIZE
          this.#put(this.#memo.length + this.#sparseMemo.size);
          break;
        case 0x67: // GET
          this.#get(this.#index(this.#line(MAX_NAME_LINE)));
          break;
        case 0x68: // BINGET
          this.#get(this.#u8());
          break;
        case 0x6a: // LONG_BINGET
          this.#get(this.#u32());
          break;
        // --- the few callables allowed
        case 0x63: { // GLOBAL
          const module = this.#line(MAX_NAME_LINE);
          const name = this.#line(MAX_NAME_LINE);
          this.#object();
          this.#push(findGlobal(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.#pop();
          const module = this.#pop();
          if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
          this.#object();
          this.#push(findGlobal(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.#pop();
          const callee = this.#pop();
          this.#push(this.#reduce(callee, args));
          break;
        }
        case 0x62: { // BUILD
          const state = this.#pop();
          const target = this.#top();
          // Exceptions with attributes (e.g. __notes__) pickle their __dict__ this way; nothing else may.
          if (!(target instanceof PendingException)) fail("BUILD is only allowed on a builtin exception");
          // The state is copied: a memoized dict applied over and over must not multiply work.
          if (state instanceof Map) this.#charge(state.size);
          else if (Array.isArray(state)) for (const p of state) if (p instanceof Map) this.#charge(p.size);
          target.state = exceptionState(state, target.state);
          break;
        }
        case 0x50: // PERSID
        case 0x51: // BINPERSID
          return fail("persistent ids are not allowed");
        case 0x69: // INST
        case 0x6f: // OBJ
        case 0x81: // NEWOBJ
        case 0x92: // NEWOBJ_EX
          return fail("building class instances is not allowed");
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: // EXT4
          return fail("extension codes are not allowed");
        case 0x97: // NEXT_BUFFER
        case 0x98: // READONLY_BUFFER
          return fail("out-of-band buffers are not allowed");
        default:
          return fail(`unknown opcode 0x${op.toString(16).padStart(2, "0")} at offset ${this.#pos - 1}`);
      }
    }
  }

  /** REDUCE copies its argument; shared (memoized) arguments must not multiply memory. */
  #charge(units: number): void {
    this.#budget -= units;
    if (this.#budget < 0) fail("too much copying for the input size");
  }

  /** One more heap object (container, bytes, mark, class reference). */
  #object(): void {
    if (--this.#objects < 0) throw decodeLimitError("pickle: objects", "maxObjects", this.#lim.maxObjects);
  }

  #reduce(callee: unknown, args: unknown): unknown {
    if (Array.isArray(args)) this.#charge(args.length);
    const first = Array.isArray(args) ? (args[0] as unknown) : undefined;
    if (Array.isArray(first) || first instanceof Set) this.#charge(Array.isArray(first) ? first.length : first.size);
    else if (typeof first === "string" || first instanceof Uint8Array) this.#charge(first.length);
    if (callee instanceof Global && callee.kind === "exception") {
      if (--this.#exceptions < 0) throw decodeLimitError("pickle: exceptions", "maxExceptions", this.#lim.maxExceptions);
    } else {
      this.#object();
    }
    return reduce(callee, args);
  }

  /** Every value on the stack or in a container went through here once: maxElements bounds them all. */
  #push(v: unknown): void {
    if (--this.#elements < 0) throw decodeLimitError("pickle: values", "maxElements", this.#lim.maxElements);
    this.#stack.push(v);
  }

  #copy(b: Uint8Array): Uint8Array {
    this.#object();
    return copy(b);
  }

  /** Python 2 `str` is bytes: text when it is UTF-8 (what Python 2 code means by a str literal), bytes otherwise. */
  #py2Str(b: Uint8Array): string | Uint8Array {
    return decodeUtf8Lenient(b, false) ?? this.#copy(b);
  }

  #pop(): unknown {
    if (this.#stack.length === 0) fail("stack underflow");
    return this.#stack.pop();
  }

  #top(): unknown {
    if (this.#stack.length === 0) fail("stack underflow");
    return this.#stack[this.#stack.length - 1];
  }

  #popMark(): unknown[] {
    const items = this.#stack;
    const prev = this.#meta.pop();
    if (prev === undefined) fail("no MARK on the stack");
    this.#stack = prev;
    return items;
  }

  #list(v: unknown): unknown[] {
    if (!Array.isArray(v)) fail("APPEND on something that is not a list");
    return v;
  }

  #dict(v: unknown): Dict {
    if (!(v instanceof Map)) fail("SETITEM on something that is not a dict");
    return v;
  }

  #put(i: number): void {
    const v = this.#top();
    const memo = this.#memo;
    if (i < memo.length) {
      memo[i] = v;
      return;
    }
    if (memo.length + this.#sparseMemo.size >= this.#lim.maxMemo && !this.#sparseMemo.has(i)) throw decodeLimitError("pickle: memo entries", "maxMemo", this.#lim.maxMemo);
    if (i === memo.length && !this.#sparseMemo.has(i)) memo.push(v);
    else this.#sparseMemo.set(i, v);
  }

  #get(i: number): void {
    let v: unknown;
    if (i < this.#memo.length) v = this.#memo[i];
    else if (this.#sparseMemo.has(i)) v = this.#sparseMemo.get(i);
    else fail(`memo key ${i} is not defined`);
    if (typeof v === "object" && v !== null) this.#shared.add(v);
    this.#push(v);
  }

  #index(line: string): number {
    if (!/^\d{1,10}$/.test(line)) fail("bad memo index");
    return Number(line);
  }

  #need(n: number): void {
    if (n > this.#d.length - this.#pos) fail("truncated");
  }

  #u8(): number {
    this.#need(1);
    return this.#d[this.#pos++] as number;
  }

  #u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#pos, true);
    this.#pos += 2;
    return v;
  }

  #i32(): number {
    this.#need(4);
    const v = this.#view.getInt32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  #u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  #u64(): number {
    this.#need(8);
    const lo = this.#view.getUint32(this.#pos, true);
    const hi = this.#view.getUint32(this.#pos + 4, true);
    this.#pos += 8;
    // Anything this large cannot fit in the (already size-checked) input anyway.
    if (hi > 0x1fffff) fail("length out of range");
    return hi * 0x100000000 + lo;
  }

  /** A view of the next `n` bytes; callers copy when they keep it. */
  #bytes(n: number): Uint8Array {
    this.#need(n);
    const b = this.#d.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return b;
  }

  #utf8(n: number): string {
    const s = decodeUtf8Lenient(this.#bytes(n));
    if (s === undefined) fail("invalid UTF-8 in a str");
    return s;
  }

  #rawLine(): Uint8Array {
    const d = this.#d;
    const end = d.indexOf(0x0a, this.#pos);
    if (end < 0) fail("truncated: missing newline");
    const b = d.subarray(this.#pos, end);
    this.#pos = end + 1;
    return b;
  }

  /** A newline-terminated ASCII line (protocol 0 arguments, GLOBAL names), at most `max` bytes. */
  #line(max: number): string {
    const b = this.#rawLine();
    if (b.length > max) fail(`a text argument of ${b.length} bytes (at most ${max} here)`);
    let s = "";
    for (let i = 0; i < b.length; i++) {
      const c = b[i] as number;
      if (c >= 0x80) fail("non-ASCII byte in a text argument");
      s += String.fromCharCode(c);
    }
    return s;
  }

  #decimal(s: string): number | bigint {
    if (!INT_RE.test(s)) fail("malformed int");
    const digits = s.length - (s[0] === "-" || s[0] === "+" ? 1 : 0);
    if (digits > MAX_DECIMAL_DIGITS) fail(`an int of ${digits} decimal digits (Python's own limit is ${MAX_DECIMAL_DIGITS})`);
    if (s.length > this.#lim.maxIntBytes * 2.41 + 2) throw decodeLimitError("pickle: int bytes", "maxIntBytes", this.#lim.maxIntBytes);
    const n = Number(s);
    if (Number.isSafeInteger(n)) return n;
    this.#decimalWork -= Math.ceil((digits * digits) / 128);
    if (this.#decimalWork < 0) fail("too many long decimal ints for the input size (parsing them is quadratic)");
    return BigInt(s);
  }

  /** Little-endian two's complement, as LONG1/LONG4 carry it. */
  #long(n: number): number | bigint {
    if (n > this.#lim.maxIntBytes) throw decodeLimitError("pickle: int bytes", "maxIntBytes", this.#lim.maxIntBytes);
    const b = this.#bytes(n);
    if (n === 0) return 0;
    if (n <= 6) {
      let v = 0;
      for (let i = n - 1; i >= 0; i--) v = v * 256 + (b[i] as number);
      if ((b[n - 1] as number) & 0x80) v -= 2 ** (8 * n);
      return v;
    }
    let hex = "";
    for (let i = n - 1; i >= 0; i--) hex += (b[i] as number).toString(16).padStart(2, "0");
    let v = BigInt(`0x${hex}`);
    if ((b[n - 1] as number) & 0x80) v -= 1n << BigInt(8 * n);
    const small = Number(v);
    return Number.isSafeInteger(small) ? small : v;
  }
}

function parseFloatLine(s: string): number {
  const t = s.toLowerCase();
  if (t === "inf" || t === "+inf" || t === "infinity") return Infinity;
  if (t === "-inf" || t === "-infinity") return -Infinity;
  if (t === "nan" || t === "-nan" || t === "+nan") return NaN;
  if (!FLOAT_RE.test(s)) fail("malformed float");
  return Number(s);
}

const SIMPLE_ESCAPES: Record<string, number> = { "\\": 0x5c, "'": 0x27, '"': 0x22, a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };

/** Protocol 0 STRING: a quoted Python 2 repr, unescaped like codecs.escape_decode. The output is never longer than the line. */
function escapeDecode(line: Uint8Array): Uint8Array {
  const q = line[0];
  const end = line.length - 1;
  if (line.length < 2 || (q !== 0x27 && q !== 0x22) || line[end] !== q) fail("STRING argument is not quoted");
  const out = new Uint8Array(end - 1);
  let n = 0;
  for (let i = 1; i < end; i++) {
    const c = line[i] as number;
    if (c >= 0x80) fail("non-ASCII byte in a text argument");
    if (c !== 0x5c) {
      out[n++] = c;
      continue;
    }
    if (++i >= end) fail("trailing backslash in STRING");
    const e = line[i] as number;
    const simple = SIMPLE_ESCAPES[String.fromCharCode(e)];
    if (simple !== undefined) {
      out[n++] = simple;
    } else if (e === 0x78) { // x
      const h = hexDigit(line[i + 1]) * 16 + hexDigit(line[i + 2]);
      if (i + 2 >= end || !(h >= 0)) fail("bad \\x escape in STRING");
      out[n++] = h;
      i += 2;
    } else if (e >= 0x30 && e <= 0x37) {
      let v = 0;
      let j = i;
      while (j < i + 3 && j < end && (line[j] as number) >= 0x30 && (line[j] as number) <= 0x37) v = v * 8 + (line[j++] as number) - 0x30;
      out[n++] = v & 0xff;
      i = j - 1;
    } else if (e === 0x0a) {
      // line continuation: nothing
    } else {
      if (e >= 0x80) fail("non-ASCII byte in a text argument");
      out[n++] = 0x5c;
      out[n++] = e;
    }
  }
  return out.subarray(0, n);
}

/** The value of one hex digit, or NaN. */
function hexDigit(c: number | undefined): number {
  if (c === undefined) return NaN;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : NaN;
}

/** Protocol 0 UNICODE: latin-1 bytes with \uXXXX and \UXXXXXXXX escapes (CPython's raw-unicode-escape). */
function rawUnicodeEscapeDecode(b: Uint8Array): string {
  const parts: string[] = [];
  let run = "";
  for (let i = 0; i < b.length; ) {
    const c = b[i] as number;
    if (c !== 0x5c) {
      run += String.fromCharCode(c);
      i++;
      continue;
    }
    // Backslashes are literal; only the last of an odd-length run followed by u/U starts an escape.
    let j = i;
    while (j < b.length && b[j] === 0x5c) j++;
    const count = j - i;
    const next = b[j];
    if (count % 2 === 0 || (next !== 0x75 && next !== 0x55)) {
      run += "\\".repeat(count);
      i = j;
      continue;
    }
    run += "\\".repeat(count - 1);
    const width = next === 0x75 ? 4 : 8;
    let hex = "";
    for (let k = j + 1; k < j + 1 + width; k++) {
      const h = b[k];
      if (h === undefined) fail("truncated \\u escape in UNICODE");
      hex += String.fromCharCode(h);
    }
    if (!/^[0-9a-fA-F]+$/.test(hex)) fail("bad \\u escape in UNICODE");
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) fail("code point out of range in UNICODE");
    run += cp > 0xffff ? String.fromCodePoint(cp) : String.fromCharCode(cp);
    i = j + 1 + width;
    if (run.length > 4096) {
      parts.push(run);
      run = "";
    }
  }
  parts.push(run);
  return parts.join("");
}

function isStrKeyedDict(v: unknown): v is Dict {
  if (!(v instanceof Map)) return false;
  for (const k of v.keys()) if (typeof k !== "string") return false;
  return true;
}

function exceptionState(state: unknown, prev: Dict | undefined): Dict | undefined {
  // __reduce__ gives the __dict__, or (dict, slots) when __slots__ are involved.
  const parts = Array.isArray(state) && state.length === 2 ? state : [state];
  let out = prev;
  for (const p of parts) {
    if (p === null) continue;
    if (!isStrKeyedDict(p)) fail("exception state must be a dict with str keys");
    out ??= new Map();
    for (const [k, v] of p) out.set(k, v);
  }
  return out;
}

function reduce(callee: unknown, args: unknown): unknown {
  if (!(callee instanceof Global)) fail("REDUCE is only allowed on builtin exceptions, set, frozenset, bytes, bytearray");
  if (!Array.isArray(args)) fail("REDUCE arguments must be a tuple");
  switch (callee.kind) {
    case "exception":
      return new PendingException(callee.name, args);
    case "set":
    case "frozenset": {
      if (args.length === 0) return new Set();
      const it = args[0];
      if (args.length === 1 && (Array.isArray(it) || it instanceof Set)) return new Set(it);
      return fail(`${callee.name}() needs a list`);
    }
    case "bytes":
      if (args.length === 0) return new Uint8Array(0);
      return fail("bytes() with arguments is not allowed");
    case "bytearray":
      if (args.length === 0) return new Uint8Array(0);
      if (args.length === 1 && args[0] instanceof Uint8Array) return copy(args[0]);
      return latin1Args(args, "bytearray");
    case "encode":
      return latin1Args(args, "_codecs.encode");
  }
}

/** `(text, "latin1")`: how Python 3 writes bytes for protocols 0-2. */
function latin1Args(args: unknown[], what: string): Uint8Array {
  const [text, enc] = args;
  if (args.length !== 2 || typeof text !== "string" || (enc !== "latin1" && enc !== "latin-1")) fail(`${what} is only allowed as (str, 'latin1')`);
  const b = latin1ToBytes(text);
  if (b === undefined) fail(`${what}: character outside latin-1`);
  return b;
}

/**
 * Second pass: checks the graph (no classes left as values, no cycles,
 * depth), turns dicts into objects. A shared value is converted once and
 * stays shared; its height is remembered so that reaching it again deeper
 * down still counts against maxDepth.
 */
class Finisher {
  readonly #done = new Map<object, { readonly value: unknown; readonly height: number }>();
  readonly #active = new Set<object>();
  readonly #maxDepth: number;
  readonly #shared: ReadonlySet<unknown>;
  readonly #messages: MessageBudget;
  /** Height of the value the last finish() returned (0 for a scalar). */
  #h = 0;

  constructor(lim: PickleLimits, shared: ReadonlySet<unknown>) {
    this.#maxDepth = lim.maxDepth;
    this.#shared = shared;
    this.#messages = { left: lim.maxMessageChars };
  }

  run(v: unknown): unknown {
    return this.finish(v, 0);
  }

  finish(v: unknown, depth: number): unknown {
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) {
      this.#h = 0;
      return v;
    }
    if (v instanceof Global) fail(`the class '${v.name}' is not a value`);
    if (depth >= this.#maxDepth) this.#tooDeep();
    // An object never fetched twice sits in exactly one place: no bookkeeping needed.
    if (!this.#shared.has(v)) {
      const out = this.#convert(v, depth + 1);
      this.#h++;
      return out;
    }
    const done = this.#done.get(v);
    if (done !== undefined) {
      if (depth + done.height > this.#maxDepth) this.#tooDeep();
      this.#h = done.height;
      return done.value;
    }
    if (this.#active.has(v)) fail("recursive structures are not supported");
    this.#active.add(v);
    const value = this.#convert(v, depth + 1);
    this.#active.delete(v);
    const height = ++this.#h;
    this.#done.set(v, { value, height });
    return value;
  }

  #tooDeep(): never {
    throw decodeLimitError("pickle: nesting levels", "maxDepth", this.#maxDepth);
  }

  /** Converts `v`'s children; leaves in #h the greatest height among them. */
  #convert(v: object, depth: number): unknown {
    let h = 0;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        v[i] = this.finish(v[i], depth);
        if (this.#h > h) h = this.#h;
      }
      this.#h = h;
      return v;
    }
    if (v instanceof Map) {
      if (isStrKeyedDict(v)) return this.#object(v, depth);
      const m = new Map<unknown, unknown>();
      for (const [k, x] of v) {
        const key = this.finish(k, depth);
        if (this.#h > h) h = this.#h;
        m.set(key, this.finish(x, depth));
        if (this.#h > h) h = this.#h;
      }
      this.#h = h;
      return m;
    }
    if (v instanceof Set) {
      const s = new Set<unknown>();
      for (const x of v) {
        s.add(this.finish(x, depth));
        if (this.#h > h) h = this.#h;
      }
      this.#h = h;
      return s;
    }
    if (v instanceof PendingException) {
      const args = v.args.map((a) => {
        const out = this.finish(a, depth);
        if (this.#h > h) h = this.#h;
        return out;
      });
      let attrs: Record<string, unknown> | undefined;
      if (v.state) {
        attrs = this.#object(v.state, depth);
        if (this.#h > h) h = this.#h;
      }
      this.#h = h;
      return new PythonError(v.name, args, attrs, exceptionMessage(args, this.#messages));
    }
    return fail("unexpected value");
  }

  #object(m: Dict, depth: number): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    let h = 0;
    for (const [k, x] of m) {
      const key = k as string;
      const val = this.finish(x, depth);
      if (this.#h > h) h = this.#h;
      // A "__proto__" key stays an own property instead of replacing the prototype.
      if (key === "__proto__") Object.defineProperty(o, key, { value: val, enumerable: true, writable: true, configurable: true });
      else o[key] = val;
    }
    this.#h = h;
    return o;
  }
}

/** A plain Uint8Array copy: the input may be a reused buffer, and Buffer#slice would only be a view. */
function copy(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(b.length);
  c.set(b);
  return c;
}
