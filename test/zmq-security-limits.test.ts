/**
 * What a ZeroMQ peer without credentials can do to a server (issue 11,
 * items 3 and 5): unauthenticated peers live in a table of their own and
 * cannot push authenticated sessions out; a message before authentication
 * is at most 256 bytes; without an authkey (or CURVE client keys) only
 * loopback peers are served, unless `allowRemote`.
 */
import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type AnyRemote, type CallContext } from "../src/index.js";
import { serveWorker, startBroker } from "../transports/zmq/index.js";
import { HandshakeReports, ask, rawDealer, within } from "./zmq-fixtures.js";

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  return h;
}

/** Run `body` with WIRECALL_AUTHKEY unset (a developer's environment must not change what these tests see). */
async function withoutEnvKey<T>(body: () => Promise<T>): Promise<T> {
  const saved = process.env.WIRECALL_AUTHKEY;
  delete process.env.WIRECALL_AUTHKEY;
  try {
    return await body();
  } finally {
    if (saved !== undefined) process.env.WIRECALL_AUTHKEY = saved;
  }
}

describe("zmq: unauthenticated peers", { timeout: 120_000 }, () => {
  it("10,001 knocks from one socket do not evict authenticated sessions", async (t) => {
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo" });
    t.after(() => server.close());
    const honest: AnyRemote[] = [];
    t.after(() => Promise.all(honest.map((p) => p.$close())));
    for (let i = 0; i < 3; i++) honest.push(await connect(server.url, { authkey: "peekaboo", serializer: "msgpack" }));
    for (const p of honest) assert.equal(await p.add(1, 1), 2);

    const knocker = rawDealer(server.url, undefined, 10_000);
    t.after(() => knocker.close());
    const n = 10_001;
    // Every extra routing frame is another peer to the server; each knock is answered with a challenge.
    const last = `knock-${n - 1}`;
    const answered = (async () => {
      for (;;) {
        const msg = await knocker.receive();
        if ((msg[0] as Buffer).toString() === last) return (msg[2] as Buffer).toString("latin1");
      }
    })();
    for (let i = 0; i < n; i++) await knocker.send([`knock-${i}`, "", "#AUTH#"]);
    assert.match(await within(answered, 60_000, "the last knock was not answered"), /^#CHALLENGE#/);
    // The 10,001 challenges were abandoned in their own table; the sessions are intact.
    for (const p of honest) assert.equal(await p.add(2, 3), 5);
  });

  it("refuses a message over 256 bytes before authentication, keeping nothing", async (t) => {
    const reports = new HandshakeReports();
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo", onHandshakeError: reports.hook });
    t.after(() => server.close());
    const sock = rawDealer(server.url, "big-knock");
    t.after(() => sock.close());
    const reported = reports.next(`zmq-peer:${Buffer.from("big-knock").toString("hex")}`);
    assert.equal((await ask(sock, Buffer.alloc(257, 0x5b))).toString(), "#FAILURE#");
    assert.match((await reported).message, /257 bytes before authentication/);
    // 256 bytes is a knock like any other.
    assert.match((await ask(sock, Buffer.alloc(256, 0x5b))).toString("latin1"), /^#CHALLENGE#/);
    // During the challenge too: a long answer ends the attempt on arrival.
    const failed = reports.next(`zmq-peer:${Buffer.from("big-knock").toString("hex")}`);
    await sock.send(["", Buffer.alloc(1024 * 1024, 0x20)]);
    assert.match((await failed).message, /exceeds 256/);
  });

  it("a wirecall client whose session the server forgot fails a long call with CONNECTION_CLOSED", async (t) => {
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo", maxPeers: 1 });
    t.after(() => server.close());
    const first = await connect(server.url, { authkey: "peekaboo" });
    t.after(() => first.$close());
    assert.equal(await first.add(1, 1), 2);
    // maxPeers 1: the second authenticated client pushes the first one's session out.
    const second = await connect(server.url, { authkey: "peekaboo" });
    t.after(() => second.$close());
    assert.equal(await second.add(1, 1), 2);
    // Its next message, over 256 bytes, reaches a server that no longer knows it: refused before authentication.
    await assert.rejects(first.add("x".repeat(400), "y"), (e: RpcError) => e.code === "CONNECTION_CLOSED" && /no longer knows this session/.test(e.message));
  });
});

describe("zmq: one peer cannot stop the socket for everyone", { timeout: 120_000 }, () => {
  it("ends the session of a peer that keeps sending while it is paused; other peers are served throughout", async (t) => {
    const h = handler();
    let aborted = 0;
    let allAborted: () => void = () => {};
    const everyAbort = new Promise<void>((resolve) => (allAborted = resolve));
    h.register(
      "hang",
      (ctx: CallContext, _n: number) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => {
            if (++aborted === 256) allAborted();
            reject(ctx.signal.reason);
          }),
        ),
      { context: true },
    );
    const server = await serve(h, "zmq+tcp://127.0.0.1:0");
    t.after(() => server.close());
    const honest = await connect(server.url, { serializer: "msgpack", timeout: 5000 });
    t.after(() => honest.$close());
    assert.equal(await honest.add(1, 1), 2);

    const flooder = rawDealer(server.url, "flooder", 30_000);
    t.after(() => flooder.close());
    // Every slot taken by a call that never settles, then far more calls than the server holds for all peers together (4096).
    for (let i = 0; i < 300; i++) await flooder.send(["", `[0,${i},"hang",[${i}]]`]);
    for (let i = 300; i < 6000; i++) await flooder.send(["", `[0,${i},"add",[${i},1]]`]);
    // Everyone else is served while the flood sits in the server...
    assert.equal(await honest.add(5, 5), 10);
    // ...because the flooder's session ended with a goodbye (an empty payload); its running calls are aborted.
    for (;;) {
      const msg = await flooder.receive();
      if ((msg[1] as Buffer).length === 0) break;
    }
    // And after.
    for (let i = 0; i < 20; i++) assert.equal(await honest.add(i, 1), i + 1);
    await within(everyAbort, 5000, `only ${aborted} of the flooder's 256 running calls were aborted`);
  });
});

describe("zmq: peers without an authkey", { timeout: 60_000 }, () => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

  it("a server without an authkey refuses non-loopback peers unless allowRemote", async (t) => {
    if (!external) return t.skip("no non-loopback IPv4 address on this machine");
    await withoutEnvKey(async () => {
      const reports = new HandshakeReports();
      const closed = await serve(handler(), "zmq+tcp://0.0.0.0:0", { onHandshakeError: reports.hook });
      t.after(() => closed.close());
      const port = new URL(closed.url).port;
      const local = await connect(`zmq+tcp://127.0.0.1:${port}`);
      assert.equal(await local.add(1, 2), 3);
      await local.$close();
      const reported = reports.next(external);
      await assert.rejects(connect(`zmq+tcp://${external}:${port}`, { handshakeTimeout: 3000 }), (e: RpcError) => e.code === "AUTH_FAILED");
      assert.equal((await reported).code, "AUTH_FAILED");

      const open = await serve(handler(), "zmq+tcp://0.0.0.0:0", { allowRemote: true });
      t.after(() => open.close());
      const remote = await connect(`zmq+tcp://${external}:${new URL(open.url).port}`);
      assert.equal(await remote.add(2, 2), 4);
      await remote.$close();

      const keyed = await serve(handler(), "zmq+tcp://0.0.0.0:0", { authkey: "peekaboo" });
      t.after(() => keyed.close());
      const authenticated = await connect(`zmq+tcp://${external}:${new URL(keyed.url).port}`, { authkey: "peekaboo" });
      assert.equal(await authenticated.add(3, 3), 6);
      await authenticated.$close();
    });
  });

  it("a broker admits clients and workers not on loopback only with allowRemote", async (t) => {
    if (!external) return t.skip("no non-loopback IPv4 address on this machine");
    const remoteUrl = (url: string): string => `zmq+tcp://${external}:${new URL(url).port}`;
    const closed = await startBroker("zmq+tcp://0.0.0.0:0", "zmq+tcp://0.0.0.0:0");
    t.after(() => closed.close());
    await assert.rejects(serveWorker(handler(), remoteUrl(closed.backendUrl), { handshakeTimeout: 3000 }), (e: RpcError) => e.code === "AUTH_FAILED");
    await assert.rejects(connect(remoteUrl(closed.frontendUrl), { handshakeTimeout: 3000 }), (e: RpcError) => e.code === "AUTH_FAILED");

    const open = await startBroker("zmq+tcp://0.0.0.0:0", "zmq+tcp://0.0.0.0:0", { frontend: { allowRemote: true }, backend: { allowRemote: true } });
    t.after(() => open.close());
    const worker = await serveWorker(handler(), remoteUrl(open.backendUrl));
    t.after(() => worker.close());
    await open.waitForWorkers(1);
    const proxy = await connect(remoteUrl(open.frontendUrl), { timeout: 5000 });
    assert.equal(await proxy.add(20, 22), 42);
    await proxy.$close();
  });

  it("serves an ipc socket without an authkey: its file permissions decide who connects", async () => {
    await withoutEnvKey(async () => {
      const server = await serve(handler(), "zmq+ipc://*");
      const proxy = await connect(server.url);
      assert.equal(await proxy.add(4, 4), 8);
      await proxy.$close();
      await server.close();
    });
  });
});
