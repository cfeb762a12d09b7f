/**
 * The XML-RPC front-end's options, declared once for `serve`/`connect`
 * (src/options.ts): its own full set, since the framed transports' core
 * options (`handler`, `reconnect`, `maxInFlight` ...) mean nothing over
 * HTTP requests and must not be accepted and dropped. `authkey` and
 * `serializer` are declared only so they reach the front-end, which refuses
 * them saying what to use instead (option-checks.ts).
 */
import type { OptionSpecs } from "../../src/transport-sdk.js";
import type { XmlRpcClientOptions } from "./http-client.js";
import type { XmlRpcServeOptions } from "./http-server.js";

const CODEC: OptionSpecs = {
  allowNone: { type: "boolean", query: true },
  localTime: { type: "boolean", query: true },
  maxDepth: { type: "number", query: true },
  maxElements: { type: "number", query: true },
  maxStringLength: { type: "number", query: true },
  maxFrameSize: { type: "number", query: true },
  handshakeTimeout: { type: "number", query: true },
  authkey: { type: "any" },
  serializer: { type: "any", query: true },
};

/** What `connect("xmlrpc+http://...")` checks its options against: one entry per {@link XmlRpcClientOptions} field, with the facade's. */
export const XMLRPC_CLIENT_OPTIONS: OptionSpecs = {
  ...CODEC,
  timeout: { type: "number", query: true },
  signal: { type: "object" },
  captureStack: { type: "boolean", query: true },
  basicAuth: { type: ["object", "false"] },
  probe: { type: "boolean", query: true },
  gzip: { type: "boolean", query: true },
  headers: { type: "object" },
  ca: { type: ["string", "bytes", "object"] },
  rejectUnauthorized: { type: "boolean", query: true },
  tls: { type: "object" },
  onError: { type: "function" },
};

/** What `serve(handler, "xmlrpc+http://...")` checks its options against: one entry per {@link XmlRpcServeOptions} field. */
export const XMLRPC_SERVE_OPTIONS: OptionSpecs = {
  ...CODEC,
  closeTimeout: { type: "number", query: true },
  keepAliveTimeout: { type: "number", query: true },
  requestTimeout: { type: "number", query: true },
  cert: { type: ["string", "bytes", "object"] },
  key: { type: ["string", "bytes", "object"] },
  tls: { type: "object" },
  basicAuth: { type: ["object", "function", "false"] },
  allowRemote: { type: "boolean", query: true },
  onHandshakeError: { type: "function" },
  strictContentType: { type: "boolean", query: true },
  gzipThreshold: { type: ["number", "false"], query: true },
  multicall: { type: "boolean", query: true },
  maxMulticallCalls: { type: "number", query: true },
};

// Exact option types for literal xmlrpc+http:// and xmlrpc+https:// URLs (src/transport.ts).
declare module "../../src/transport.js" {
  interface ConnectOptionsByScheme {
    "xmlrpc+http": XmlRpcClientOptions;
    "xmlrpc+https": XmlRpcClientOptions;
  }
  interface ServeOptionsByScheme {
    "xmlrpc+http": XmlRpcServeOptions;
    "xmlrpc+https": XmlRpcServeOptions;
  }
}
