/**
 * The core over the in-memory transport: negotiation, validation, limits,
 * backpressure, one-way calls, middleware and the proxy facade.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { RPCHandler, RpcError, connect, getSerializer, json, kw, msgpack, serve, type CallContext, type Server } from "../src/index.js";
import { Kind, validateEnvelope } from "../src/transport-sdk.js";
import "../transports/memory/index.js";
import { Deferred } from "./conformance.js";
import { BYTES, rawPeer } from "./support/raw-peer.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const turn = () => new Promise<void>((r) => setImmediate(r));

/** A raw client: frames in, frames out (bytes), for speaking the protocol by hand. */
const raw = (url: string) => rawPeer(url, { codec: BYTES });

const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(h: RPCHandler, opts = {}): Promise<Server> {
  const s = await serve(h, "mem://0", opts);
  servers.push(s);
  return s;
}

function basic(): RPCHandler {
  return new RPCHandler().register(function add(a: number, b: number) {
    return a + b;
  });
}

describe("envelope validation", () => {
  it("accepts exactly the five kinds and rejects everything else with PROTOCOL_ERROR (property)", () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withNullPrototype: true }), (v) => {
        try {
          const e = validateEnvelope(v);
          return Array.isArray(e) && [0, 1, 2, 3, 4].includes(e[0] as number);
        } catch (err) {
          return err instanceof RpcError && err.code === "PROTOCOL_ERROR";
        }
      }),
    );
    assert.throws(() => validateEnvelope([9, 1]), { code: "PROTOCOL_ERROR" });
    assert.throws(() => validateEnvelope([0, -1, "x", []]), { code: "PROTOCOL_ERROR" });
    assert.throws(() => validateEnvelope([0, 1, "x", {}]), { code: "PROTOCOL_ERROR" });
    assert.throws(() => validateEnvelope([2, 1, { message: "no name" }]), { code: "PROTOCOL_ERROR" });
    assert.deepEqual(validateEnvelope([0, 1, "x", [], { a: 1 }]), [0, 1, "x", [], { a: 1 }]);
  });
});

describe("server session", () => {
  it("serves a peer that skips the hello, in JSON", async () => {
    const s = await start(basic());
    const c = await raw(s.url);
    c.conn.send(enc.encode('[0,7,"add",[2,3]]'));
    assert.deepEqual(JSON.parse(dec.decode(await c.next())), [1, 7, 5]);
    c.conn.close();
  });

  it("negotiates the serializer in the hello and refuses unknown ones", async () => {
    const s = await start(basic());
    const c = await raw(s.url);
    c.conn.send(enc.encode('{"wirecall":1,"serializer":"msgpack"}'));
    assert.deepEqual(JSON.parse(dec.decode(await c.next())), { wirecall: 1, serializer: "msgpack" });
    c.conn.send(msgpack.encode([Kind.Call, 1, "add", [1, 1]]));
    assert.deepEqual(msgpack.decode(await c.next()), [1, 1, 2]);
    c.conn.close();
    await assert.rejects(connect(s.url, { serializer: { name: "nope", binary: true, encode: json.encode, decode: json.decode } }), {
      code: "PROTOCOL_ERROR",
    });
    const v0 = await raw(s.url);
    v0.conn.send(enc.encode('{"wirecall":0}'));
    const answer = JSON.parse(dec.decode(await v0.next())) as { error: { code: string } };
    assert.equal(answer.error.code, "PROTOCOL_ERROR");
    await v0.closed;
  });

  it("answers garbage with PROTOCOL_ERROR, salvaging the id, and keeps serving (property)", async () => {
    const s = await start(basic());
    for (const name of ["json", "superjson", "msgpack"]) {
      const ser = getSerializer(name)!;
      const c = await raw(s.url);
      c.conn.send(enc.encode(JSON.stringify({ wirecall: 1, serializer: name })));
      await c.next();
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
          c.conn.send(bytes);
          c.conn.send(ser.encode([0, 1, "add", [1, 2]]));
          // Either the garbage decoded to something valid (rare) or it got an error; the call after it always works.
          let reply = ser.decode(await c.next()) as unknown[];
          if (reply[0] === Kind.Error) reply = ser.decode(await c.next()) as unknown[];
          return reply[0] !== Kind.Error || (reply[2] as { code: string }).code !== "INTERNAL_ERROR";
        }),
        { numRuns: 100 },
      );
      c.conn.send(ser.encode([0, 5, "add"]));
      const err = ser.decode(await c.next()) as [number, number, { code: string }];
      assert.deepEqual([err[0], err[1], err[2].code], [Kind.Error, 5, "PROTOCOL_ERROR"]);
      c.conn.send(ser.encode([0, 6, "add", [2, 2]]));
      assert.deepEqual(ser.decode(await c.next()), [1, 6, 4]);
      c.conn.close();
    }
  });

  it("closes a connection that sends nothing within the handshake time limit", async () => {
    const s = await start(basic(), { handshakeTimeout: 30 });
    const silent = await raw(s.url);
    const err = (await silent.closed) as RpcError;
    assert.equal(err.code, "CONNECTION_CLOSED");
    assert.equal((err.cause as RpcError).code, "PROTOCOL_ERROR");
    const p = await connect(s.url);
    assert.equal(await p.add(1, 2), 3);
    await p.$close();
  });

  it("refuses a duplicate call id while the first is running, naming the id, and answers the first once", async () => {
    const gate = new Deferred<number>();
    const s = await start(new RPCHandler().register("slow", () => gate.promise).register("add", (a: number, b: number) => a + b));
    const c = await raw(s.url);
    c.conn.send(enc.encode('[0,1,"slow",[]]'));
    c.conn.send(enc.encode('[0,1,"slow",[]]'));
    // A connection-level error (id null): an error carrying id 1 would settle the first call.
    const dup = JSON.parse(dec.decode(await c.next())) as [number, null, { code: string; message: string; data: { id: number } }];
    assert.deepEqual([dup[0], dup[1], dup[2].code, dup[2].data], [2, null, "PROTOCOL_ERROR", { id: 1 }]);
    assert.match(dup[2].message, /call id 1\b/);
    gate.resolve(9);
    assert.deepEqual(JSON.parse(dec.decode(await c.next())), [1, 1, 9]);
    // Nothing else for id 1 follows: the next frame answers the next call.
    c.conn.send(enc.encode('[0,2,"add",[1,1]]'));
    assert.deepEqual(JSON.parse(dec.decode(await c.next())), [1, 2, 2]);
    c.conn.close();
  });

  it("stops reading a connection at the in-flight limit instead of queueing", async () => {
    let started = 0;
    const gate = new Deferred<void>();
    const h = new RPCHandler().register("slow", async (i: number) => {
      started++;
      await gate.promise;
      return i;
    });
    const s = await start(h, { maxInFlight: 4 });
    const c = await raw(s.url);
    for (let i = 0; i < 10; i++) c.conn.send(enc.encode(`[0,${i},"slow",[${i}]]`));
    for (let i = 0; i < 5 && started < 4; i++) await turn();
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(started, 4);
    gate.resolve();
    const ids = new Set<number>();
    for (let i = 0; i < 10; i++) ids.add((JSON.parse(dec.decode(await c.next())) as number[])[1] as number);
    assert.equal(ids.size, 10);
    assert.equal(started, 10);
    c.conn.close();
  });

  it("stops reading when the peer does not read its replies (write backpressure)", async () => {
    let calls = 0;
    const big = "y".repeat(64 * 1024);
    const s = await start(new RPCHandler().register("big", () => (calls++, big)), { maxInFlight: 8 });
    const c = await raw(s.url);
    c.conn.pause(); // a client that never reads
    for (let i = 0; i < 500; i++) c.conn.send(enc.encode(`[0,${i},"big",[]]`));
    for (let i = 0; i < 20; i++) await turn();
    // The server stopped after about its high-water mark (1 MiB) of replies plus the in-flight limit, not after all 500.
    assert.ok(calls < 50, `server kept dispatching: ${calls}`);
    c.conn.resume();
    for (let i = 0; i < 500; i++) await c.next();
    assert.equal(calls, 500);
    c.conn.close();
  });

  it("runs one-way calls without replying and reports their errors to onError", async () => {
    const seen = new Deferred<unknown>();
    const errored = new Deferred<[unknown, CallContext | undefined]>();
    const h = new RPCHandler({ onError: (e, ctx) => errored.resolve([e, ctx]) });
    h.register("log", (m: string) => seen.resolve(m));
    h.register("bad", () => {
      throw new Error("oneway failure");
    });
    const s = await start(h);
    const p = await connect(s.url);
    await p.$notify("log", "hello");
    assert.equal(await seen.promise, "hello");
    await p.$notify("bad");
    const [err, ctx] = await errored.promise;
    assert.equal((err as Error).message, "oneway failure");
    assert.equal(ctx?.oneway, true);
    assert.equal(await p.add?.(1, 2).catch((e: RpcError) => e.code), "METHOD_NOT_FOUND");
    await p.$close();
  });

  it("runs middleware around dispatch, in order", async () => {
    const order: string[] = [];
    const h = basic()
      .use(async (ctx, next) => {
        order.push(`a:${ctx.method}`);
        const r = await next();
        order.push("a-out");
        return typeof r === "number" ? r * 10 : r;
      })
      .use((ctx, next) => {
        order.push("b");
        if (ctx.method === "add" && ctx.args[0] === 0) throw new RpcError("INVALID_PARAMS", "no zeros");
        return next();
      });
    const s = await start(h);
    const p = await connect(s.url);
    assert.equal(await p.add(1, 2), 30);
    assert.deepEqual(order, ["a:add", "b", "a-out"]);
    await assert.rejects(p.add(0, 2), { code: "INVALID_PARAMS" });
    await p.$close();
  });
});

describe("handler registry", () => {
  it("never exposes Object.prototype, private names or accessors", () => {
    class Base {
      inherited() {
        return 1;
      }
    }
    class Svc extends Base {
      get secretGetter() {
        throw new Error("must not be called");
      }
      own() {
        return 2;
      }
      _private() {
        return 3;
      }
    }
    const h = new RPCHandler({ introspection: false }).registerInstance(new Svc(), "svc");
    assert.deepEqual(h.listMethods(), ["svc.inherited", "svc.own"]);
    for (const bad of ["__proto__", "a.constructor", "prototype", "", "a..b"]) assert.throws(() => h.register(bad, () => 1), TypeError);
    assert.equal(h.unregister("svc"), 2);
    assert.deepEqual(h.listMethods(), []);
  });

  it("documents methods through introspection", async () => {
    const h = new RPCHandler();
    h.register("pow", (n: number, m = 2) => n ** m, { doc: "n to the m" });
    h.register("opaque", Math.max);
    h.register("declared", (...a: number[]) => a.length, { params: ["x", "y?"] });
    const s = await start(h);
    const p = await connect(s.url);
    assert.equal(await p.system.methodHelp("pow"), "n to the m");
    assert.equal(await p.system.methodSignature("pow"), "pow(n, m?)");
    assert.equal(await p.system.methodSignature("opaque"), "opaque(...)");
    assert.equal(await p.declared(kw({ y: 1, x: 2 })), 2);
    await assert.rejects(p.opaque(kw({ a: 1 })), { code: "INVALID_PARAMS" });
    await assert.rejects(p.system.methodHelp("nope"), { code: "METHOD_NOT_FOUND" });
    const off = await start(new RPCHandler({ introspection: false }));
    const q = await connect(off.url);
    await assert.rejects(q.system.listMethods(), { code: "METHOD_NOT_FOUND" });
    await q.$close();
    await p.$close();
  });
});

describe("proxy", () => {
  it("is not a thenable, disposes asynchronously and rejects calls after close", async () => {
    const s = await start(basic());
    const p = await connect(s.url);
    assert.equal(p.then, undefined);
    assert.equal(await Promise.resolve(p), p);
    await p[Symbol.asyncDispose]();
    await assert.rejects(p.add(1, 2), { code: "CONNECTION_CLOSED" });
    await p.$close();
  });

  it("applies per-proxy and $with defaults, and keeps no timer alive", async () => {
    const gate = new Deferred<void>();
    const h = basic().register("hang", () => gate.promise);
    const s = await start(h);
    const p = await connect(s.url, { timeout: 20 });
    await assert.rejects(p.hang(), { code: "TIMEOUT" });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const slow = p.$with({ timeout: 60_000 });
    const pending = slow.hang();
    // A pending call's timer must not keep the process alive.
    assert.equal(timers(), before);
    gate.resolve();
    await pending;
    await p.$close();
  });

  it("sends JSON Uint8Array as base64 text and refuses BigInt clearly", async () => {
    const s = await start(new RPCHandler().register("echo", (v: unknown) => v));
    const p = await connect(s.url);
    assert.equal(await p.echo(new Uint8Array([104, 105])), "aGk=");
    assert.equal(await p.echo(Buffer.from("hi")), "aGk=");
    await assert.rejects(p.echo(1n), { code: "SERIALIZE_ERROR" });
    await p.$close();
  });

  it("reconnects: in-flight calls fail, later calls wait for the new connection", async () => {
    const gate = new Deferred<void>();
    const h = basic().register("hang", () => gate.promise);
    const name = `mem://reconnect-${process.pid}`;
    let s = await serve(h, name, { closeTimeout: 0 });
    const p = await connect(name, { reconnect: { minDelay: 1, maxDelay: 5 } });
    const inflight = p.hang();
    await turn();
    await s.close();
    await assert.rejects(inflight, { code: "CONNECTION_CLOSED" });
    const later = p.$call("add", [20, 22], undefined, { timeout: 5000 });
    s = await serve(h, name);
    assert.equal(await later, 42);
    await p.$close();
    await s.close();
    gate.resolve();
  });

  it("fails connect() clearly for unknown schemes and servers", async () => {
    await assert.rejects(connect("nope://x"), { code: "INVALID_URL" });
    await assert.rejects(connect("mem://nobody-here"), { code: "CONNECT_FAILED" });
    await assert.rejects(connect("tcp://127.0.0.1:1?authkey=x"), { code: "INVALID_URL" });
    await assert.rejects(connect("not a url"), { code: "INVALID_URL" });
  });
});
