/**
 * XML-RPC values as a wirecall serializer: each envelope is one `<value>`
 * document. Not registered by default (it is slower and bulkier than JSON);
 * `registerSerializer(xmlrpc)` on both sides lets the frame transports
 * carry XML-RPC-typed payloads (Date, BigInt as i8, Uint8Array as base64).
 * Frames are decoded within the server's limits (`XMLRPC_LIMITS.server`
 * but the frame size, which the transport enforces).
 */
import type { Serializer } from "../../src/serializers/serializer.js";
import { invalid } from "./codec-error.js";
import { XMLRPC_LIMITS } from "./limits.js";
import { nestedTags } from "./message.js";
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
    const limits = XMLRPC_LIMITS.server;
    const root = parseXml(decodeXmlBytes(frame), nestedTags(limits.maxDepth), limits.maxElements);
    if (root.name !== "value") throw invalid(`expected a <value> document, got <${root.name.slice(0, 40)}>`);
    return decodeValue(root, limits);
  },
};
