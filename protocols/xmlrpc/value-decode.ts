/**
 * `<value>` elements -> JavaScript values.
 *
 * | XML-RPC | JavaScript |
 * |---|---|
 * | int, i4 (and i1, i2) | number (BigInt past 2^53, which only lenient peers send) |
 * | i8, biginteger | BigInt |
 * | boolean | boolean |
 * | string, untyped text | string |
 * | double (and float, bigdecimal) | number |
 * | dateTime.iso8601 | Date (zone-less = UTC) |
 * | base64 | Uint8Array |
 * | struct | plain object (own data properties only, so `__proto__` is just a key) |
 * | array | Array |
 * | nil, ex:nil | null |
 */
import { invalid, limitExceeded } from "./codec-error.js";
import { decodeBase64 } from "./base64.js";
import { parseDateTime } from "./iso8601.js";
import { elementsOf, textOf, type XmlElement } from "./xml-parse.js";

const INT = /^[+-]?\d+$/;
const DOUBLE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_DOUBLE: Record<string, number> = {
  inf: Infinity, "+inf": Infinity, "-inf": -Infinity, infinity: Infinity, "+infinity": Infinity, "-infinity": -Infinity,
  nan: NaN, "+nan": NaN, "-nan": NaN,
};
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Digits accepted in a <biginteger>: BigInt parsing is superlinear, so a hostile megabyte of digits is refused. */
const MAX_BIG_DIGITS = 4096;
/** Characters accepted in a <double>: the longest exact decimal of a double is 767 significant digits. */
const MAX_DOUBLE_CHARS = 1100;

/** What {@link decodeValue} enforces besides the document-level limits. */
export interface ValueLimits {
  /** Longest string or member name (characters) and largest base64 value (bytes). Default: unbounded. */
  readonly maxStringLength?: number;
  /** Read dateTime values without a zone as this process's local time instead of UTC (see EncodeOptions.localTime). */
  readonly localTime?: boolean;
}

// Set for the length of one synchronous decodeValue call (the walk below does not re-enter it).
let localTime = false;

function checkLength(length: number, max: number, what: string): void {
  if (length > max) throw limitExceeded("maxStringLength", max, `a ${what} of ${length} ${what === "<base64> value" ? "bytes" : "characters"} is too long`);
}

function parseInteger(el: XmlElement): number | bigint {
  const s = textOf(el).trim();
  if (!INT.test(s) || s.length > 32) throw invalid(`bad <${el.name}> value ${JSON.stringify(s.slice(0, 40))}`);
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : BigInt(s);
}

function parseBig(el: XmlElement, int64: boolean): bigint {
  const s = textOf(el).trim();
  if (!INT.test(s) || s.length > MAX_BIG_DIGITS) throw invalid(`bad <${el.name}> value ${JSON.stringify(s.slice(0, 40))}`);
  const v = BigInt(s);
  if (int64 && (v < INT64_MIN || v > INT64_MAX)) throw invalid(`<${el.name}> value out of the 64-bit range: ${s}`);
  return v;
}

function parseDouble(el: XmlElement): number {
  const s = textOf(el).trim();
  // Length first: DOUBLE backtracks quadratically on a long run of digits that does not match.
  if (s.length <= MAX_DOUBLE_CHARS && DOUBLE.test(s)) return Number(s);
  const special = SPECIAL_DOUBLE[s.toLowerCase()];
  if (special !== undefined) return special;
  throw invalid(`bad <${el.name}> value ${JSON.stringify(s.slice(0, 40))}`);
}

function parseBoolean(el: XmlElement): boolean {
  const s = textOf(el).trim().toLowerCase();
  if (s === "1" || s === "true") return true;
  if (s === "0" || s === "false") return false;
  throw invalid(`bad <boolean> value ${JSON.stringify(s.slice(0, 40))}`);
}

function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment: a member named "__proto__" must stay a plain key.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function parseStruct(el: XmlElement, max: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const member of elementsOf(el)) {
    if (member.name !== "member") throw invalid(`<struct> holds <${member.name}>, expected <member>`);
    let name: string | undefined;
    let value: XmlElement | undefined;
    for (const part of elementsOf(member)) {
      if (part.name === "name" && name === undefined) {
        name = textOf(part);
        checkLength(name.length, max, "member name");
      }
      else if (part.name === "value" && value === undefined) value = part;
      else throw invalid(`<member> holds an unexpected <${part.name}>`);
    }
    if (name === undefined || value === undefined) throw invalid("a <member> needs one <name> and one <value>");
    setKey(out, name, decodeWithin(value, max));
  }
  return out;
}

function parseArray(el: XmlElement, max: number): unknown[] {
  const kids = elementsOf(el);
  const data = kids[0];
  if (!data || kids.length !== 1 || data.name !== "data") throw invalid("<array> must hold exactly one <data>");
  return elementsOf(data).map((v) => {
    if (v.name !== "value") throw invalid(`<data> holds <${v.name}>, expected <value>`);
    return decodeWithin(v, max);
  });
}

function parseNil(el: XmlElement): null {
  if (textOf(el).trim() !== "") throw invalid("<nil/> must be empty");
  return null;
}

function stringOf(el: XmlElement, max: number): string {
  const s = textOf(el);
  checkLength(s.length, max, "string");
  return s;
}

/**
 * Decode one `<value>` element. Throws `PROTOCOL_ERROR` (fault -32600) for
 * anything off the spec, `PAYLOAD_TOO_LARGE` for a string over
 * `limits.maxStringLength`.
 */
export function decodeValue(value: XmlElement, limits: ValueLimits = {}): unknown {
  localTime = limits.localTime === true;
  try {
    return decodeWithin(value, limits.maxStringLength ?? Infinity);
  } finally {
    localTime = false;
  }
}

function decodeWithin(value: XmlElement, max: number): unknown {
  if (!value.children.some((c) => "name" in c)) return stringOf(value, max); // untyped: a string
  const kids = elementsOf(value);
  const typed = kids[0] as XmlElement;
  if (kids.length > 1) throw invalid(`<value> holds more than one type (<${typed.name}>, <${(kids[1] as XmlElement).name}>)`);
  switch (typed.name) {
    case "string":
      return stringOf(typed, max);
    case "int":
    case "i4":
    case "i1":
    case "i2":
    case "ex:i1":
    case "ex:i2":
      return parseInteger(typed);
    case "i8":
    case "ex:i8":
      return parseBig(typed, true);
    case "biginteger":
    case "ex:biginteger":
      return parseBig(typed, false);
    case "boolean":
      return parseBoolean(typed);
    case "double":
    case "float":
    case "bigdecimal":
    case "ex:float":
    case "ex:bigdecimal":
      return parseDouble(typed);
    case "dateTime.iso8601":
      return parseDateTime(textOf(typed), localTime);
    case "base64": {
      const bytes = decodeBase64(textOf(typed));
      checkLength(bytes.length, max, "<base64> value");
      return bytes;
    }
    case "struct":
      return parseStruct(typed, max);
    case "array":
      return parseArray(typed, max);
    case "nil":
    case "ex:nil":
      return parseNil(typed);
    default:
      throw invalid(`unknown XML-RPC type <${typed.name.slice(0, 40)}>`);
  }
}
