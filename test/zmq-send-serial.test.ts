/**
 * One send at a time per socket. zeromq.js throws EBUSY ("Socket is busy
 * writing") when `send()` is called while an earlier send on the same
 * socket is still pending, so every send of the transport (replies, error
 * replies, protocol errors, the authkey challenge, goodbyes) must go through
 * the socket's one send queue.
 *
 * Whether a send stays pending depends on zeromq.js (its build, the socket's
 * send timeout, a full pipe), so these tests make the rule strict: the
 * sockets' `send()` is wrapped so that every send stays pending until the
 * next macrotask, and a second send in that window throws EBUSY exactly as
 * zeromq.js does. Traffic that makes sends overlap (many pipelined calls
 * from several clients to one ROUTER, replies of mixed sizes, error
 * replies, malformed messages, authkey challenges, goodbyes) must then
 * complete with every call answered correctly: a send that bypasses the
 * queue throws EBUSY into the session (before the fix, the ROUTER's replies,
 * error replies, challenge messages and goodbyes all did) and calls fail or
 * never get their answer. The queue itself may meet EBUSY in this strict
 * mode (it then waits for the pending send); it never loses a message.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as zmq from "zeromq";
import { RPCHandler, RpcError, connect, serve } from "../src/index.js";

type SendFn = (this: object, parts: unknown) => Promise<void>;

/** The socket types this transport sends on; their `send` is shadowed for the test (zeromq.js's own is read-only). */
const PROTOTYPES: object[] = [zmq.Router.prototype, zmq.Dealer.prototype, zmq.Request.prototype];

describe("zmq: every send on a socket goes through its one queue", () => {
  const original = (zmq.Router.prototype as unknown as { send: SendFn }).send;
  const pending = new WeakSet<object>();
  let busy = 0;
  let sends = 0;

  /** zeromq.js's rule, made strict: every send stays pending until the next macrotask; a send meanwhile throws EBUSY. */
  function strictSend(this: object, parts: unknown): Promise<void> {
    if (pending.has(this)) {
      busy++; // the queue must catch it and wait; anywhere else it breaks a session
      throw Object.assign(new Error("Socket is busy writing; only one send operation may be in progress at any time"), { code: "EBUSY", errno: 16 });
    }
    sends++;
    const sent = original.call(this, parts);
    pending.add(this);
    return new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        pending.delete(this);
        sent.then(resolve, reject);
      });
    });
  }

  before(() => {
    for (const proto of PROTOTYPES) Object.defineProperty(proto, "send", { value: strictSend, configurable: true, writable: true });
  });
  after(() => {
    for (const proto of PROTOTYPES) delete (proto as { send?: unknown }).send;
  });

  function handler(): RPCHandler {
    const h = new RPCHandler();
    h.register(function add(x: number, y: number) {
      return x + y;
    });
    h.register(function blob(n: number) {
      return "x".repeat(n);
    });
    h.register(function fail(n: number) {
      throw new RpcError("BAD_INPUT", `refused ${n}`);
    });
    return h;
  }

  it("pipelined calls from several clients, mixed reply sizes and error replies, malformed messages and goodbyes", async () => {
    busy = 0;
    sends = 0;
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0");
    const clients = await Promise.all(
      ["json", "msgpack", "json", "msgpack"].map((serializer) => connect(server.url, { serializer, timeout: 20_000 })),
    );
    // A raw DEALER sending malformed messages: each gets a protocol-error reply on the same ROUTER, between the others.
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(server.url.replace(/^zmq\+/, ""));
    const rawReplies = (async () => {
      let got = 0;
      for (let i = 0; i < 20; i++) {
        await raw.send(["not-a-delimiter", "x", "y", "z"]);
        const [, body] = await raw.receive();
        assert.match((body as Buffer).toString(), /PROTOCOL_ERROR/);
        got++;
      }
      return got;
    })();

    const work = clients.map(async (proxy, c) => {
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        if (i % 10 === 3) calls.push(proxy.blob(70_000 + i).then((s: string) => assert.equal(s.length, 70_000 + i)));
        else if (i % 10 === 7) calls.push(proxy.fail(i).then(() => assert.fail("fail() resolved"), (e: RpcError) => assert.equal(e.code, "BAD_INPUT")));
        else calls.push(proxy.add(c, i).then((r: number) => assert.equal(r, c + i)));
      }
      await Promise.all(calls);
    });
    await Promise.all(work);
    assert.equal(await rawReplies, 20);
    raw.close();
    // Goodbyes from every client, then the server's own sends on close.
    await Promise.all(clients.map((p) => p.$close()));
    await server.close();
    // 1200 calls, 20 malformed messages, goodbyes; the small calls (and replies) written in one tick share a message (a batch).
    assert.ok(sends > 300, `only ${sends} sends: the traffic did not happen`);
    assert.ok(busy > 0, "the sends never overlapped: the test proves nothing");
  });

  it("authkey challenges, calls and server goodbyes on one ROUTER at the same time", async () => {
    busy = 0;
    sends = 0;
    const authkey = "send-serial-key";
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey });
    const first = await connect(server.url, { authkey, serializer: "msgpack", timeout: 20_000 });
    // Calls from an authenticated client are answered while other peers run their challenge.
    const traffic = Promise.all(Array.from({ length: 400 }, (_, i) => first.add(i, 1).then((r: number) => assert.equal(r, i + 1))));
    const others = await Promise.all(Array.from({ length: 8 }, () => connect(server.url, { authkey, timeout: 20_000 })));
    const more = others.map((p, c) => Promise.all(Array.from({ length: 50 }, (_, i) => p.add(c, i).then((r: number) => assert.equal(r, c + i)))));
    await Promise.all([traffic, ...more]);
    // The server closes first: a goodbye to every peer, sent while their last calls' replies may still be queued.
    // Each of these settles by its reply or by the goodbye that fails it (CONNECTION_CLOSED).
    const last = others.map((p) => p.add(1, 1).then((r: number) => assert.equal(r, 2), (e: RpcError) => assert.equal(e.code, "CONNECTION_CLOSED")));
    await server.close();
    await Promise.all(last);
    await first.$close();
    await Promise.all(others.map((p) => p.$close()));
    assert.ok(busy > 0, "the sends never overlapped: the test proves nothing");
  });

  it("a client's calls, its goodbye and its knock never overlap on its DEALER", async () => {
    busy = 0;
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey: "k2" });
    for (let round = 0; round < 5; round++) {
      const proxy = await connect(server.url, { authkey: "k2", timeout: 20_000 });
      const calls = Array.from({ length: 200 }, (_, i) => proxy.add(i, round));
      // Close with calls queued: the goodbye joins the same queue.
      const results = await Promise.allSettled(calls);
      assert.ok(results.every((r) => r.status === "fulfilled"));
      const inflight = Array.from({ length: 100 }, (_, i) => proxy.add(i, 0).catch(() => undefined));
      await proxy.$close();
      await Promise.all(inflight);
    }
    await server.close();
    assert.ok(busy > 0, "the sends never overlapped: the test proves nothing");
  });
});
