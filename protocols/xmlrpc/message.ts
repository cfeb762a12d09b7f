/**
 * Whole XML-RPC messages: `methodCall`, `methodResponse` with one param, and
 * `methodResponse` with a `fault`. Pure functions over strings; no I/O.
 */
import { invalid, limitExceeded, unencodable } from "./codec-error.js";
import { XMLRPC_LIMITS, type XmlRpcLimits } from "./limits.js";
import { decodeXmlBytes } from "./text-encoding.js";
import { decodeValue } from "./value-decode.js";
import { encodeValue, type EncodeOptions } from "./value-encode.js";
import { elementsOf, parseXml, textOf, type XmlElement } from "./xml-parse.js";
import { escapeText } from "./xml-text.js";
import { refuseReferences } from "../../src/refs/walk.js";

/**
 * Limits applied while decoding (see limits.ts for what each guards).
 * Defaults: `XMLRPC_LIMITS.server` for `decodeMethodCall`,
 * `XMLRPC_LIMITS.client` for `decodeMethodResponse`.
 */
export interface DecodeOptions {
  /** Deepest nesting of arrays and structs accepted. Default 64. */
  maxDepth?: number;
  /** XML elements (and CDATA sections) in one document. */
  maxElements?: number;
  /** Longest string, member name or method name (characters), largest base64 value (bytes). */
  maxStringLength?: number;
  /** Zone-less dateTime values are this process's local time, not UTC (EncodeOptions.localTime). */
  localTime?: boolean;
}

/** A decoded `methodCall`. */
export interface MethodCall {
  readonly methodName: string;
  readonly params: unknown[];
}

/** A fault as it travels: `faultCode`, `faultString`, and any extra members the struct had. */
export interface Fault {
  readonly faultCode: number;
  readonly faultString: string;
  readonly [member: string]: unknown;
}

/** A decoded `methodResponse`: a value or a fault. */
export type MethodResponse = { readonly kind: "result"; readonly value: unknown } | { readonly kind: "fault"; readonly fault: Fault };

const XML_DECL = '<?xml version="1.0"?>\n';
// Method names are ASCII identifiers with '.', ':', '/', '_' in practice; the spec allows
// "A-Z, a-z, 0-9, underscore, dot, colon and slash". Others are still sent, escaped.
function checkMethodName(name: string): void {
  if (typeof name !== "string" || name === "") throw unencodable("a method name must be a non-empty string");
}

/** Encode a call. Throws `SERIALIZE_ERROR` for values XML-RPC cannot carry. */
export function encodeMethodCall(methodName: string, params: readonly unknown[], options: EncodeOptions = {}): string {
  checkMethodName(methodName);
  refuseReferences(params, undefined, "XML-RPC");
  const parts = [XML_DECL, "<methodCall>\n<methodName>", escapeText(methodName, "method name"), "</methodName>\n<params>\n"];
  for (const p of params) parts.push("<param>", encodeValue(p, options), "</param>\n");
  parts.push("</params>\n</methodCall>\n");
  return parts.join("");
}

/** Encode a successful response carrying `value`. */
export function encodeMethodResponse(value: unknown, options: EncodeOptions = {}): string {
  return `${XML_DECL}<methodResponse>\n<params>\n<param>${encodeValue(value, options)}</param>\n</params>\n</methodResponse>\n`;
}

/** Encode a fault response. Extra members (beyond faultCode/faultString) that cannot be encoded are dropped. */
export function encodeFault(fault: Fault): string {
  const base = { ...fault, faultCode: fault.faultCode | 0, faultString: String(fault.faultString) };
  let body: string;
  try {
    body = encodeValue(base, { allowNone: true });
  } catch {
    body = encodeValue({ faultCode: base.faultCode, faultString: base.faultString.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/g, "?") });
  }
  return `${XML_DECL}<methodResponse>\n<fault>\n${body}\n</fault>\n</methodResponse>\n`;
}

/** `maxDepth` in elements: value>array>data>value and value>struct>member>value are three elements a level. */
export function nestedTags(maxDepth: number): number {
  return maxDepth * 3 + 8;
}

function parseDocument(doc: string | Uint8Array, options: DecodeOptions, defaults: XmlRpcLimits): XmlElement {
  return parseXml(toText(doc), nestedTags(options.maxDepth ?? defaults.maxDepth), options.maxElements ?? defaults.maxElements);
}

function toText(doc: string | Uint8Array): string {
  return typeof doc === "string" ? doc : decodeXmlBytes(doc);
}

function decodeParams(params: XmlElement, maxStringLength: number, localTime = false): unknown[] {
  return elementsOf(params).map((param) => {
    if (param.name !== "param") throw invalid(`<params> holds <${param.name}>, expected <param>`);
    const kids = elementsOf(param);
    const v = kids[0];
    if (!v || kids.length !== 1 || v.name !== "value") throw invalid("a <param> must hold exactly one <value>");
    return decodeValue(v, { maxStringLength, localTime });
  });
}

/** Decode a `methodCall` document (text or bytes). Throws `PROTOCOL_ERROR` with a `faultCode`. */
export function decodeMethodCall(doc: string | Uint8Array, options: DecodeOptions = {}): MethodCall {
  const defaults = XMLRPC_LIMITS.server;
  const maxString = options.maxStringLength ?? defaults.maxStringLength;
  const root = parseDocument(doc, options, defaults);
  if (root.name !== "methodCall") throw invalid(`expected <methodCall>, got <${root.name.slice(0, 40)}>`);
  let methodName: string | undefined;
  let params: unknown[] | undefined;
  for (const el of elementsOf(root)) {
    if (el.name === "methodName" && methodName === undefined) {
      methodName = textOf(el).trim();
      if (methodName.length > maxString) throw limitExceeded("maxStringLength", maxString, `a method name of ${methodName.length} characters is too long`);
    } else if (el.name === "params" && params === undefined) params = decodeParams(el, maxString, options.localTime);
    else throw invalid(`<methodCall> holds an unexpected <${el.name.slice(0, 40)}>`);
  }
  if (!methodName) throw invalid("<methodCall> needs a non-empty <methodName>");
  return { methodName, params: params ?? [] };
}

function toFault(v: unknown): Fault {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid("a <fault> must hold a struct");
  const s = v as Record<string, unknown>;
  const code = s.faultCode;
  if (typeof code !== "number" || !Number.isInteger(code)) throw invalid("a fault struct needs an integer faultCode");
  return { ...s, faultCode: code, faultString: typeof s.faultString === "string" ? s.faultString : String(s.faultString ?? "") };
}

/**
 * Decode a `methodResponse` document. No param gives `null`, one gives its
 * value, several give an array of them (lenient with servers that stray from
 * the spec's "exactly one").
 */
export function decodeMethodResponse(doc: string | Uint8Array, options: DecodeOptions = {}): MethodResponse {
  const defaults = XMLRPC_LIMITS.client;
  const maxString = options.maxStringLength ?? defaults.maxStringLength;
  const root = parseDocument(doc, options, defaults);
  if (root.name !== "methodResponse") throw invalid(`expected <methodResponse>, got <${root.name.slice(0, 40)}>`);
  const kids = elementsOf(root);
  const body = kids[0];
  if (!body || kids.length !== 1) throw invalid("<methodResponse> must hold exactly one <params> or <fault>");
  if (body.name === "fault") {
    const vs = elementsOf(body);
    const v = vs[0];
    if (!v || vs.length !== 1 || v.name !== "value") throw invalid("a <fault> must hold exactly one <value>");
    return { kind: "fault", fault: toFault(decodeValue(v, { maxStringLength: maxString, localTime: options.localTime === true })) };
  }
  if (body.name !== "params") throw invalid(`<methodResponse> holds an unexpected <${body.name.slice(0, 40)}>`);
  const values = decodeParams(body, maxString, options.localTime);
  return { kind: "result", value: values.length === 0 ? null : values.length === 1 ? values[0] : values };
}
