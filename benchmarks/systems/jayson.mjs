/**
 * jayson: JSON-RPC 2.0 over TCP (newline-delimited). Its TCP client opens a
 * new connection for every request; that is how jayson works, so it is
 * measured as is. Binary travels as base64, as JSON-RPC users send it.
 */
import jayson from "jayson";
import { methods } from "../lib/workloads.mjs";

function toJson(args) {
  return args.map((a) => (a instanceof Uint8Array ? Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64") : a));
}

export async function startServer() {
  const server = new jayson.Server({
    add: (args, cb) => cb(null, methods.add(...args)),
    echo: (args, cb) => cb(null, methods.echo(...args)),
  });
  const tcp = server.tcp();
  await new Promise((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  return {
    url: `tcp://127.0.0.1:${tcp.address().port}`,
    close: () => new Promise((resolve) => tcp.close(() => resolve())),
  };
}

export async function connectClient(url) {
  const u = new URL(url);
  const client = jayson.Client.tcp({ host: u.hostname, port: Number(u.port) });
  return {
    call: (method, args) =>
      new Promise((resolve, reject) => {
        client.request(method, toJson(args), (err, res) => (err ? reject(err) : res.error ? reject(new Error(res.error.message)) : resolve(res.result)));
      }),
    close: async () => {},
  };
}
