import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type CallContext } from "../src/index.js";
import { ServerCall, type PeerInfo } from "../src/transport-sdk.js";
import { Deferred } from "./support/async.js";

const origin: PeerInfo = { transport: "test", remoteAddress: undefined };
const call = (method: string, args: unknown[] = [], kwargs?: Record<string, unknown>, oneway = false) => new ServerCall(method, args, kwargs, origin, oneway);

describe("RPCHandler.dispatchNow", () => {
  it("gives a plain value at once, and what an async method returns as a Promise", async () => {
    const h = new RPCHandler();
    h.register("add", (a: number, b: number) => a + b);
    h.register("later", async (a: number) => a * 2);
    const thenable = { then: (resolve: (v: number) => void) => resolve(7) };
    h.register("thenable", () => thenable);
    assert.equal(h.dispatchNow(call("add", [2, 3])), 5);
    assert.equal(h.dispatchNow(call("add", [], { a: 1, b: 2 })), 3);
    const p = h.dispatchNow(call("later", [4]));
    assert.ok(p instanceof Promise);
    assert.equal(await p, 8);
    assert.equal(h.dispatchNow(call("thenable")), thenable, "a thenable is the caller's to adopt");
  });

  it("throws at once what dispatch rejects with", async () => {
    const h = new RPCHandler();
    h.register("add", (a: number, b: number) => a + b);
    h.register("boom", () => {
      throw new TypeError("boom");
    });
    for (const [c, code] of [[call("nope"), "METHOD_NOT_FOUND"], [call("_private"), "METHOD_NOT_FOUND"], [call("add", [1], { c: 2 }), "INVALID_PARAMS"]] as const) {
      assert.throws(() => h.dispatchNow(c), (e: unknown) => e instanceof RpcError && e.code === code);
      await assert.rejects(h.dispatch(c), (e: unknown) => e instanceof RpcError && e.code === code);
    }
    assert.throws(() => h.dispatchNow(call("boom")), TypeError);
  });

  it("goes through dispatch (a Promise) with middleware or redactError", async () => {
    const seen: string[] = [];
    const withMw = new RPCHandler().use((ctx, next) => (seen.push(ctx.method), next()));
    withMw.register("add", (a: number, b: number) => a + b);
    const p = withMw.dispatchNow(call("add", [1, 2]));
    assert.ok(p instanceof Promise);
    assert.equal(await p, 3);
    assert.deepEqual(seen, ["add"]);

    const redacting = new RPCHandler({ redactError: () => new RpcError("INTERNAL_ERROR", "hidden") });
    redacting.register("boom", () => {
      throw new Error("secret path /etc/x");
    });
    const r = redacting.dispatchNow(call("boom"));
    assert.ok(r instanceof Promise);
    await assert.rejects(r as Promise<unknown>, (e: unknown) => e instanceof RpcError && e.message === "hidden");
    // One-way calls are never redacted (their errors go to onError): those run at once.
    assert.throws(() => redacting.dispatchNow(call("boom", [], undefined, true)), /secret path/);
  });

  it("over tcp: calls queued behind a slow one at maxInFlight 1 are answered at once, in order, when it ends", async () => {
    const gate = new Deferred();
    const order: number[] = [];
    const h = new RPCHandler();
    h.register("slow", async () => {
      await gate.promise;
      order.push(-1);
      return -1;
    });
    h.register("echo", (i: number) => (order.push(i), i));
    const server = await serve(h, "tcp://127.0.0.1:0", { maxInFlight: 1 });
    const proxy = await connect(server.url, { serializer: "msgpack" });
    try {
      const slow = proxy.slow();
      const rest = Array.from({ length: 50 }, (_, i) => proxy.echo(i));
      // Some turns for the calls to reach the server's queue (the order checked below holds either way).
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      assert.deepEqual(order, [], "nothing runs while the one slot is taken");
      gate.resolve();
      assert.equal(await slow, -1);
      assert.deepEqual(await Promise.all(rest), Array.from({ length: 50 }, (_, i) => i));
      assert.deepEqual(order, [-1, ...Array.from({ length: 50 }, (_, i) => i)]);
    } finally {
      await proxy.$close();
      await server.close();
    }
  });

  it("over tcp: a plain async method (no context) holds its slot until it settles, even once its caller gave up", async () => {
    const gate = new Deferred();
    let settled = false;
    const h = new RPCHandler();
    h.register("slow", async () => {
      await gate.promise;
      settled = true;
      return 1;
    });
    h.register("add", (a: number, b: number) => a + b);
    const server = await serve(h, "tcp://127.0.0.1:0", { maxInFlight: 1 });
    const proxy = await connect(server.url, { serializer: "msgpack" });
    try {
      await assert.rejects(proxy.$call("slow", [], undefined, { timeout: 50 }), (e: unknown) => (e as RpcError).code === "TIMEOUT");
      // The cancel does not free the slot: the next call waits for the handler.
      let added = false;
      const next = (proxy.add(2, 3) as Promise<number>).then((v: number) => ((added = true), v));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      assert.equal(added, false, "a call ran while the only slot was held");
      gate.resolve();
      assert.equal(await next, 5);
      assert.equal(settled, true);
    } finally {
      await proxy.$close();
      await server.close();
    }
  });

  it("over tcp: a plain async one-way call is running until it settles (server.close() waits for it), and its rejection reaches onError with its context", async () => {
    const gate = new Deferred();
    const errors: [unknown, CallContext | undefined][] = [];
    let ran = 0;
    const h = new RPCHandler({ onError: (e, ctx) => void errors.push([e, ctx]) });
    h.register("later", async (fail: boolean) => {
      ran++;
      await gate.promise;
      if (fail) throw new RangeError("one-way failure");
    });
    const server = await serve(h, "tcp://127.0.0.1:0");
    const proxy = await connect(server.url, { serializer: "msgpack" });
    await proxy.$notify("later", true);
    for (let i = 0; i < 200 && ran === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(ran, 1);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(closed, false, "the server closed while a one-way handler was running");
    gate.resolve();
    await closing;
    await proxy.$close();
    assert.equal(errors.length, 1);
    assert.equal((errors[0]?.[0] as Error).message, "one-way failure");
    assert.equal(errors[0]?.[1]?.oneway, true);
    assert.equal(errors[0]?.[1]?.method, "later");
  });

  it("over tcp: a returned thenable's `then` is read once, as `await` reads it; a throwing getter fails that call only", async () => {
    let reads = 0;
    const h = new RPCHandler();
    h.register("thenable", (v: number) => ({
      get then() {
        reads++;
        return (resolve: (x: number) => void) => resolve(v * 2);
      },
    }));
    h.register("badThen", () => ({
      get then(): never {
        reads++;
        throw new RangeError("then getter failed");
      },
    }));
    h.register("add", (a: number, b: number) => a + b);
    const server = await serve(h, "tcp://127.0.0.1:0");
    const proxy = await connect(server.url, { serializer: "msgpack" });
    try {
      assert.equal(await proxy.thenable(21), 42);
      assert.equal(reads, 1, "the getter ran once for one call");
      await assert.rejects(proxy.badThen(), (e: unknown) => (e as Error).name === "RangeError" && /then getter failed/.test((e as Error).message));
      assert.equal(reads, 2);
      assert.equal(await proxy.add(2, 3), 5, "the connection serves on");
    } finally {
      await proxy.$close();
      await server.close();
    }
  });

  it("over tcp: sync and async methods, sync and async errors, many calls in flight, answered by id", async () => {
    const h = new RPCHandler();
    h.register("add", (a: number, b: number) => a + b);
    h.register("slowAdd", async (a: number, b: number) => {
      await new Promise((r) => setImmediate(r));
      return a + b;
    });
    h.register("fail", (sync: boolean) => {
      if (sync) throw new RpcError("BAD_THING", "sync failure");
      return Promise.reject(new RpcError("BAD_THING", "async failure"));
    });
    h.register("obj", (n: number) => ({ n, list: [n, n + 1] }));
    const server = await serve(h, "tcp://127.0.0.1:0");
    const proxy = await connect(server.url, { serializer: "msgpack" });
    try {
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++) calls.push(i % 2 ? proxy.add(i, 1) : proxy.slowAdd(i, 1));
      assert.deepEqual(await Promise.all(calls), Array.from({ length: 200 }, (_, i) => i + 1));
      await assert.rejects(proxy.fail(true), (e: unknown) => (e as RpcError).code === "BAD_THING" && /sync failure/.test((e as Error).message));
      await assert.rejects(proxy.fail(false), (e: unknown) => (e as RpcError).code === "BAD_THING" && /async failure/.test((e as Error).message));
      assert.deepEqual(await proxy.obj(4), { n: 4, list: [4, 5] });
    } finally {
      await proxy.$close();
      await server.close();
    }
  });
});
