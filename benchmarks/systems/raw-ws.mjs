/**
 * Raw ws: the floor for WebSocket cells. `ws` (the same package wirecall's
 * ws transport uses), one binary message per call, MessagePack
 * `[id, method, args]` / `[id, result]`, nothing else.
 */
import { WebSocket, WebSocketServer } from "ws";
import { codecs } from "../lib/codecs.mjs";
import { methods } from "../lib/workloads.mjs";

const codec = codecs.msgpack;

export async function startServer() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 64 * 1024 * 1024 });
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      const [id, method, args] = codec.decode(data);
      ws.send(codec.encode([id, methods[method](...args)]));
    });
  });
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
