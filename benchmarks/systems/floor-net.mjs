/**
 * The floor: a minimal hand-written RPC over node:net. Frames are
 * length-prefixed `[id, method, args]` requests and `[id, result]` replies,
 * in JSON (the floor) or MessagePack (the floor for the msgpack bars). No
 * handshake, no validation, no errors, no timeouts: what is left is the cost
 * of the socket and the codec, which no RPC library can go below.
 */
import net from "node:net";
import { codecs } from "../lib/codecs.mjs";
import { frame, frameReader } from "../lib/length-prefixed.mjs";
import { methods } from "../lib/workloads.mjs";

export async function startServer({ serializer }) {
  const codec = codecs[serializer];
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on("data", frameReader((body) => {
      const [id, method, args] = codec.decode(body);
      sock.write(frame(codec.encode([id, methods[method](...args)])));
    }));
    sock.on("error", () => sock.destroy());
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `tcp://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function connectClient(url, { serializer }) {
  const codec = codecs[serializer];
  const u = new URL(url);
  const sock = net.connect({ host: u.hostname, port: Number(u.port), noDelay: true });
  await new Promise((resolve, reject) => sock.once("connect", resolve).once("error", reject));
  const pending = new Map();
  let nextId = 1;
  sock.on("data", frameReader((body) => {
    const [id, result] = codec.decode(body);
    const resolve = pending.get(id);
    pending.delete(id);
    resolve(result);
  }));
  return {
    call(method, args) {
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        sock.write(frame(codec.encode([id, method, args])));
      });
    },
    close: () => new Promise((resolve) => sock.end(resolve)),
  };
}
