/**
 * A data-only serpent decoder. Serpent (Pyro4's default serializer) writes
 * Python literal syntax that Python reads back with `ast.literal_eval`; this
 * is a parser for that literal syntax alone. Nothing is evaluated: there
 * are no names but True/False/None (and `set()`), no calls, no operators
 * but a sign and the `a+bj` of a complex number.
 *
 * Python -> JavaScript: None -> null; bool -> boolean; int -> number, or
 * BigInt outside the safe-integer range; float -> number (serpent writes
 * +-inf as 1e30000 and NaN as a class dict); complex -> {@link PyComplex};
 * str -> string; bytes literal -> Uint8Array; tuple and list -> Array;
 * dict -> a plain object when every key is a str, else a Map; set -> Set.
 * Serpent's bytes dict `{"data": base64, "encoding": "base64"}` becomes a
 * Uint8Array (option `bytes`); a dict with "__class__" goes through the
 * class hook (default: NaN, exceptions -> {@link Pyro4RemoteError}, other
 * classes stay dicts). Serpent sends datetime, Decimal and UUID as strings.
 *
 * Cost is linear in the input: limits on size, depth, values and int digits
 * (see {@link Pyro4Limits}). Every failure is an `RpcError`:
 * `PAYLOAD_TOO_LARGE` for size and count limits, `PROTOCOL_ERROR` otherwise.
 */
import { ErrorCodes, RpcError } from "../../src/errors.js";
import { defaultClassHook, serpentBytes, type ClassHook } from "./class-dicts.js";
import { pyro4Limits, type Pyro4Limits } from "./limits.js";
import { PyComplex, pythonDict } from "./python-values.js";

export interface SerpentDecodeOptions {
  limits?: Partial<Pyro4Limits>;
  /** Turn serpent's base64 bytes dicts into Uint8Array (default true). */
  bytes?: boolean;
  /** What to make of dicts tagged with "__class__" (default {@link defaultClassHook}). */
  classHook?: ClassHook;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decode serpent bytes (UTF-8 Python literal text). */
export function decodeSerpent(data: Uint8Array, options: SerpentDecodeOptions = {}): unknown {
  const lim = pyro4Limits(options.limits);
  if (data.length > lim.maxMessageSize) {
    throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `serpent: ${data.length} bytes exceed the limit of ${lim.maxMessageSize} (limits.maxMessageSize)`);
  }
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    throw new RpcError(ErrorCodes.PROTOCOL_ERROR, "serpent: data is not valid UTF-8");
  }
  return parseSerpent(text, options, lim);
}

/** Decode serpent text already held as a string. */
export function parseSerpent(text: string, options: SerpentDecodeOptions = {}, lim: Pyro4Limits = pyro4Limits(options.limits)): unknown {
  if (text.length > lim.maxMessageSize) {
    throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `serpent: ${text.length} characters exceed the limit of ${lim.maxMessageSize} (limits.maxMessageSize)`);
  }
  // Python's serpent.loads refuses NUL characters before parsing; so do we.
  if (text.includes("\0")) fail("data contains a NUL character (corrupted?)", text.indexOf("\0"));
  try {
    return new Parser(text, lim, options.bytes ?? true, options.classHook ?? defaultClassHook).document();
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw new RpcError(ErrorCodes.PROTOCOL_ERROR, `serpent: cannot decode (${(err as Error)?.message ?? String(err)})`, { cause: err });
  }
}

function fail(message: string, at: number): never {
  throw new RpcError(ErrorCodes.PROTOCOL_ERROR, `serpent: ${message} at offset ${at}`);
}

const DIGITS = /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.?(?:[eE][+-]?\d(?:_?\d)*)?)[jJ]?/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Marks a tuple while its container is being checked for hashability. */
type Unhashable = "list" | "dict" | "set";

class Parser {
  readonly #s: string;
  readonly #lim: Pyro4Limits;
  readonly #bytes: boolean;
  readonly #hook: ClassHook;
  #pos = 0;
  #items = 0;
  /** Whether the last number parsed was an int (so "-0" is the int 0, not the float -0.0). */
  #wasInt = false;
  /** The kind of the last container parsed, when it cannot be a dict key or set element. */
  #unhashable: Unhashable | undefined;

  constructor(s: string, lim: Pyro4Limits, bytes: boolean, hook: ClassHook) {
    this.#s = s;
    this.#lim = lim;
    this.#bytes = bytes;
    this.#hook = hook;
  }

  document(): unknown {
    this.#ws();
    if (this.#pos >= this.#s.length) fail("no value", this.#pos);
    const v = this.#value(0);
    this.#ws();
    if (this.#pos < this.#s.length) fail(`unexpected ${this.#show()} after the value`, this.#pos);
    return v;
  }

  #show(): string {
    const c = this.#s[this.#pos];
    return c === undefined ? "end of data" : JSON.stringify(c);
  }

  #count(): void {
    if (++this.#items > this.#lim.maxItems) {
      throw new RpcError(ErrorCodes.PAYLOAD_TOO_LARGE, `serpent: more than ${this.#lim.maxItems} values (limits.maxItems)`);
    }
  }

  /** Skip whitespace, comments and backslash line continuations. */
  #ws(): void {
    const s = this.#s;
    let i = this.#pos;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c) i++;
      else if (c === 0x23) {
        // "#" comment to the end of the line (serpent's header is one).
        const nl = s.indexOf("\n", i);
        i = nl < 0 ? s.length : nl + 1;
      } else if (c === 0x5c && (s.charCodeAt(i + 1) === 0x0a || s.charCodeAt(i + 1) === 0x0d)) i += 2;
      else break;
    }
    this.#pos = i;
  }

  /** One value, possibly a complex sum `a+bj`; `depth` counts enclosing containers. */
  #value(depth: number): unknown {
    this.#unhashable = undefined;
    const s = this.#s;
    const c = s.charCodeAt(this.#pos);
    if (c === 0x28) return this.#paren(depth);
    if (c === 0x5b) return this.#list(depth);
    if (c === 0x7b) return this.#brace(depth);
    this.#count();
    if (c === 0x27 || c === 0x22) return this.#strings();
    if ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d) return this.#numberExpr();
    NAME.lastIndex = this.#pos;
    const m = NAME.exec(s);
    if (m) {
      const name = m[0];
      const next = s.charCodeAt(this.#pos + name.length);
      if ((next === 0x27 || next === 0x22) && /^(?:[rRuUbB]|[bB][rR]|[rR][bB])$/.test(name)) return this.#strings();
      this.#pos += name.length;
      if (name === "None") return null;
      if (name === "True") return true;
      if (name === "False") return false;
      if (name === "set") {
        // ast.literal_eval accepts set() (Python 3.9+) for the empty set.
        this.#ws();
        if (s.charCodeAt(this.#pos) === 0x28) {
          this.#pos++;
          this.#ws();
          if (s.charCodeAt(this.#pos) === 0x29) {
            this.#pos++;
            this.#unhashable = "set";
            return new Set();
          }
        }
      }
      fail(`'${name.length > 40 ? `${name.slice(0, 40)}...` : name}' is not a literal`, this.#pos - name.length);
    }
    return fail(`unexpected ${this.#show()}`, this.#pos);
  }

  #enter(depth: number): number {
    if (depth >= this.#lim.maxDepth) fail(`nesting deeper than ${this.#lim.maxDepth} (limits.maxDepth)`, this.#pos);
    this.#count();
    this.#pos++;
    this.#ws();
    return depth + 1;
  }

  /** After an element: a comma (then maybe the closer) or the closer. Returns true when the container is closed. */
  #separator(close: number, what: string): boolean {
    this.#ws();
    const c = this.#s.charCodeAt(this.#pos);
    if (c === close) {
      this.#pos++;
      return true;
    }
    if (c !== 0x2c) fail(`expected ',' or '${String.fromCharCode(close)}' in ${what}, got ${this.#show()}`, this.#pos);
    this.#pos++;
    this.#ws();
    if (this.#s.charCodeAt(this.#pos) === close) {
      this.#pos++;
      return true;
    }
    return false;
  }

  /** `()`, `(x)` (grouping), `(x,)`, `(x, y...)`. */
  #paren(depth: number): unknown {
    const d = this.#enter(depth);
    const s = this.#s;
    if (s.charCodeAt(this.#pos) === 0x29) {
      this.#pos++;
      this.#unhashable = undefined;
      return [];
    }
    const first = this.#value(d);
    this.#ws();
    if (s.charCodeAt(this.#pos) === 0x29) {
      // A parenthesised value, not a tuple: it was counted as a container, which only over-counts.
      this.#pos++;
      return first;
    }
    const items: unknown[] = [first];
    let unhashable = this.#unhashable;
    if (!this.#separator(0x29, "a tuple")) {
      for (;;) {
        items.push(this.#value(d));
        unhashable ??= this.#unhashable;
        if (this.#separator(0x29, "a tuple")) break;
      }
    }
    // A tuple is hashable only when its items are.
    this.#unhashable = unhashable;
    return items;
  }

  #list(depth: number): unknown[] {
    const d = this.#enter(depth);
    const items: unknown[] = [];
    if (this.#s.charCodeAt(this.#pos) === 0x5d) this.#pos++;
    else {
      for (;;) {
        items.push(this.#value(d));
        if (this.#separator(0x5d, "a list")) break;
      }
    }
    this.#unhashable = "list";
    return items;
  }

  #key(d: number, what: string): unknown {
    const at = this.#pos;
    const k = this.#value(d);
    if (this.#unhashable) fail(`unhashable type '${this.#unhashable}' as ${what}`, at);
    return k;
  }

  /** `{}` (dict), `{k: v, ...}` (dict) or `{x, ...}` (set). */
  #brace(depth: number): unknown {
    const d = this.#enter(depth);
    const s = this.#s;
    if (s.charCodeAt(this.#pos) === 0x7d) {
      this.#pos++;
      return this.#finishDict([], []);
    }
    const first = this.#key(d, "a dict key or set element");
    this.#ws();
    if (s.charCodeAt(this.#pos) !== 0x3a) {
      const set = new Set<unknown>([first]);
      if (!this.#separator(0x7d, "a set")) {
        for (;;) {
          set.add(this.#key(d, "a set element"));
          if (this.#separator(0x7d, "a set")) break;
        }
      }
      this.#unhashable = "set";
      return set;
    }
    const keys: unknown[] = [];
    const values: unknown[] = [];
    let k = first;
    for (;;) {
      this.#ws();
      if (s.charCodeAt(this.#pos) !== 0x3a) fail(`expected ':' in a dict, got ${this.#show()}`, this.#pos);
      this.#pos++;
      this.#ws();
      keys.push(k);
      values.push(this.#value(d));
      if (this.#separator(0x7d, "a dict")) break;
      k = this.#key(d, "a dict key");
    }
    return this.#finishDict(keys, values);
  }

  #finishDict(keys: unknown[], values: unknown[]): unknown {
    this.#unhashable = "dict";
    const o = pythonDict(keys, values);
    if (o instanceof Map) return o;
    if (this.#bytes && keys.length === 2) {
      const b = serpentBytes(o);
      if (b) {
        this.#unhashable = undefined;
        return b;
      }
    }
    if (Object.prototype.hasOwnProperty.call(o, "__class__")) {
      const cls = o.__class__;
      const v = this.#hook(typeof cls === "string" ? cls : "", o);
      this.#unhashable = v === o ? "dict" : undefined;
      return v;
    }
    return o;
  }

  /** A number, a signed number, or the complex sum `real+imagj` / `real-imagj`. */
  #numberExpr(): unknown {
    const start = this.#pos;
    const real = this.#signed();
    const save = this.#pos;
    this.#ws();
    const op = this.#s.charCodeAt(this.#pos);
    if ((op === 0x2b || op === 0x2d) && !(real instanceof PyComplex)) {
      this.#pos++;
      this.#ws();
      const c = this.#s.charCodeAt(this.#pos);
      if ((c >= 0x30 && c <= 0x39) || c === 0x2e) {
        const imag = this.#number();
        if (!(imag instanceof PyComplex)) fail("only a complex number may follow '+' or '-'", start);
        const r = typeof real === "bigint" ? Number(real) : (real as number);
        return new PyComplex(r + (op === 0x2b ? imag.real : -imag.real), op === 0x2b ? imag.imag : -imag.imag);
      }
      fail("'+' and '-' only join the parts of a complex number", save);
    }
    this.#pos = save;
    return real;
  }

  #signed(): number | bigint | PyComplex {
    const c = this.#s.charCodeAt(this.#pos);
    if (c !== 0x2b && c !== 0x2d) return this.#number();
    this.#pos++;
    this.#ws();
    const n = this.#number();
    if (c === 0x2b) return n;
    if (n instanceof PyComplex) return new PyComplex(-n.real, -n.imag);
    // An int has no negative zero: -0 is 0 (while the float -0.0 keeps its sign).
    if (n === 0 && this.#wasInt) return 0;
    return -n;
  }

  #number(): number | bigint | PyComplex {
    const s = this.#s;
    const start = this.#pos;
    DIGITS.lastIndex = start;
    const m = DIGITS.exec(s);
    if (!m) fail(`expected a number, got ${this.#show()}`, start);
    let t = m[0];
    this.#pos = start + t.length;
    const after = s.charCodeAt(this.#pos);
    if ((after >= 0x30 && after <= 0x39) || (after >= 0x41 && after <= 0x5a) || (after >= 0x61 && after <= 0x7a) || after === 0x5f || after === 0x2e) {
      fail(`malformed number '${s.slice(start, Math.min(this.#pos + 1, start + 40))}'`, start);
    }
    if (t.length > this.#lim.maxIntDigits + 32) fail(`number longer than ${this.#lim.maxIntDigits} digits (limits.maxIntDigits)`, start);
    if (t.includes("_")) t = t.replace(/_/g, "");
    this.#wasInt = false;
    const c1 = t.charCodeAt(1) | 0x20;
    const radix = t.charCodeAt(0) === 0x30 ? (c1 === 0x78 ? 16 : c1 === 0x6f ? 8 : c1 === 0x62 ? 2 : 0) : 0;
    const last = t.charCodeAt(t.length - 1) | 0x20;
    if (last === 0x6a) {
      if (radix) fail(`malformed number '${t.slice(0, 40)}'`, start);
      return new PyComplex(0, Number(t.slice(0, -1)));
    }
    if (radix) {
      if (t.length - 2 > this.#lim.maxIntDigits) fail(`int longer than ${this.#lim.maxIntDigits} digits (limits.maxIntDigits)`, start);
      this.#wasInt = true;
      return narrow(BigInt(`0${String.fromCharCode(c1)}${t.slice(2)}`));
    }
    if (/^\d+$/.test(t)) {
      // Python 3 ints have no leading zeros (0777 is an error), except zero itself: 000.
      if (t.charCodeAt(0) === 0x30 && t.length > 1 && !/^0+$/.test(t)) fail(`leading zeros in an int '${t.slice(0, 40)}'`, start);
      if (t.length > this.#lim.maxIntDigits) fail(`int of ${t.length} digits exceeds the limit of ${this.#lim.maxIntDigits} (limits.maxIntDigits)`, start);
      this.#wasInt = true;
      return t.length <= 15 ? Number(t) : narrow(BigInt(t));
    }
    return Number(t);
  }

  /** One or more adjacent string literals (Python joins them); all str or all bytes. */
  #strings(): string | Uint8Array {
    const first = this.#string();
    const isBytes = typeof first !== "string";
    let parts: (string | number[])[] | undefined;
    for (;;) {
      const save = this.#pos;
      this.#ws();
      if (!this.#atString()) {
        this.#pos = save;
        break;
      }
      const at = this.#pos;
      const next = this.#string();
      if ((typeof next !== "string") !== isBytes) fail("cannot mix bytes and str literals", at);
      (parts ??= [first]).push(next);
    }
    if (!parts) return typeof first === "string" ? first : Uint8Array.from(first);
    if (!isBytes) return (parts as string[]).join("");
    return Uint8Array.from((parts as number[][]).flat());
  }

  #atString(): boolean {
    const s = this.#s;
    let i = this.#pos;
    for (let n = 0; n < 2; n++) {
      const c = s.charCodeAt(i) | 0x20;
      if (c === 0x72 || c === 0x75 || c === 0x62) i++;
      else break;
    }
    const q = s.charCodeAt(i);
    return q === 0x27 || q === 0x22;
  }

  /** One string literal with its prefix; bytes come back as byte values. */
  #string(): string | number[] {
    const s = this.#s;
    const start = this.#pos;
    let raw = false;
    let bytes = false;
    let i = start;
    for (;;) {
      const c = s.charCodeAt(i) | 0x20;
      if (c === 0x72) raw = true;
      else if (c === 0x62) bytes = true;
      else if (c !== 0x75) break;
      i++;
    }
    const prefix = s.slice(start, i).toLowerCase();
    if (prefix.length > 2 || (prefix.length === 2 && prefix !== "rb" && prefix !== "br")) fail(`invalid string prefix '${prefix}'`, start);
    const q = s[i] as string;
    const triple = s[i + 1] === q && s[i + 2] === q;
    const quote = triple ? q + q + q : q;
    i += quote.length;
    const bodyStart = i;
    // Fast path: no backslash before the closing quote, nothing to unescape. The scan
    // stops at the quote: searching the rest of the document per string would be quadratic.
    const close = s.indexOf(quote, i);
    if (close < 0) fail("unterminated string", start);
    let slash = -1;
    let newline = false;
    for (let k = i; k < close; k++) {
      const c = s.charCodeAt(k);
      if (c === 0x5c) {
        slash = k;
        break;
      }
      if (c === 0x0a || c === 0x0d) newline = true;
    }
    if (slash < 0 || raw) {
      const end = slash < 0 ? close : this.#rawEnd(bodyStart, quote, start);
      const body = s.slice(bodyStart, end);
      if (!triple && (newline || (slash >= 0 && /[\n\r]/.test(body)))) fail("newline inside a single-quoted string", start);
      this.#pos = end + quote.length;
      return bytes ? this.#asciiBytes(body, bodyStart) : body;
    }
    return bytes ? this.#escapedBytes(bodyStart, quote, triple, start) : this.#escapedStr(bodyStart, quote, triple, start);
  }

  /** End of a raw string's body: a backslash keeps the next character (a quote included) in the body. */
  #rawEnd(i: number, quote: string, start: number): number {
    const s = this.#s;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x5c) i += 2;
      else if (s.startsWith(quote, i)) return i;
      else i++;
    }
    return fail("unterminated string", start);
  }

  #asciiBytes(body: string, at: number): number[] {
    const out = new Array<number>(body.length);
    for (let k = 0; k < body.length; k++) {
      const c = body.charCodeAt(k);
      if (c > 0x7f) fail("bytes can only contain ASCII literal characters", at + k);
      out[k] = c;
    }
    return out;
  }

  /**
   * A str body with escapes. Unescaped runs are sliced whole; escaped code
   * units gather in an array flushed in blocks, so the result is built
   * from few pieces (one string per escape would cost GC time growing
   * faster than the input).
   */
  #escapedStr(i: number, quote: string, triple: boolean, start: number): string {
    const s = this.#s;
    const parts: string[] = [];
    const units: number[] = [];
    const flush = (): void => {
      for (let k = 0; k < units.length; k += 4096) parts.push(String.fromCharCode(...units.slice(k, k + 4096)));
      units.length = 0;
    };
    const text = (t: string): void => {
      if (t.length === 1) units.push(t.charCodeAt(0));
      else {
        flush();
        parts.push(t);
      }
    };
    let run = i;
    for (;;) {
      if (i >= s.length) fail("unterminated string", start);
      const c = s.charCodeAt(i);
      if (c === 0x5c) {
        if (run < i) {
          flush();
          parts.push(s.slice(run, i));
        }
        i = this.#escape(i, false, (cp) => units.push(cp), text);
        run = i;
      } else if (s.startsWith(quote, i)) {
        flush();
        if (run < i) parts.push(s.slice(run, i));
        this.#pos = i + quote.length;
        return parts.length === 1 ? (parts[0] as string) : parts.join("");
      } else if (!triple && (c === 0x0a || c === 0x0d)) fail("newline inside a single-quoted string", i);
      else i++;
    }
  }

  #escapedBytes(i: number, quote: string, triple: boolean, start: number): number[] {
    const s = this.#s;
    const out: number[] = [];
    for (;;) {
      if (i >= s.length) fail("unterminated bytes", start);
      const c = s.charCodeAt(i);
      if (c === 0x5c) {
        i = this.#escape(
          i,
          true,
          (b) => out.push(b),
          (text) => {
            for (let k = 0; k < text.length; k++) out.push(text.charCodeAt(k));
          },
        );
      } else if (s.startsWith(quote, i)) {
        this.#pos = i + quote.length;
        return out;
      } else if (!triple && (c === 0x0a || c === 0x0d)) fail("newline inside a single-quoted bytes literal", i);
      else if (c > 0x7f) fail("bytes can only contain ASCII literal characters", i);
      else {
        out.push(c);
        i++;
      }
    }
  }

  /**
   * One escape at `i` (a backslash). Emits a code unit or byte through
   * `unit`, or literal text through `text` (an unknown escape keeps its
   * backslash, as Python does). Returns the index after it.
   */
  #escape(i: number, bytes: boolean, unit: (n: number) => void, text: (t: string) => void): number {
    const s = this.#s;
    const e = s[i + 1];
    switch (e) {
      case undefined:
        return fail("unterminated string", i);
      case "\n":
        return i + 2;
      case "\r":
        return s[i + 2] === "\n" ? i + 3 : i + 2;
      case "\\":
      case "'":
      case '"':
        unit(e.charCodeAt(0));
        return i + 2;
      case "a":
        unit(7);
        return i + 2;
      case "b":
        unit(8);
        return i + 2;
      case "f":
        unit(12);
        return i + 2;
      case "n":
        unit(10);
        return i + 2;
      case "r":
        unit(13);
        return i + 2;
      case "t":
        unit(9);
        return i + 2;
      case "v":
        unit(11);
        return i + 2;
      case "x": {
        const h = s.slice(i + 2, i + 4);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) fail("truncated \\xXX escape", i);
        unit(parseInt(h, 16));
        return i + 4;
      }
      case "u":
      case "U":
      case "N": {
        if (bytes) {
          text(`\\${e}`);
          return i + 2;
        }
        if (e === "N") return fail("\\N{name} escapes are not supported (send the character itself)", i);
        const n = e === "u" ? 4 : 8;
        const h = s.slice(i + 2, i + 2 + n);
        if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) fail(`truncated \\${e} escape`, i);
        const cp = parseInt(h, 16);
        if (cp > 0x10ffff) fail("illegal Unicode character in \\U escape", i);
        text(String.fromCodePoint(cp));
        return i + 2 + n;
      }
      default: {
        if (e >= "0" && e <= "7") {
          let j = i + 1;
          let v = 0;
          while (j < i + 4 && s[j] !== undefined && (s[j] as string) >= "0" && (s[j] as string) <= "7") v = v * 8 + s.charCodeAt(j++) - 0x30;
          if (bytes && v > 0xff) fail("octal escape above \\377 in bytes", i);
          if (bytes) unit(v);
          else text(String.fromCodePoint(v));
          return j;
        }
        text(`\\`);
        return i + 1;
      }
    }
  }
}

/** Ints inside the safe range are numbers; only bigger ones stay BigInt. */
function narrow(n: bigint): number | bigint {
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}
