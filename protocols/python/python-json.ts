/**
 * JSON as Python's `json` module writes and reads it: `NaN`, `Infinity` and
 * `-Infinity` are numbers, integers have any size (BigInt beyond the safe
 * range), and a `"__proto__"` key stays an ordinary key.
 */
import { RpcError } from "../../src/errors.js";
import { decodeLimitError, encodeLimitError, resolvePickleLimits, type PickleLimits } from "./pickle-limits.js";

function bad(message: string): never {
  throw new RpcError("PROTOCOL_ERROR", `json: ${message}`);
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const MAX_INT_DIGITS = 4300; // Python's own default limit for int <-> str

/**
 * Parse JSON text as Python's `json.dumps` writes it. Throws `RpcError`
 * `PROTOCOL_ERROR`, also past `maxDepth` (a number, or `limits.maxDepth`),
 * `limits.maxObjects` (arrays and objects) or `limits.maxElements` (values).
 */
export function parsePythonJson(text: string, limits: number | Partial<PickleLimits> = {}): unknown {
  const lim = typeof limits === "number" ? { ...resolvePickleLimits(undefined), maxDepth: limits } : resolvePickleLimits(limits);
  const p = new Parser(text, lim);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.pos !== text.length) bad(`unexpected text at offset ${p.pos}`);
  return v;
}

class Parser {
  pos = 0;
  readonly maxDepth: number;
  /** Containers and values that may still be made (counted down): `[{},{},...]` costs 56 bytes of heap per 3 bytes of text. */
  #objects: number;
  #elements: number;

  constructor(
    readonly s: string,
    readonly lim: PickleLimits,
  ) {
    this.maxDepth = lim.maxDepth;
    this.#objects = lim.maxObjects;
    this.#elements = lim.maxElements;
  }

  #object(): void {
    if (--this.#objects < 0) throw decodeLimitError("json: arrays and objects", "maxObjects", this.lim.maxObjects);
  }

  ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.pos++;
    }
  }

  value(depth: number): unknown {
    if (--this.#elements < 0) throw decodeLimitError("json: values", "maxElements", this.lim.maxElements);
    const s = this.s;
    const c = s[this.pos];
    switch (c) {
      case "{":
        return this.object(depth + 1);
      case "[":
        return this.array(depth + 1);
      case '"':
        return this.string();
      case "t":
        return this.word("true", true);
      case "f":
        return this.word("false", false);
      case "n":
        return this.word("null", null);
      case "N":
        return this.word("NaN", NaN);
      case "I":
        return this.word("Infinity", Infinity);
      default:
        if (c === "-" && s.startsWith("-Infinity", this.pos)) return this.word("-Infinity", -Infinity);
        return this.number();
    }
  }

  word<T>(w: string, v: T): T {
    if (!this.s.startsWith(w, this.pos)) bad(`unexpected token at offset ${this.pos}`);
    this.pos += w.length;
    return v;
  }

  number(): number | bigint {
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.s);
    if (!m) return bad(`unexpected token at offset ${this.pos}`);
    this.pos += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      if (m[0].length > MAX_INT_DIGITS) bad("int too large");
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }

  string(): string {
    // JSON.parse does the unescaping; find the closing quote first.
    const s = this.s;
    let i = this.pos + 1;
    for (;;) {
      const q = s.indexOf('"', i);
      if (q < 0) bad("unterminated string");
      let bs = 0;
      for (let k = q - 1; k > this.pos && s[k] === "\\"; k--) bs++;
      if (bs % 2 === 0) {
        const raw = s.slice(this.pos, q + 1);
        this.pos = q + 1;
        try {
          return JSON.parse(raw) as string;
        } catch {
          return bad("malformed string");
        }
      }
      i = q + 1;
    }
  }

  array(depth: number): unknown[] {
    if (depth > this.maxDepth) throw decodeLimitError("json: nesting levels", "maxDepth", this.maxDepth);
    this.#object();
    this.pos++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.pos++];
      if (c === "]") return out;
      if (c !== ",") bad(`expected ',' or ']' at offset ${this.pos - 1}`);
    }
  }

  object(depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) throw decodeLimitError("json: nesting levels", "maxDepth", this.maxDepth);
    this.#object();
    this.pos++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== '"') bad(`expected a key at offset ${this.pos}`);
      const key = this.string();
      this.ws();
      if (this.s[this.pos++] !== ":") bad(`expected ':' at offset ${this.pos - 1}`);
      this.ws();
      const v = this.value(depth);
      if (key === "__proto__") Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.ws();
      const c = this.s[this.pos++];
      if (c === "}") return out;
      if (c !== ",") bad(`expected ',' or '}' at offset ${this.pos - 1}`);
    }
  }
}

function refuse(message: string): never {
  throw new RpcError("SERIALIZE_ERROR", `json: ${message}`);
}

function base64(b: Uint8Array): string {
  const B = (globalThis as { Buffer?: { from(a: ArrayBufferLike, o: number, l: number): { toString(e: string): string } } }).Buffer;
  if (B) return B.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * JSON text that Python's `json.loads` reads back to the same value: BigInt
 * as digits, NaN/Infinity as Python writes them, Uint8Array as a base64
 * string (as wirecall's `json` serializer does), Set as a list, Map keys as
 * strings. Throws `RpcError` `SERIALIZE_ERROR` for functions, symbols and
 * recursive structures, `PAYLOAD_TOO_LARGE` when the text would outgrow
 * `limits.maxEncodedSize` characters or visit more than
 * `limits.maxEncodedValues` values (a value reachable twice is written twice).
 */
export function stringifyPythonJson(value: unknown, maxDepth = 200, limits?: Partial<PickleLimits>): string {
  const lim = resolvePickleLimits(limits);
  const parts: string[] = [];
  const active = new Set<object>();
  let values = lim.maxEncodedValues;
  let size = 0;
  let measured = 0;
  // Checked per value rather than per part: a value adds a bounded number of parts besides its own text.
  const grown = (): void => {
    for (let i = measured; i < parts.length; i++) size += (parts[i] as string).length;
    measured = parts.length;
    if (size > lim.maxEncodedSize) throw encodeLimitError(`json: ${size} characters and more`, "maxEncodedSize", lim.maxEncodedSize);
  };
  const write = (v: unknown, depth: number): void => {
    if (--values < 0) throw encodeLimitError("json: values", "maxEncodedValues", lim.maxEncodedValues);
    grown();
    switch (typeof v) {
      case "undefined":
        parts.push("null");
        return;
      case "boolean":
        parts.push(v ? "true" : "false");
        return;
      case "number":
        parts.push(Number.isFinite(v) ? String(v) : Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        return;
      case "bigint":
        parts.push(v.toString());
        return;
      case "string":
        parts.push(JSON.stringify(v));
        return;
      case "object":
        break;
      default:
        refuse(`cannot encode a ${typeof v}`);
    }
    if (v === null) return void parts.push("null");
    if (v instanceof Uint8Array) return void parts.push(JSON.stringify(base64(v)));
    if (v instanceof Date) return void parts.push(JSON.stringify(Number.isNaN(v.getTime()) ? null : v.toISOString()));
    if (active.has(v)) refuse("recursive structures cannot be encoded");
    if (depth >= maxDepth) refuse(`nesting deeper than ${maxDepth}`);
    active.add(v);
    if (Array.isArray(v) || v instanceof Set) {
      parts.push("[");
      let first = true;
      for (const x of v) {
        if (!first) parts.push(", ");
        first = false;
        write(x, depth + 1);
      }
      parts.push("]");
    } else if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
      active.delete(v);
      return write((v as { toJSON(): unknown }).toJSON(), depth + 1);
    } else {
      const entries: Iterable<readonly [unknown, unknown]> =
        v instanceof Map ? v : Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]] as const);
      parts.push("{");
      let first = true;
      for (const [k, x] of entries) {
        if (typeof x === "function" || typeof x === "symbol") continue;
        if (!first) parts.push(", ");
        first = false;
        parts.push(JSON.stringify(typeof k === "string" ? k : keyText(k)), ": ");
        write(x, depth + 1);
      }
      parts.push("}");
    }
    active.delete(v);
  };
  write(value, 0);
  grown();
  return parts.join("");
}

/** Map keys as Python's json.dumps turns dict keys into strings. */
function keyText(k: unknown): string {
  if (typeof k === "number" || typeof k === "bigint") return String(k);
  if (k === true || k === false) return String(k);
  if (k === null || k === undefined) return "null";
  return refuse("dict keys must be str, int, float, bool or None");
}
