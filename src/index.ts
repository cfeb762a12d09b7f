/**
 * wirecall: RPC with pluggable transports and serializers.
 * This module exports what applications call (src/core-api.ts); it loads no
 * transport by itself. What transport and front-end authors need is on its
 * own subpath, `wirecall/transport` (src/transport-sdk.ts,
 * docs/transport-authors.md).
 */
export * from "./core-api.js";
// Imported by name here, these load with the main entry. By name in a URL or
// option (`serializer: "msgpack"`) they load on first use instead, which is
// all a browser page gets (transports/ws/browser.ts exports src/core-api.ts).
export { msgpack, createMsgpack } from "./serializers/msgpack.js";
export { superjson, createSuperjson } from "./serializers/superjson.js";
