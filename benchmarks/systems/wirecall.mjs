/**
 * wirecall itself, imported from the repo's built dist/ (build with
 * `npx tsc -p .`). The URL picks the transport, so one module serves every
 * transport x serializer cell.
 */
import { readFileSync } from "node:fs";
import { RPCHandler, connect, serve } from "../../dist/src/index.js";
import { methods } from "../lib/workloads.mjs";

const LISTEN = {
  mem: () => `mem://bench-${process.pid}`,
  tcp: () => "tcp://127.0.0.1:0",
  tls: () => "tls://127.0.0.1:0",
  ws: () => "ws://127.0.0.1:0/",
  wss: () => "wss://127.0.0.1:0/",
  zmq: () => "zmq+tcp://127.0.0.1:0",
};

export const TRANSPORTS = Object.keys(LISTEN);

// The TCP transport authenticates with the multiprocessing-style HMAC
// challenge; it costs one round trip per connection, never per call.
const AUTHKEY = "wirecall-bench";

function transportOptions(transport, tls, side, extra) {
  const o = { ...extra };
  if (transport === "tcp" || transport === "tls") o.authkey = AUTHKEY;
  if ((transport === "tls" || transport === "wss") && tls) {
    if (side === "server") {
      o.cert = readFileSync(tls.cert);
      o.key = readFileSync(tls.key);
    } else {
      o.ca = readFileSync(tls.cert);
    }
  }
  return o;
}

export async function startServer({ transport, tls, options }) {
  const handler = new RPCHandler();
  handler.register("add", methods.add);
  handler.register("echo", methods.echo);
  const server = await serve(handler, LISTEN[transport](), transportOptions(transport, tls, "server", options));
  return { url: server.url, close: () => server.close() };
}

export async function connectClient(url, { transport, serializer, tls, options }) {
  const proxy = await connect(url, { serializer, ...transportOptions(transport, tls, "client", options) });
  return {
    // The facade, as users call it: `proxy.add(1, 2)`.
    call: (method, args) => proxy[method](...args),
    close: () => proxy.$close(),
  };
}
