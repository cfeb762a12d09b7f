/**
 * The XML layer: well-formedness, no DOCTYPE, bounded depth, then a tree of
 * elements. Built on fast-xml-parser with entity processing off: references
 * are resolved by xml-text.ts, which knows only the five predefined entities.
 */
import { XMLParser, XMLValidator, type X2jOptions } from "fast-xml-parser";
import { FaultCodes, excerpt, invalid } from "./codec-error.js";
import { isXmlText, readContent } from "./xml-text.js";

/** An element as the decoder sees it: name and children (elements, text, CDATA), in document order. */
export interface XmlElement {
  readonly name: string;
  readonly children: readonly XmlNode[];
}

/** A child node: an element, raw character data (references not yet resolved), or a CDATA section. */
export type XmlNode = XmlElement | { readonly text: string } | { readonly cdata: string };

type FxpNode = Record<string, unknown>;

const parsers = new Map<number, XMLParser>();

function parserFor(maxNestedTags: number): XMLParser {
  let p = parsers.get(maxNestedTags);
  if (!p) {
    const options: X2jOptions = {
      preserveOrder: true,
      processEntities: false,
      htmlEntities: false,
      parseTagValue: false,
      parseAttributeValue: false,
      trimValues: false,
      ignoreAttributes: true,
      ignoreDeclaration: true,
      ignorePiTags: true,
      cdataPropName: "#cdata",
      commentPropName: false,
      // Leaf elements that can be large are handed over raw, in one piece:
      // an order of magnitude faster for a megabyte of base64.
      stopNodes: ["..string", "..base64"],
      maxNestedTags,
    };
    p = new XMLParser(options);
    parsers.set(maxNestedTags, p);
  }
  return p;
}

function convert(node: FxpNode): XmlNode {
  for (const key of Object.keys(node)) {
    if (key === ":@") continue;
    const v = node[key];
    if (key === "#text") return { text: typeof v === "string" ? v : String(v ?? "") };
    if (key === "#cdata") {
      const inner = Array.isArray(v) ? (v as FxpNode[]).map((n) => String(n["#text"] ?? "")).join("") : "";
      return { cdata: inner };
    }
    const kids = Array.isArray(v) ? (v as FxpNode[]) : [];
    return { name: key, children: kids.map(convert) };
  }
  return { text: "" };
}

// A DOCTYPE can only stand in the prolog; XML-RPC documents never have one,
// and refusing it outright keeps every entity-expansion attack out.
function checkProlog(text: string): void {
  const root = text.search(/<[A-Za-z_:]/);
  const prolog = root < 0 ? text : text.slice(0, root);
  if (/<!(?!--)/.test(prolog)) {
    throw invalid("DOCTYPE and entity declarations are not allowed in XML-RPC documents", FaultCodes.NOT_WELL_FORMED);
  }
}

/**
 * Parse one document and return its root element. Anything that is not
 * well-formed XML, holds a DOCTYPE, or nests deeper than `maxNestedTags` is a
 * `PROTOCOL_ERROR` (fault -32700, or -32702 for characters XML cannot hold).
 */
export function parseXml(text: string, maxNestedTags: number): XmlElement {
  if (!isXmlText(text)) throw invalid("the document holds characters XML 1.0 does not allow", FaultCodes.INVALID_CHARACTER);
  checkProlog(text);
  let ok: ReturnType<typeof XMLValidator.validate>;
  try {
    ok = XMLValidator.validate(text);
  } catch (err) {
    throw invalid(`not well-formed XML: ${excerpt(String((err as Error)?.message ?? err), 160)}`, FaultCodes.NOT_WELL_FORMED);
  }
  if (ok !== true) {
    const e = ok.err;
    const where = e.col === undefined ? `line ${e.line}` : `line ${e.line}, column ${e.col}`;
    throw invalid(`not well-formed XML (${where}): ${excerpt(e.msg, 160)}`, FaultCodes.NOT_WELL_FORMED);
  }
  let tree: unknown;
  try {
    tree = parserFor(maxNestedTags).parse(text);
  } catch (err) {
    throw invalid(`not well-formed XML: ${excerpt(String((err as Error)?.message ?? err), 160)}`, FaultCodes.NOT_WELL_FORMED);
  }
  if (!Array.isArray(tree)) throw invalid("no root element", FaultCodes.NOT_WELL_FORMED);
  const roots = (tree as FxpNode[]).map(convert).filter((n): n is XmlElement => "name" in n);
  const root = roots[0];
  if (!root || roots.length !== 1) throw invalid("a document needs exactly one root element", FaultCodes.NOT_WELL_FORMED);
  return root;
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
    out += "text" in c ? readContent(c.text, el.name) : c.cdata;
  }
  return out;
}
