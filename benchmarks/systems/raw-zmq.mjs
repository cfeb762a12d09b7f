/**
 * Raw zeromq: DEALER (client) / ROUTER (server) with zeromq.js 6, one
 * MessagePack frame per call. zeromq.js allows one `send` at a time per
 * socket, so each side chains its sends; that is the usual way to use it.
 */
import * as zmq from "zeromq";
import { codecs } from "../lib/codecs.mjs";
import { methods } from "../lib/workloads.mjs";

const codec = codecs.msgpack;

/** Serialises sends: zeromq.js throws EBUSY on a send while another is pending. */
function sender(sock) {
  let queue = [];
  let running = false;
  async function pump() {
    running = true;
    while (queue.length) {
      const batch = queue;
      queue = [];
      for (const m of batch) await sock.send(m);
    }
    running = false;
  }
  return (msg) => {
    queue.push(msg);
    if (!running) pump().catch(() => {});
  };
}

export async function startServer() {
  const router = new zmq.Router();
  await router.bind("tcp://127.0.0.1:*");
  const send = sender(router);
  (async () => {
    for await (const [peer, body] of router) {
      const [id, method, args] = codec.decode(body);
      send([peer, codec.encode([id, methods[method](...args)])]);
    }
  })().catch(() => {});
  const endpoint = router.lastEndpoint; // tcp://127.0.0.1:PORT
  return {
    url: endpoint.replace(/^tcp:/, "zmq+tcp:"),
    close: async () => router.close(),
  };
}

export async function connectClient(url) {
  const dealer = new zmq.Dealer();
  dealer.connect(url.replace(/^zmq\+tcp:/, "tcp:").replace(/\/$/, ""));
  const send = sender(dealer);
  const pending = new Map();
  let nextId = 1;
  (async () => {
    for await (const [body] of dealer) {
      const [id, result] = codec.decode(body);
      const resolve = pending.get(id);
      pending.delete(id);
      resolve(result);
    }
  })().catch(() => {});
  return {
    call(method, args) {
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        send(codec.encode([id, method, args]));
      });
    },
    close: async () => dealer.close(),
  };
}
