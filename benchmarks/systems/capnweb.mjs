/**
 * capnweb over WebSocket (Node, with the `ws` package on both ends). Calls
 * go through its RpcStub as users write them: `await api.add(1, 2)`.
 * capnweb's wire is JSON text; it carries Uint8Array itself (as base64).
 */
import { RpcTarget, newWebSocketRpcSession } from "capnweb";
import { WebSocket } from "ws";
import { listenWs, openWs } from "../lib/ws-peer.mjs";
import { methods } from "../lib/workloads.mjs";

// capnweb's WebSocket transport refers to the global WebSocket, which Node 20
// lacks; the `ws` class fills in for it.
globalThis.WebSocket ??= WebSocket;

class Api extends RpcTarget {
  add(a, b) {
    return methods.add(a, b);
  }
  echo(x) {
    return methods.echo(x);
  }
}

export async function startServer() {
  return listenWs((ws) => newWebSocketRpcSession(ws, new Api()));
}

export async function connectClient(url) {
  const ws = await openWs(url);
  const api = newWebSocketRpcSession(ws);
  return {
    call: (method, args) => api[method](...args),
    close: async () => {
      api[Symbol.dispose]?.();
      ws.close();
    },
  };
}
