/**
 * The XML layer: one linear scan that checks well-formedness, refuses every
 * declaration (DOCTYPE, ENTITY, ...) and processing instruction wherever it
 * stands, bounds depth and the number of elements as it goes, and builds the
 * tree of elements. Entity references are resolved later by xml-text.ts,
 * which knows only the five predefined entities.
 *
 * XML-RPC needs a small part of XML (elements, character data, references,
 * CDATA, comments), so this scanner is written for that part: it costs a
 * few tens of nanoseconds per element and stops at the first element over
 * the budget, before the rest of the document costs anything.
 */
import { FaultCodes, excerpt, invalid, limitExceeded } from "./codec-error.js";
import { decodeReferences, isXmlText } from "./xml-text.js";

/** An element as the decoder sees it: name and children (elements, text, CDATA), in document order. */
export interface XmlElement {
  readonly name: string;
  readonly children: readonly XmlNode[];
}

/** A child node: an element, raw character data (references not yet resolved), or a CDATA section. */
export type XmlNode = XmlElement | { readonly text: string } | { readonly cdata: string };

interface MutableElement {
  readonly name: string;
  readonly children: XmlNode[];
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const EQUALS = 0x3d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

// XML's Name production, simplified: ASCII letters, '_' and ':' start a name,
// digits, '.' and '-' may follow; every non-ASCII character is accepted.
function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a || c >= 0x80;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d;
}

function notWellFormed(message: string): never {
  throw invalid(`not well-formed XML: ${message}`, FaultCodes.NOT_WELL_FORMED);
}

function refuseDeclaration(text: string, at: number): never {
  throw invalid(
    `DOCTYPE, ENTITY and other declarations are not allowed in XML-RPC documents (found ${JSON.stringify(excerpt(text.slice(at, at + 40), 30))})`,
    FaultCodes.NOT_WELL_FORMED,
  );
}

function refuseInstruction(text: string, at: number): never {
  throw invalid(
    `processing instructions are not allowed in XML-RPC documents (found ${JSON.stringify(excerpt(text.slice(at, at + 40), 30))})`,
    FaultCodes.NOT_WELL_FORMED,
  );
}

// XML-RPC's element names, indexed by first character: a name read from the
// document is one of these shared strings, not a fresh one per element.
const KNOWN_NAMES = new Map<number, readonly string[]>();
for (const n of [
  "value", "int", "i4", "i8", "string", "struct", "member", "name", "data", "array", "double", "boolean", "base64",
  "nil", "dateTime.iso8601", "params", "param", "methodName", "methodCall", "methodResponse", "fault",
]) {
  const c = n.charCodeAt(0);
  KNOWN_NAMES.set(c, [...(KNOWN_NAMES.get(c) ?? []), n]);
}

function knownName(text: string, start: number, end: number): string | undefined {
  const candidates = KNOWN_NAMES.get(text.charCodeAt(start));
  if (candidates === undefined) return undefined;
  const length = end - start;
  for (const n of candidates) if (n.length === length && text.startsWith(n, start)) return n;
  return undefined;
}

/** Limits the scanner enforces while it reads. */
export interface ParseLimits {
  /** Deepest element nesting (elements, not XML-RPC values). */
  readonly maxNestedTags: number;
  /** Elements in the whole document. Default: unbounded. */
  readonly maxElements?: number;
}

class Scanner {
  readonly #text: string;
  readonly #maxNested: number;
  readonly #maxElements: number;
  #pos = 0;
  #elements = 0;
  /** Set by #startTag: the tag just read was empty (`<x/>`). */
  #empty = false;

  constructor(text: string, limits: ParseLimits) {
    this.#text = text;
    this.#maxNested = limits.maxNestedTags;
    this.#maxElements = limits.maxElements ?? Infinity;
  }

  /** The root element; everything before and after it must be whitespace or comments. */
  document(): XmlElement {
    const t = this.#text;
    this.#skipSpace();
    // The XML declaration, the one processing instruction a document may start with.
    if (t.startsWith("<?xml", this.#pos) && isSpace(t.charCodeAt(this.#pos + 5))) {
      const end = t.indexOf("?>", this.#pos + 5);
      if (end < 0) notWellFormed("unterminated XML declaration");
      this.#pos = end + 2;
    }
    this.#misc();
    if (this.#pos >= t.length) notWellFormed(this.#pos === 0 ? "the document is empty" : "no root element");
    if (t.charCodeAt(this.#pos) !== LT || !isNameStart(t.charCodeAt(this.#pos + 1))) {
      notWellFormed(`expected the root element, found ${JSON.stringify(excerpt(t.slice(this.#pos, this.#pos + 40), 30))}`);
    }
    const root = this.#content();
    this.#misc();
    if (this.#pos < t.length) notWellFormed("a document needs exactly one root element; found more after it");
    return root;
  }

  #skipSpace(): void {
    const t = this.#text;
    while (this.#pos < t.length && isSpace(t.charCodeAt(this.#pos))) this.#pos++;
  }

  /** Whitespace and comments around the root element; any other markup there is refused. */
  #misc(): void {
    const t = this.#text;
    for (;;) {
      this.#skipSpace();
      if (this.#pos >= t.length || t.charCodeAt(this.#pos) !== LT) return;
      const next = t.charCodeAt(this.#pos + 1);
      if (next === BANG) {
        if (t.startsWith("<!--", this.#pos)) this.#comment();
        else refuseDeclaration(t, this.#pos);
      } else if (next === QUESTION) {
        refuseInstruction(t, this.#pos);
      } else {
        return;
      }
    }
  }

  #comment(): void {
    const t = this.#text;
    const start = this.#pos + 4;
    const end = t.indexOf("-->", start);
    if (end < 0) notWellFormed("unterminated comment");
    const dashes = t.indexOf("--", start);
    if (dashes < end) notWellFormed("'--' inside a comment");
    this.#pos = end + 3;
  }

  #name(): string {
    const t = this.#text;
    const start = this.#pos;
    if (!isNameStart(t.charCodeAt(start))) notWellFormed(`bad element or attribute name at ${JSON.stringify(excerpt(t.slice(start, start + 20), 20))}`);
    let i = start + 1;
    while (i < t.length && isNameChar(t.charCodeAt(i))) i++;
    this.#pos = i;
    return knownName(t, start, i) ?? t.slice(start, i);
  }

  /** The start tag at `#pos` (at its '<'); sets `#empty` for `<x/>`. */
  #startTag(): MutableElement {
    const t = this.#text;
    if (++this.#elements > this.#maxElements) {
      throw limitExceeded("maxElements", this.#maxElements, `the document has more than ${this.#maxElements} elements`);
    }
    this.#pos++;
    const name = this.#name();
    let attrs: string[] | undefined;
    for (;;) {
      const before = this.#pos;
      this.#skipSpace();
      const c = t.charCodeAt(this.#pos);
      if (c === GT) {
        this.#pos++;
        this.#empty = false;
        return { name, children: [] };
      }
      if (c === SLASH && t.charCodeAt(this.#pos + 1) === GT) {
        this.#pos += 2;
        this.#empty = true;
        return { name, children: [] };
      }
      if (this.#pos === before || this.#pos >= t.length) notWellFormed(`malformed start tag <${excerpt(name, 40)}>`);
      // Attributes are checked for well-formedness and then ignored: XML-RPC has none.
      const attr = this.#name();
      if ((attrs ??= []).includes(attr)) notWellFormed(`attribute '${excerpt(attr, 40)}' appears twice in <${excerpt(name, 40)}>`);
      attrs.push(attr);
      this.#skipSpace();
      if (t.charCodeAt(this.#pos) !== EQUALS) notWellFormed(`attribute '${excerpt(attr, 40)}' has no value`);
      this.#pos++;
      this.#skipSpace();
      const quote = t.charCodeAt(this.#pos);
      if (quote !== 0x22 && quote !== 0x27) notWellFormed(`attribute '${excerpt(attr, 40)}' needs a quoted value`);
      const close = t.indexOf(quote === 0x22 ? '"' : "'", this.#pos + 1);
      if (close < 0) notWellFormed(`unterminated value of attribute '${excerpt(attr, 40)}'`);
      const lt = t.indexOf("<", this.#pos + 1);
      if (lt >= 0 && lt < close) notWellFormed(`'<' in the value of attribute '${excerpt(attr, 40)}'`);
      this.#pos = close + 1;
    }
  }

  /** The element starting at `#pos` and everything up to its end tag, without recursion. */
  #content(): XmlElement {
    const t = this.#text;
    const first = this.#startTag();
    if (this.#empty) return first;
    const stack: MutableElement[] = [first];
    for (;;) {
      const top = stack[stack.length - 1] as MutableElement;
      const lt = t.indexOf("<", this.#pos);
      if (lt < 0) notWellFormed(`<${excerpt(top.name, 40)}> is never closed`);
      if (lt > this.#pos) {
        const raw = t.slice(this.#pos, lt);
        if (raw.includes("]]>")) notWellFormed("']]>' in character data");
        top.children.push({ text: raw });
        this.#pos = lt;
      }
      const next = t.charCodeAt(lt + 1);
      if (next === SLASH) {
        this.#pos = lt + 2;
        const name = this.#name();
        this.#skipSpace();
        if (t.charCodeAt(this.#pos) !== GT) notWellFormed(`malformed end tag </${excerpt(name, 40)}>`);
        this.#pos++;
        if (name !== top.name) notWellFormed(`</${excerpt(name, 40)}> closes <${excerpt(top.name, 40)}>`);
        stack.pop();
        if (stack.length === 0) return top;
      } else if (next === BANG) {
        if (t.startsWith("<!--", lt)) {
          this.#comment();
        } else if (t.startsWith("<![CDATA[", lt)) {
          const end = t.indexOf("]]>", lt + 9);
          if (end < 0) notWellFormed("unterminated CDATA section");
          top.children.push({ cdata: t.slice(lt + 9, end) });
          this.#pos = end + 3;
        } else {
          refuseDeclaration(t, lt);
        }
      } else if (next === QUESTION) {
        refuseInstruction(t, lt);
      } else {
        if (stack.length >= this.#maxNested) notWellFormed(`elements nest deeper than ${this.#maxNested}`);
        const el = this.#startTag();
        top.children.push(el);
        if (!this.#empty) stack.push(el);
      }
    }
  }
}

/**
 * Parse one document and return its root element. Anything that is not
 * well-formed XML, holds a DOCTYPE or other declaration or a processing
 * instruction (the XML declaration aside), or nests deeper than
 * `maxNestedTags` is a `PROTOCOL_ERROR` (fault -32700, or -32702 for
 * characters XML cannot hold); more than `maxElements` elements is a
 * `PAYLOAD_TOO_LARGE` naming the limit.
 */
export function parseXml(text: string, maxNestedTags: number, maxElements?: number): XmlElement {
  if (!isXmlText(text)) throw invalid("the document holds characters XML 1.0 does not allow", FaultCodes.INVALID_CHARACTER);
  // XML's end-of-line handling: every CR LF and lone CR reads as LF, before anything else.
  const normalised = text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
  const limits: ParseLimits = maxElements === undefined ? { maxNestedTags } : { maxNestedTags, maxElements };
  return new Scanner(normalised, limits).document();
}

/** Child elements of `el`; character data between them must be whitespace. */
export function elementsOf(el: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if ("name" in c) out.push(c);
    else if ("text" in c ? c.text.trim() !== "" : c.cdata.trim() !== "") {
      throw invalid(`<${el.name}> holds stray text ${JSON.stringify(excerpt(("text" in c ? c.text : c.cdata).trim(), 40))}`);
    }
  }
  return out;
}

/** The text of a leaf element: references resolved, CDATA literal, comments dropped. Child elements are refused. */
export function textOf(el: XmlElement): string {
  let out = "";
  for (const c of el.children) {
    if ("name" in c) throw invalid(`<${el.name}> must hold text, found <${excerpt(c.name, 40)}>`);
    out += "text" in c ? decodeReferences(c.text) : c.cdata;
  }
  return out;
}
