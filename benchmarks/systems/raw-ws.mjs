/**
 * Raw ws: the floor for WebSocket cells. `ws` (the same package wirecall's
 * ws transport uses), one binary message per call, MessagePack
 * `[id, method, args]` / `[id, result]`, nothing else.
 */
import { codecs } from "../lib/codecs.mjs";
import { methods } from "../lib/workloads.mjs";
import { listenWs, openWs } from "../lib/ws-peer.mjs";

const codec = codecs.msgpack;

export async function startServer() {
  return listenWs((ws) => {
    ws.on("message", (data) => {
      const [id, method, args] = codec.decode(data);
      ws.send(codec.encode([id, methods[method](...args)]));
    });
  });
}

export async function connectClient(url) {
  const ws = await openWs(url);
  const pending = new Map();
  let nextId = 1;
  ws.on("message", (data) => {
    const [id, result] = codec.decode(data);
    const resolve = pending.get(id);
    pending.delete(id);
    resolve(result);
  });
  return {
    call(method, args) {
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        ws.send(codec.encode([id, method, args]));
      });
    },
    close: () => new Promise((resolve) => {
      ws.once("close", resolve);
      ws.close();
    }),
  };
}
