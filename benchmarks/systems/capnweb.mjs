/**
 * capnweb over WebSocket (Node, with the `ws` package on both ends). Calls
 * go through its RpcStub as users write them: `await api.add(1, 2)`.
 * capnweb's wire is JSON text; it carries Uint8Array itself (as base64).
 */
import { RpcTarget, newWebSocketRpcSession } from "capnweb";
import { WebSocket, WebSocketServer } from "ws";
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
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 64 * 1024 * 1024 });
  wss.on("connection", (ws) => newWebSocketRpcSession(ws, new Api()));
  await new Promise((resolve) => wss.once("listening", resolve));
  return {
    url: `ws://127.0.0.1:${wss.address().port}/`,
    close: () => new Promise((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => resolve());
    }),
  };
}

export async function connectClient(url) {
  const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const api = newWebSocketRpcSession(ws);
  return {
    call: (method, args) => api[method](...args),
    close: async () => {
      api[Symbol.dispose]?.();
      ws.close();
    },
  };
}
