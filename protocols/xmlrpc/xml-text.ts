/**
 * Character data: escaping for output, and resolving entity and character
 * references with nothing but the five predefined entities: DOCTYPE
 * entities are never expanded.
 */
import { FaultCodes, excerpt, invalid, unencodable } from "./codec-error.js";

// Characters XML 1.0 cannot carry at all (not even as references), and lone surrogates.
const INVALID_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NEEDS_ESCAPE = /[&<>\r]/;
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;" };

/** True when XML 1.0 can carry `s` (no NUL or other C0 controls but tab/LF/CR, no lone surrogates, no U+FFFE/U+FFFF). */
export function isXmlText(s: string): boolean {
  return !INVALID_CHARS.test(s);
}

/**
 * Escape text for element content. `\r` becomes `&#13;` so it survives the
 * line-end normalisation every XML parser applies. Throws `SERIALIZE_ERROR`
 * for characters XML cannot carry.
 */
export function escapeText(s: string, what = "string"): string {
  if (INVALID_CHARS.test(s)) {
    const bad = INVALID_CHARS.exec(s);
    const cp = bad ? (bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0") : "?";
    throw unencodable(`a ${what} holds U+${cp}, which XML 1.0 (and so XML-RPC) cannot carry; send it as bytes (Uint8Array -> base64)`);
  }
  return NEEDS_ESCAPE.test(s) ? s.replace(/[&<>\r]/g, (c) => ESCAPES[c] as string) : s;
}

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const REFERENCE = /&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z_][\w.-]*)?;?/g;

function isXmlCodePoint(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Replace entity and character references in parsed character data; anything but the predefined five is refused. */
export function decodeReferences(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(REFERENCE, (m, ref: string | undefined) => {
    if (ref === undefined || !m.endsWith(";")) throw invalid(`a bare '&' in character data near ${JSON.stringify(excerpt(m))}`, FaultCodes.NOT_WELL_FORMED);
    if (ref.startsWith("#")) {
      const cp = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!isXmlCodePoint(cp)) throw invalid(`character reference ${excerpt(m)} is not an XML character`, FaultCodes.INVALID_CHARACTER);
      return String.fromCodePoint(cp);
    }
    const v = Object.prototype.hasOwnProperty.call(PREDEFINED, ref) ? PREDEFINED[ref] : undefined;
    if (v === undefined) throw invalid(`entity '&${excerpt(ref, 40)};' is not allowed: XML-RPC documents use only the predefined entities`, FaultCodes.NOT_WELL_FORMED);
    return v;
  });
}
