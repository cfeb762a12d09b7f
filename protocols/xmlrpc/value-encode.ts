/**
 * JavaScript values -> `<value>` elements.
 *
 * | JavaScript | XML-RPC |
 * |---|---|
 * | integer number in the 32-bit range | `<int>` |
 * | other number (fractions, integers past 32 bits, -0) | `<double>` (NaN and ±Infinity as `nan`, `inf`, `-inf`, like Python) |
 * | BigInt in the 64-bit range | `<i8>` (outside it: `SERIALIZE_ERROR`) |
 * | boolean | `<boolean>` |
 * | string | `<string>` (characters XML cannot carry: `SERIALIZE_ERROR`) |
 * | Date | `<dateTime.iso8601>`, UTC, whole seconds |
 * | Uint8Array, ArrayBuffer, other ArrayBuffer views | `<base64>` |
 * | Array, Set | `<array>` |
 * | plain object, class instance (own enumerable string keys), Map with string keys | `<struct>`; `undefined` members are left out |
 * | object with `toJSON()` | what `toJSON()` returns |
 * | null, undefined | `<nil/>` when `allowNone` (default), else `SERIALIZE_ERROR` |
 * | function, symbol | `SERIALIZE_ERROR` |
 */
import { unencodable } from "./codec-error.js";
import { encodeBase64 } from "./base64.js";
import { formatDateTime } from "./iso8601.js";
import { escapeText } from "./xml-text.js";

export interface EncodeOptions {
  /** Send null/undefined as the `<nil/>` extension (Python's `allow_none`). Default true. */
  allowNone?: boolean;
  /** Deepest nesting of arrays and structs; deeper (or cyclic) values are a `SERIALIZE_ERROR`. Default 64. */
  maxDepth?: number;
  /**
   * XML-RPC's dateTime has no time zone. Default false: Dates are written
   * in UTC and zone-less values read as UTC. true: both in this process's
   * local time, which is what a Python peer using naive local datetimes
   * (`datetime.now()`) in the same zone means. Set it on both sides'
   * wirecall ends alike.
   */
  localTime?: boolean;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function encodeDouble(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (Object.is(v, -0)) return "-0.0";
  return String(v);
}

class Encoder {
  readonly #allowNone: boolean;
  readonly #maxDepth: number;
  readonly #localTime: boolean;
  readonly #parts: string[] = [];
  readonly #stack = new Set<object>();

  constructor(options: EncodeOptions) {
    this.#allowNone = options.allowNone ?? true;
    this.#maxDepth = options.maxDepth ?? 64;
    this.#localTime = options.localTime === true;
  }

  result(): string {
    return this.#parts.join("");
  }

  value(v: unknown): void {
    const p = this.#parts;
    switch (typeof v) {
      case "string":
        p.push("<value><string>", escapeText(v), "</string></value>");
        return;
      case "number":
        if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX && !Object.is(v, -0)) p.push("<value><int>", String(v), "</int></value>");
        else p.push("<value><double>", encodeDouble(v), "</double></value>");
        return;
      case "boolean":
        p.push(v ? "<value><boolean>1</boolean></value>" : "<value><boolean>0</boolean></value>");
        return;
      case "bigint":
        if (v < INT64_MIN || v > INT64_MAX) throw unencodable(`BigInt ${v} does not fit XML-RPC's 64-bit <i8>`);
        p.push("<value><i8>", String(v), "</i8></value>");
        return;
      case "undefined":
        this.#nil("undefined");
        return;
      case "function":
      case "symbol":
        throw unencodable(`a ${typeof v} cannot be sent over XML-RPC`);
      default:
        break;
    }
    if (v === null) return this.#nil("null");
    this.#object(v as object);
  }

  #nil(what: string): void {
    if (!this.#allowNone) throw unencodable(`${what} cannot be sent: the <nil/> extension is off (allowNone: false)`);
    this.#parts.push("<value><nil/></value>");
  }

  #object(o: object): void {
    const p = this.#parts;
    if (o instanceof Date) {
      p.push("<value><dateTime.iso8601>", formatDateTime(o, this.#localTime), "</dateTime.iso8601></value>");
      return;
    }
    if (o instanceof Uint8Array) {
      p.push("<value><base64>", encodeBase64(o), "</base64></value>");
      return;
    }
    if (o instanceof ArrayBuffer) {
      p.push("<value><base64>", encodeBase64(new Uint8Array(o)), "</base64></value>");
      return;
    }
    if (ArrayBuffer.isView(o)) {
      p.push("<value><base64>", encodeBase64(new Uint8Array(o.buffer, o.byteOffset, o.byteLength)), "</base64></value>");
      return;
    }
    const toJSON = (o as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") {
      this.value(toJSON.call(o));
      return;
    }
    if (this.#stack.has(o)) throw unencodable("a cyclic value cannot be sent over XML-RPC");
    if (this.#stack.size >= this.#maxDepth) throw unencodable(`values nest deeper than ${this.#maxDepth} arrays/structs`);
    this.#stack.add(o);
    if (Array.isArray(o) || o instanceof Set) {
      p.push("<value><array><data>");
      // Array.from turns holes into undefined (sent as nil), like JSON turns them into null.
      for (const item of Array.isArray(o) ? Array.from(o) : o) this.value(item);
      p.push("</data></array></value>");
    } else if (o instanceof Map) {
      p.push("<value><struct>");
      for (const [k, val] of o) {
        if (typeof k !== "string") throw unencodable("a Map needs string keys to become an XML-RPC struct");
        this.#member(k, val);
      }
      p.push("</struct></value>");
    } else {
      p.push("<value><struct>");
      for (const k of Object.keys(o)) this.#member(k, (o as Record<string, unknown>)[k]);
      p.push("</struct></value>");
    }
    this.#stack.delete(o);
  }

  #member(name: string, v: unknown): void {
    if (v === undefined) return;
    this.#parts.push("<member><name>", escapeText(name, "struct member name"), "</name>");
    this.value(v);
    this.#parts.push("</member>");
  }
}

/** Encode one value as a `<value>` element. Throws `SERIALIZE_ERROR` for what XML-RPC cannot carry. */
export function encodeValue(v: unknown, options: EncodeOptions = {}): string {
  const e = new Encoder(options);
  e.value(v);
  return e.result();
}
