/**
 * birpc over ws. birpc is transport-agnostic: `post`/`on` adapt a `ws`
 * socket, and its serialize/deserialize hooks use the same MessagePack as
 * wirecall's msgpack serializer, so the ws+msgpack comparison is like for like.
 */
import { createBirpc } from "birpc";
import { codecs } from "../lib/codecs.mjs";
import { methods } from "../lib/workloads.mjs";
import { listenWs, openWs } from "../lib/ws-peer.mjs";

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
  return listenWs((ws) => createBirpc({ add: methods.add, echo: methods.echo }, channel(ws)));
}

export async function connectClient(url) {
  const ws = await openWs(url);
  const remote = createBirpc({}, channel(ws));
  return {
    call: (method, args) => remote[method](...args),
    close: async () => {
      remote.$close?.();
      ws.close();
    },
  };
}
