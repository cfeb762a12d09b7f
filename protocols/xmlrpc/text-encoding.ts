/**
 * Bytes -> document text. The XML declaration's `encoding` is honoured
 * (Python's `ServerProxy(encoding=...)` sends ISO-8859-1 documents); UTF-8 is
 * the default, and bytes that are not valid in the declared encoding are a
 * fault -32702 rather than silently replaced.
 */
import { FaultCodes, excerpt, invalid } from "./codec-error.js";

const DECLARATION = /^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/;

function decoder(label: string): TextDecoder {
  try {
    return new TextDecoder(label, { fatal: true });
  } catch {
    throw invalid(`unsupported document encoding '${excerpt(label, 40)}'`, FaultCodes.UNSUPPORTED_ENCODING);
  }
}

/** Decode a document's bytes to text, following its BOM or XML declaration. */
export function decodeXmlBytes(bytes: Uint8Array): string {
  let label = "utf-8";
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) label = "utf-16le";
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) label = "utf-16be";
  else {
    // The declaration is ASCII in every encoding we accept; peek at it as latin1.
    const head = new TextDecoder("latin1").decode(bytes.subarray(0, 200));
    const m = DECLARATION.exec(head);
    if (m) label = (m[1] as string).toLowerCase();
  }
  try {
    const text = decoder(label).decode(start ? bytes.subarray(start) : bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (err) {
    if ((err as { code?: unknown })?.code === "PROTOCOL_ERROR") throw err;
    throw invalid(`the document is not valid ${label}`, FaultCodes.INVALID_CHARACTER);
  }
}
