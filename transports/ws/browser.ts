/**
 * `wirecall/ws` in browsers (package.json "browser" condition) and the
 * prebuilt bundle dist/browser/wirecall-ws.js: the WebSocket client on the
 * global `WebSocket`, plus the whole core API, so one import is enough:
 *
 *     import { connect } from "wirecall/ws";
 *     const proxy = await connect("wss://example.com/rpc");
 *
 * The transport registers itself for ws:// and wss:// when this module loads,
 * and again in {@link connect}, because a bundler honouring
 * `"sideEffects": false` may skip this module's top level when only
 * re-exported names are used.
 */
import { registerTransport } from "../../src/transport-registry.js"; // not the SDK: see ./options.ts
import { connect as coreConnect } from "../../src/core-api.js";
import { browserWsTransport } from "./client-browser.js";

registerTransport(browserWsTransport);

/** The core's `connect`, with the browser WebSocket transport registered first. */
export function connect<T = never>(...args: Parameters<typeof coreConnect>): ReturnType<typeof coreConnect<T>> {
  registerTransport(browserWsTransport);
  return coreConnect<T>(...args);
}

export const wsTransport = browserWsTransport;
/** The transport this module provides, found by `connect` for `ws://` and `wss://`. */
export const transport = browserWsTransport;
export { WsConnection, DEFAULT_HIGH_WATER_MARK } from "./ws-connection.js";
export type { WsClientOptions, WsCommonOptions } from "./options.js";
// Not src/index.js: its static msgpack/superjson exports would put msgpackr and
// superjson in every page's first chunk. By name they load when first used.
export * from "../../src/core-api.js";
