/**
 * @grpc/grpc-js unary calls over HTTP/2 (h2c on 127.0.0.1). The message codec
 * is a plain function in grpc-js; it is MessagePack through the same msgpackr
 * as wirecall's serializer, so the figures compare the RPC stacks rather than
 * protobuf against MessagePack (and bytes stay bytes).
 */
import * as grpc from "@grpc/grpc-js";
import { codecs } from "../lib/codecs.mjs";
import { methods } from "../lib/workloads.mjs";

const codec = codecs.msgpack;
const rpc = (name) => ({
  path: `/bench.Bench/${name}`,
  requestStream: false,
  responseStream: false,
  requestSerialize: (v) => codec.encode(v),
  requestDeserialize: (b) => codec.decode(b),
  responseSerialize: (v) => codec.encode(v),
  responseDeserialize: (b) => codec.decode(b),
});
const service = { add: rpc("add"), echo: rpc("echo") };
const limits = { "grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.max_send_message_length": 64 * 1024 * 1024 };

export async function startServer() {
  const server = new grpc.Server(limits);
  server.addService(service, {
    add: (call, cb) => cb(null, methods.add(...call.request)),
    echo: (call, cb) => cb(null, methods.echo(...call.request)),
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    url: `grpc://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

export async function connectClient(url) {
  const u = new URL(url);
  const Client = grpc.makeGenericClientConstructor(service, "Bench");
  const client = new Client(`${u.hostname}:${u.port}`, grpc.credentials.createInsecure(), limits);
  await new Promise((resolve, reject) => client.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())));
  return {
    call: (method, args) => new Promise((resolve, reject) => client[method](args, (err, res) => (err ? reject(err) : resolve(res)))),
    close: async () => client.close(),
  };
}
