/**
 * `wirecall/ws` on Node: WebSocket server (`ws://`, `wss://`, or a path on an
 * existing HTTP server with {@link attach}) and client. Browsers get
 * browser.ts instead (package.json "browser" condition): the client only.
 *
 * The core API is re-exported, so `import { connect } from "wirecall/ws"`
 * is the same line in Node and in a browser bundle.
 */
import type { Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import { Server as TlsServer } from "node:tls";
import { registerTransport, type RPCHandler, type Server, type Transport } from "../../src/transport-sdk.js";
import { serve } from "../../src/index.js";
import { connectNode } from "./client-node.js";
import { WS_CLIENT_OPTIONS, type WsCommonOptions } from "./options.js";
import { WS_SERVER_OPTIONS } from "./server-options.js";
import { listenWs } from "./server.js";

export const wsTransport: Transport = {
  name: "ws",
  schemes: ["ws", "wss"],
  options: { connect: WS_CLIENT_OPTIONS, serve: WS_SERVER_OPTIONS },
  connect: (url, options) => connectNode(url, options),
  listen: (url, options, accept) => listenWs(url, options, accept),
};

/** The transport this module provides, found by `connect`/`serve` for `ws://` and `wss://`. */
export const transport = wsTransport;

registerTransport(wsTransport);

/** Options of {@link attach}: those of a server, with `path` (default "/"); TLS comes from the HTTPS server. */
export interface AttachOptions extends WsCommonOptions {
  /** Path served, e.g. "/rpc" (default "/"). */
  path?: string;
  /** See {@link WsServerOptions.allowedOrigins}. Default: same origin only. */
  allowedOrigins?: readonly string[] | "*";
  /** See {@link WsServerOptions.allowRemote}. Default: without an authkey, loopback peers only. */
  allowRemote?: boolean;
  /** Calls running at once per connection (default 256). */
  maxInFlight?: number;
  /** How long `close()` waits for in-flight calls, ms (default 5000). */
  closeTimeout?: number;
}

/**
 * Serve `handler` over WebSocket on `path` of an existing HTTP(S) server, so a
 * service shares its port with its web pages. The server may be listening
 * already or not yet. `close()` on the result stops this endpoint and drains
 * its connections; the HTTP server itself stays up (it is yours).
 * `wss://` follows from the server being an `https.Server`.
 */
export function attach(handler: RPCHandler, httpServer: HttpServer | HttpsServer, options: AttachOptions = {}): Promise<Server> {
  const scheme = httpServer instanceof TlsServer ? "wss" : "ws";
  const path = options.path ?? "/";
  return serve(handler, `${scheme}://localhost${path.startsWith("/") ? path : `/${path}`}`, { ...options, path, httpServer });
}

export { WsConnection, DEFAULT_HIGH_WATER_MARK } from "./ws-connection.js";
export { DEFAULT_KEEPALIVE } from "./options.js";
export type { WsClientOptions, WsCommonOptions, WsServerOptions } from "./options.js";
export * from "../../src/index.js";
