/**
 * Interoperability with plain ZeroMQ peers in another language, each
 * written from docs/protocol.md only: a Python REQ client calling a wirecall
 * server (with and without an authkey), and a wirecall client with
 * `?socket=req` calling a Python REP server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RemoteError, connect, kw, serve, type AnyRemote, type RpcError, type Server } from "../src/index.js";
import { FIXTURES, PYTHON, run, startDaemon, type Daemon } from "./zmq-fixtures.js";

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  h.register("echo", (v: unknown) => v);
  h.register("describe", (a: number, b: number, z = 0) => ({ a, b, z }));
  return h;
}

function endpointOf(url: string): string {
  return url.replace(/^zmq\+/, "");
}

interface ReqClientOutput {
  verdict?: string;
  server_verified?: boolean;
  ready?: string;
  hello: unknown;
  add: unknown;
  describe: unknown;
  unicode: unknown;
  missing: [number, number, { code: string; name: string }];
  bare: unknown;
}

describe("zmq: a Python REQ client calls a wirecall server", () => {
  let server: Server;
  let secured: Server;
  before(async () => {
    server = await serve(handler(), "zmq+tcp://127.0.0.1:0");
    secured = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo" });
  });
  after(async () => {
    await server?.close();
    await secured?.close();
  });

  it("speaks the JSON protocol over REQ", async () => {
    const { stdout, stderr, code } = await run(PYTHON, [`${FIXTURES}req_client.py`, endpointOf(server.url)], { WIRECALL_AUTHKEY: "" });
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as ReqClientOutput;
    assert.deepEqual(out.hello, { wirecall: 1, serializer: "json" });
    assert.deepEqual(out.add, [1, 1, 5]);
    assert.deepEqual(out.describe, [1, 2, { a: 1, b: 2, z: 3 }]);
    assert.deepEqual(out.unicode, [1, 3, "h\u00e9llo \u2713"]);
    assert.equal(out.missing[0], 2);
    assert.equal(out.missing[1], 4);
    assert.equal(out.missing[2].code, "METHOD_NOT_FOUND");
    assert.deepEqual(out.bare, [1, 5, 42]);
  });

  it("completes the mutual authkey challenge from a REQ socket", async () => {
    const { stdout, stderr, code } = await run(PYTHON, [`${FIXTURES}req_client.py`, endpointOf(secured.url)], { WIRECALL_AUTHKEY: "peekaboo" });
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as ReqClientOutput;
    assert.equal(out.verdict, "#WELCOME#");
    assert.equal(out.server_verified, true);
    assert.equal(out.ready, "#WELCOME#");
    assert.deepEqual(out.add, [1, 1, 5]);
  });

  it("refuses a REQ client with the wrong authkey, and keeps serving", async () => {
    const { stdout, stderr, code } = await run(PYTHON, [`${FIXTURES}req_client.py`, endpointOf(secured.url)], { WIRECALL_AUTHKEY: "wrong" });
    assert.equal(code, 0, stderr);
    assert.equal((JSON.parse(stdout) as ReqClientOutput).verdict, "#FAILURE#");
    const proxy = await connect(secured.url, { authkey: "peekaboo" });
    assert.equal(await proxy.add(1, 2), 3);
    await proxy.$close();
  });
});

describe("zmq: a wirecall client with ?socket=req calls a Python REP server", () => {
  let rep: Daemon;
  let proxy: AnyRemote;
  before(async () => {
    rep = await startDaemon(PYTHON, [`${FIXTURES}rep_server.py`]);
    proxy = await connect(`zmq+${rep.firstLine}?socket=req`, { handshakeTimeout: 5000 });
  });
  after(async () => {
    await proxy?.$close();
    await rep?.stop();
  });

  it("calls, with positional and keyword arguments", async () => {
    assert.equal(await proxy.add(2, 3), 5);
    assert.equal(await proxy.add(kw({ x: 1, y: 41 })), 42);
    assert.deepEqual(await proxy.echo({ s: "h\u00e9llo", list: [1, [2]] }), { s: "h\u00e9llo", list: [1, [2]] });
  });

  it("rethrows the REP server's errors by name and code", async () => {
    await assert.rejects(proxy.fail(), (e: RemoteError) => e instanceof RemoteError && e.name === "ZeroDivisionError" && e.code === "REMOTE_ERROR");
    await assert.rejects(proxy.nope(), (e: RpcError) => e.code === "METHOD_NOT_FOUND");
  });

  it("queues concurrent calls: one request on the wire at a time", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => proxy.add(i, 1)));
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it("refuses one-way calls, which a REP server could not answer", async () => {
    await assert.rejects(proxy.$notify("add", 1, 2), (e: RpcError) => e.code === "PROTOCOL_ERROR");
    assert.equal(await proxy.pid(), rep.child.pid);
  });
});

describe("zmq: ?socket=req against a wirecall server", () => {
  let server: Server;
  before(async () => {
    const h = handler();
    h.register("slow", (ms: number) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)));
    server = await serve(h, "zmq+tcp://127.0.0.1:0");
  });
  after(async () => server?.close());

  for (const serializer of ["json", "msgpack"]) {
    it(`serialises calls in lock-step (${serializer})`, async () => {
      const proxy = await connect(`${server.url}?socket=req`, { serializer });
      // The slow call holds the socket: the fast ones wait behind it, then all complete in order.
      const order: number[] = [];
      const calls = [proxy.slow(30).then((v: unknown) => order.push(v as number)), ...Array.from({ length: 10 }, (_, i) => proxy.add(i, 0).then((v: unknown) => order.push(v as number)))];
      await Promise.all(calls);
      assert.deepEqual(order, [30, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      await proxy.$close();
    });
  }

  it("times out a call without sending a cancel, and the next call still gets its own answer", async () => {
    const proxy = await connect(`${server.url}?socket=req`);
    await assert.rejects(proxy.$call("slow", [200], undefined, { timeout: 20 }), (e: RpcError) => e.code === "TIMEOUT");
    // The late answer to the slow call arrives first and is dropped by id; this one is matched.
    assert.equal(await proxy.add(20, 22), 42);
    await proxy.$close();
  });
});
