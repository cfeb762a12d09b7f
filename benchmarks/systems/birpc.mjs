/**
 * birpc over ws. birpc is transport-agnostic: `post`/`on` adapt a `ws`
 * socket, and its serialize/deserialize hooks use the same MessagePack as
 * wirecall's msgpack serializer, so the ws+msgpack comparison is like for like.
 */
import { createBirpc } from "birpc";
import { WebSocket, WebSocketServer } from "ws";
import { codecs } from "../lib/codecs.mjs";
import { methods } from "../lib/workloads.mjs";

const codec = codecs.msgpack;

function channel(ws) {
  return {
    post: (data) => ws.send(data),
    on: (fn) => ws.on("message", fn),
    serialize: (v) => codec.encode(v),
    deserialize: (b) => codec.decode(b),
    timeout: 60_000,
  };
}

export async function startServer() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 64 * 1024 * 1024 });
  wss.on("connection", (ws) => createBirpc({ add: methods.add, echo: methods.echo }, channel(ws)));
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
  const remote = createBirpc({}, channel(ws));
  return {
    call: (method, args) => remote[method](...args),
    close: async () => {
      remote.$close?.();
      ws.close();
    },
  };
}
