/**
 * The shared conformance suite over ZeroMQ: zmq+tcp under every serializer,
 * and a smaller run over zmq+ipc on a temporary path.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RPCHandler, connect, serve } from "../src/index.js";
import { Deferred, conformance } from "./conformance.js";

conformance({ name: "zmq+tcp", listenUrl: "zmq+tcp://127.0.0.1:0", clientOptions: { handshakeTimeout: 5000 } });

const dir = mkdtempSync(join(tmpdir(), "wirecall-zmq-"));
after(() => rmSync(dir, { recursive: true, force: true }));
// Each server in the suite binds its own path: the suite serves several at once.
let n = 0;
conformance({
  name: "zmq+ipc",
  get listenUrl() {
    return `zmq+ipc://${join(dir, `s${++n}.sock`)}`;
  },
  serializers: ["msgpack"],
  clientOptions: { handshakeTimeout: 5000 },
});

describe("zmq: one-way calls over DEALER", () => {
  it("delivers $notify to the handler with no answer", async () => {
    const seen = new Deferred<unknown[]>();
    const h = new RPCHandler();
    h.register("log", (...args: unknown[]) => seen.resolve(args));
    const server = await serve(h, "zmq+tcp://127.0.0.1:0");
    const proxy = await connect(server.url, { serializer: "superjson" });
    await proxy.$notify("log", 1, new Date(0));
    assert.deepEqual(await seen.promise, [1, new Date(0)]);
    await proxy.$close();
    await server.close();
  });
});
