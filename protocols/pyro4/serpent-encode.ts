/**
 * A serpent encoder: JavaScript values as the Python literal text that
 * Python's `serpent.loads` (`ast.literal_eval`) reads, in the form Python's
 * own serpent writes, header comment included.
 *
 * JavaScript -> Python: null/undefined -> None; boolean -> bool; a safe
 * integer -> int, any other number -> float (+-Infinity as 1e30000 and NaN
 * as serpent's `{'__class__':'float','value':'nan'}`, which Pyro4 turns
 * back into a float); BigInt -> int; string -> str; Uint8Array, Buffer,
 * ArrayBuffer and DataView -> serpent's bytes dict `{'data': base64,
 * 'encoding': 'base64'}` (what Pyro4 sends; `serpent.tobytes` reads it), or
 * a bytes literal with `bytes: "literal"`; other typed arrays -> list;
 * Array -> list; {@link PyTuple} -> tuple; Set -> set (the empty set as
 * `()`, as serpent writes it: Python has no empty-set literal);
 * {@link PyComplex} -> complex; Map and plain objects -> dict; Date -> its
 * ISO string (serpent sends datetime so); an Error -> Pyro4's exception
 * dict (a builtin class, see `pythonExceptionName`, or the Python class it
 * came from); an object with `toJSON` -> that; other objects -> their own
 * enumerable properties as a dict. Functions, symbols, recursive structures
 * and unhashable dict keys are refused with `SERIALIZE_ERROR`.
 */
import { ErrorCodes, RpcError } from "../../src/errors.js";
import { PyTuple } from "../python/pickle-encoder.js";
import { DEFAULT_PYRO4_LIMITS } from "./limits.js";
import { classDictFor } from "./class-dicts.js";
import { PyComplex, asBytes } from "./python-values.js";

/** The first line of every serpent document Python 3's serpent writes. */
export const SERPENT_HEADER = "# serpent utf-8 python3.2\n";

export interface SerpentEncodeOptions {
  /** "dict" (default): serpent's base64 dict, as Python's serpent and Pyro4 send bytes; "literal": `b'...'`, which Python reads as bytes (serpent 1.40+ `bytes_repr`). */
  bytes?: "dict" | "literal";
  /** Deepest nesting accepted (default `DEFAULT_PYRO4_LIMITS.maxDepth`). */
  maxDepth?: number;
}

function refuse(message: string): never {
  throw new RpcError(ErrorCodes.SERIALIZE_ERROR, `serpent: ${message}`);
}

/** Encode `value` as a serpent document (UTF-8 bytes). */
export function encodeSerpent(value: unknown, options: SerpentEncodeOptions = {}): Uint8Array {
  return Buffer.from(serpentText(value, options), "utf8");
}

/** The serpent document for `value`, as text. */
export function serpentText(value: unknown, options: SerpentEncodeOptions = {}): string {
  const w = new Writer(options.bytes === "literal", options.maxDepth ?? DEFAULT_PYRO4_LIMITS.maxDepth);
  w.value(value, 0);
  return SERPENT_HEADER + w.out;
}

/** Python's repr of a float, as literal text (never mistaken for an int). */
export function floatText(n: number): string {
  if (Number.isNaN(n)) return "{'__class__':'float','value':'nan'}";
  if (n === Infinity) return "1e30000";
  if (n === -Infinity) return "-1e30000";
  if (Object.is(n, -0)) return "-0.0";
  const s = String(n);
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

// Characters a Python str literal must (or, for readability, should) escape:
// backslash, quotes, C0/C1 controls, and UTF-16 surrogates (lone ones cannot
// be UTF-8 encoded; pairs are checked one by one).
const NEEDS_ESCAPE = /[\\'"\x00-\x1f\x7f-\x9f\ud800-\udfff]/;

/** A Python str literal for `s`, quoted as Python's repr quotes it. */
export function strLiteral(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  if (!NEEDS_ESCAPE.test(s)) return q + s + q;
  let out = q;
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c === 0x5c) esc = "\\\\";
    else if (c === q.charCodeAt(0)) esc = `\\${q}`;
    else if (c === 0x0a) esc = "\\n";
    else if (c === 0x0d) esc = "\\r";
    else if (c === 0x09) esc = "\\t";
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) esc = `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++; // a valid pair: the character itself
        continue;
      }
      esc = `\\u${c.toString(16)}`;
    } else if (c >= 0xdc00 && c <= 0xdfff) esc = `\\u${c.toString(16)}`;
    if (esc === undefined) continue;
    out += s.slice(run, i) + esc;
    run = i + 1;
  }
  return out + s.slice(run) + q;
}

/** A Python bytes literal (`b'...'`). */
export function bytesLiteral(b: Uint8Array): string {
  let out = "b'";
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === 0x5c) out += "\\\\";
    else if (c === 0x27) out += "\\'";
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return `${out}'`;
}

class Writer {
  out = "";
  readonly #literalBytes: boolean;
  readonly #maxDepth: number;
  readonly #active = new Set<object>();

  constructor(literalBytes: boolean, maxDepth: number) {
    this.#literalBytes = literalBytes;
    this.#maxDepth = maxDepth;
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case "string":
        this.out += strLiteral(v);
        return;
      case "number":
        this.out += Number.isSafeInteger(v) && !Object.is(v, -0) ? String(v) : floatText(v);
        return;
      case "boolean":
        this.out += v ? "True" : "False";
        return;
      case "bigint":
        this.out += v.toString();
        return;
      case "undefined":
        this.out += "None";
        return;
      case "object":
        if (v === null) {
          this.out += "None";
          return;
        }
        this.#object(v, depth);
        return;
      default:
        refuse(`cannot encode a ${typeof v}`);
    }
  }

  #object(v: object, depth: number): void {
    const bytes = asBytes(v);
    if (bytes) {
      this.out += this.#literalBytes ? bytesLiteral(bytes) : `{'data':'${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}','encoding':'base64'}`;
      return;
    }
    if (v instanceof PyComplex) {
      if (Number.isNaN(v.real) || Number.isNaN(v.imag)) refuse("a complex number with a NaN part has no serpent form");
            // floatText writes the sign of a negative imaginary part (-0.0 included); Python needs `a-bj`, never `a+-bj`.
      const imag = floatText(v.imag);
      this.out += `(${floatText(v.real)}${imag.startsWith("-") ? "" : "+"}${imag}j)`;
      return;
    }
    if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) refuse("an invalid Date has no ISO form");
      this.out += strLiteral(v.toISOString());
      return;
    }
    if (depth >= this.#maxDepth) refuse(`nesting deeper than ${this.#maxDepth}`);
    if (this.#active.has(v)) refuse("recursive structure");
    this.#active.add(v);
    const d = depth + 1;
    let cd: Record<string, unknown> | undefined;
    if (Array.isArray(v)) this.#sequence("[", v, "]", d);
    else if (v instanceof PyTuple) this.#tuple(v.items, d);
    else if (ArrayBuffer.isView(v)) this.#sequence("[", Array.from(v as unknown as ArrayLike<number | bigint>), "]", d);
    else if (v instanceof Set) {
      if (v.size === 0) this.out += "()";
      else this.#keys("{", v, "}", d, "a set element");
    } else if (v instanceof Map) this.#map(v, d);
    else if ((cd = classDictFor(v)) !== undefined) this.#dict(cd, d);
    else if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
      this.#active.delete(v);
      this.value((v as { toJSON(): unknown }).toJSON(), depth);
      return;
    } else this.#dict(v, d);
    this.#active.delete(v);
  }

  #sequence(open: string, items: readonly unknown[], close: string, d: number): void {
    this.out += open;
    for (let i = 0; i < items.length; i++) {
      if (i > 0) this.out += ",";
      this.value(items[i], d);
    }
    this.out += close;
  }

  #tuple(items: readonly unknown[], d: number): void {
    this.#sequence("(", items, items.length === 1 ? ",)" : ")", d);
  }

  /** A dict key or set element: only hashable Python values (arrays go as tuples). */
  #key(k: unknown, d: number, what: string): void {
    if (k === null || k === undefined || typeof k !== "object") {
      this.value(k, d);
      return;
    }
    if (Array.isArray(k) || k instanceof PyTuple) {
      const items = Array.isArray(k) ? k : k.items;
      if (d >= this.#maxDepth) refuse(`nesting deeper than ${this.#maxDepth}`);
      this.out += "(";
      for (let i = 0; i < items.length; i++) {
        if (i > 0) this.out += ",";
        this.#key(items[i], d + 1, what);
      }
      this.out += items.length === 1 ? ",)" : ")";
      return;
    }
    const b = asBytes(k);
    if (b) {
      this.out += bytesLiteral(b);
      return;
    }
    if (k instanceof PyComplex || k instanceof Date) {
      this.value(k, d);
      return;
    }
    refuse(`${Object.prototype.toString.call(k)} cannot be ${what} (Python needs a hashable value: str, number, bool, None, bytes or a tuple of them)`);
  }

  #keys(open: string, items: Iterable<unknown>, close: string, d: number, what: string): void {
    this.out += open;
    let first = true;
    for (const k of items) {
      if (!first) this.out += ",";
      first = false;
      this.#key(k, d, what);
    }
    this.out += close;
  }

  #map(m: Map<unknown, unknown>, d: number): void {
    this.out += "{";
    let first = true;
    for (const [k, x] of m) {
      if (!first) this.out += ",";
      first = false;
      this.#key(k, d, "a dict key");
      this.out += ":";
      this.value(x, d);
    }
    this.out += "}";
  }

  #dict(o: object, d: number): void {
    this.out += "{";
    let first = true;
    for (const k of Object.keys(o)) {
      const x = (o as Record<string, unknown>)[k];
      if (typeof x === "function" || typeof x === "symbol") continue;
      if (!first) this.out += ",";
      first = false;
      this.out += `${strLiteral(k)}:`;
      this.value(x, d);
    }
    this.out += "}";
  }
}
