/**
 * `xmlrpc+http://host:port/path` and `xmlrpc+https://...`: XML-RPC over
 * HTTP. Not a frame stream: a request/response front-end (src/front-end.ts)
 * that serves the handler and gives the client a Caller of its own.
 *
 * Reached by URL from `serve`/`connect`, or imported from `wirecall/xmlrpc`
 * for `attachXmlRpc`, `multicall` and the codec.
 */
import type { FrontEnd } from "../../src/transport-sdk.js";
import { XmlRpcClient, type XmlRpcClientOptions } from "./http-client.js";
import { serveXmlRpc, type XmlRpcServeOptions } from "./http-server.js";
import { XMLRPC_CLIENT_OPTIONS, XMLRPC_SERVE_OPTIONS } from "./options.js";

export const xmlrpcTransport: FrontEnd = {
  name: "xmlrpc",
  schemes: ["xmlrpc+http", "xmlrpc+https"],
  kind: "request-response",
  urlCredentials: true,
  options: { connect: XMLRPC_CLIENT_OPTIONS, serve: XMLRPC_SERVE_OPTIONS },
  serve(handler, url, options) {
    return serveXmlRpc(handler, url, options as XmlRpcServeOptions);
  },
  async connect(url, options) {
    const client = new XmlRpcClient(url, options as XmlRpcClientOptions);
    if ((options as XmlRpcClientOptions).probe !== false) {
      try {
        await client.probe();
      } catch (err) {
        await client.close();
        throw err;
      }
    }
    return client;
  },
};

/** The transport this module provides, found by `connect`/`serve` for `xmlrpc+http:` and `xmlrpc+https:`. */
export const transport = xmlrpcTransport;

export { XmlRpcClient } from "./http-client.js";
export type { XmlRpcClientOptions } from "./http-client.js";
export { XmlRpcServer, serveXmlRpc, attachXmlRpc } from "./http-server.js";
export type { AttachedXmlRpc, XmlRpcServeOptions } from "./http-server.js";
export { XmlRpcRequestListener, DEFAULT_MAX_BODY } from "./request-listener.js";
export type { XmlRpcListenerOptions } from "./request-listener.js";
export { DEFAULT_PATH } from "./endpoint-url.js";
export * from "../../protocols/xmlrpc/index.js";
