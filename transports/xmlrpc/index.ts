/**
 * `xmlrpc+http://host:port/path` and `xmlrpc+https://...`: XML-RPC over
 * HTTP. Not a frame stream, so this transport implements the `serve` and
 * `connectCaller` hooks; `listen` and `connect` throw `INVALID_URL`.
 *
 * Reached by URL from `serve`/`connect`, or imported from `wirecall/xmlrpc`
 * for `attachXmlRpc`, `multicall` and the codec.
 */
import { RpcError, type Transport } from "../../src/index.js";
import { XmlRpcClient, type XmlRpcClientOptions } from "./http-client.js";
import { serveXmlRpc, type XmlRpcServeOptions } from "./http-server.js";

function notFrames(): never {
  throw new RpcError("INVALID_URL", "XML-RPC is request/response over HTTP, not a frame stream: use serve()/connect() (or attachXmlRpc), not the transport's listen()/connect()");
}

export const xmlrpcTransport: Transport = {
  name: "xmlrpc",
  schemes: ["xmlrpc+http", "xmlrpc+https"],
  urlCredentials: true,
  async connect() {
    notFrames();
  },
  async listen() {
    notFrames();
  },
  serve(handler, url, options) {
    return serveXmlRpc(handler, url, options as XmlRpcServeOptions);
  },
  async connectCaller(url, options) {
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
export * from "../../src/xmlrpc/index.js";
