/**
 * XML-RPC values as a wirecall serializer: each envelope is one `<value>`
 * document. Not registered by default (it is slower and bulkier than JSON);
 * `registerSerializer(xmlrpc)` on both sides lets the frame transports
 * carry XML-RPC-typed payloads (Date, BigInt as i8, Uint8Array as base64).
 */
import type { Serializer } from "../serializers/serializer.js";
import { invalid } from "./codec-error.js";
import { decodeXmlBytes } from "./text-encoding.js";
import { decodeValue } from "./value-decode.js";
import { encodeValue } from "./value-encode.js";
import { parseXml } from "./xml-parse.js";

const encoder = new TextEncoder();

/** The `xmlrpc` serializer (see the module comment). */
export const xmlrpc: Serializer = {
  name: "xmlrpc",
  binary: false,
  encode(value: unknown): Uint8Array {
    return encoder.encode(`<?xml version="1.0"?>\n${encodeValue(value)}`);
  },
  decode(frame: Uint8Array): unknown {
    const root = parseXml(decodeXmlBytes(frame), 64 * 3 + 8);
    if (root.name !== "value") throw invalid(`expected a <value> document, got <${root.name.slice(0, 40)}>`);
    return decodeValue(root);
  },
};
