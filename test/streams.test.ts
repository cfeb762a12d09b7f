/**
 * Streams and references outside the conformance suite: peers and
 * protocols that cannot carry them, and hostile reference frames.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, ref, serve, type Server } from "../src/index.js";
import "../transports/memory/index.js";
import { Deferred } from "./support/async.js";
import { rawPeer, type RawPeer } from "./support/raw-peer.js";
// Registers the Python recipe: `profile: "python"` calls recipe servers.
import "../protocols/python/index.js";

const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register("count", async function* (n: number) {
    for (let i = 0; i < n; i++) yield i;
  });
  h.register("echo", (v: unknown) => v);
  h.register("call", async (cb: () => unknown) => cb());
  return h;
}

async function start(url: string, opts = {}): Promise<Server> {
  const s = await serve(handler(), url, opts);
  servers.push(s);
  return s;
}

/** A hand-driven JSON peer over mem://, with or without `"refs": 1` in its hello. */
async function raw(url: string, refs: boolean): Promise<RawPeer<unknown>> {
  const peer = await rawPeer(url, { hello: refs ? { wirecall: 1, serializer: "json", refs: 1 } : { wirecall: 1, serializer: "json" } });
  assert.equal(peer.hello?.refs, refs ? 1 : undefined);
  return peer;
}

describe("peers that did not negotiate references", () => {
  it("an old peer sees no new envelope: a returned stream is a SERIALIZE_ERROR naming the result", async () => {
    const s = await start("mem://0");
    const peer = await raw(s.url, false);
    peer.send([0, 1, "count", [3]]);
    const [kind, id, err] = (await peer.next()) as [number, number, { code: string; message: string }];
    assert.deepEqual([kind, id, err.code], [2, 1, "SERIALIZE_ERROR"]);
    assert.match(err.message, /stream .*at result/);
    // A peer that never says hello is served as before.
    peer.conn.close();
  });

  it("a ZeroMQ REQ client refuses a callback, naming the argument", async () => {
    const s = await start("zmq+tcp://127.0.0.1:0");
    const proxy = await connect(`${s.url}?socket=req`, { handshakeTimeout: 5000 });
    try {
      await assert.rejects(proxy.call(1, { deep: [() => 1] }), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /args\[1\]\.deep\[0\]/.test(e.message));
      await assert.rejects(proxy.echo(ref({})), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /args\[0\]/.test(e.message));
      assert.equal(await proxy.echo("still fine"), "still fine");
    } finally {
      await proxy.$close();
    }
  });

  it("XML-RPC and the Python recipe refuse functions and streams, naming where they sit", async () => {
    const x = await start("xmlrpc+http://127.0.0.1:0");
    const xp = await connect(x.url);
    try {
      await assert.rejects(xp.echo({ a: 1, cb: () => 1 }), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /args\[0\]\.cb/.test(e.message) && /XML-RPC/.test(e.message));
    } finally {
      await xp.$close();
    }
    const authkey = "streams-secret";
    const t = await start("tcp://127.0.0.1:0", { authkey });
    const py = await connect(`${t.url}?profile=python&idiom=pickle`, { authkey });
    try {
      const items = (async function* () {
        yield 1;
      })();
      await assert.rejects(py.$call("echo", [1], { feed: items }), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /kwargs\.feed/.test(e.message) && /Python recipe/.test(e.message));
    } finally {
      await py.$close();
    }
  });
});

describe("hostile reference frames", () => {
  it("a reference path through __proto__, off the value or onto a non-null slot is a PROTOCOL_ERROR; the connection goes on", async () => {
    const s = await start("mem://0");
    const peer = await raw(s.url, true);
    const bad: unknown[] = [
      [0, 1, "echo", [JSON.parse('{"__proto__": null}')], null, [[[3, 0, "__proto__"], "f", 1]]],
      [0, 2, "echo", [1], null, [[[3, 5], "f", 1]]],
      [0, 3, "echo", [1], null, [[[3, 0], "f", 1]]],
      [0, 4, "echo", [null], null, [[[3, 0], "x", 1]]],
      [0, 5, "echo", [null], null, "nope"],
      [0, 6, "echo", [null], null, [[[3, 0], "r", 99]]],
    ];
    for (const env of bad) peer.send(env);
    const codes = new Map<number, string>();
    for (let i = 0; i < bad.length; i++) {
      const [kind, id, err] = (await peer.next()) as [number, number, { code: string }];
      assert.equal(kind, 2);
      codes.set(id, err.code);
    }
    assert.deepEqual([...codes.keys()].sort(), [1, 2, 3, 4, 5, 6]);
    assert.equal(codes.get(6), "REFERENCE_RELEASED");
    for (const id of [1, 2, 3, 4, 5]) assert.equal(codes.get(id), "PROTOCOL_ERROR", `call ${id}`);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    peer.send([0, 7, "echo", ["ok"]]);
    assert.deepEqual(await peer.next(), [1, 7, "ok"]);
    peer.conn.close();
  });

  it("a stream item past the granted credit fails that stream and is a PROTOCOL_ERROR; the connection goes on", async () => {
    // The server reads one item of a stream this raw peer produces, then waits, with 64 items granted.
    const h = new RPCHandler();
    const gate = new Deferred();
    const failed = new Deferred<unknown>();
    h.register("hold", async (items: AsyncIterable<unknown>) => {
      const it = items[Symbol.asyncIterator]();
      await it.next();
      await gate.promise;
      try {
        while (!(await it.next()).done);
      } catch (e) {
        failed.resolve(e);
      }
      return "done";
    });
    h.register("echo", (v: unknown) => v);
    const s = await serve(h, "mem://0");
    servers.push(s);
    const peer = await raw(s.url, true);
    peer.send([0, 1, "hold", [null], null, [[[3, 0], "s", 1]]]);
    assert.deepEqual(await peer.next(), [9, 1, 64]);
    for (let i = 0; i < 65; i++) peer.send([8, 1, i]);
    assert.deepEqual(await peer.next(), [12, 1]);
    const err = (await peer.next()) as [number, unknown, { code: string }];
    assert.deepEqual([err[0], err[1], err[2].code], [2, null, "PROTOCOL_ERROR"]);
    gate.resolve();
    assert.equal(((await failed.promise) as RpcError).code, "PROTOCOL_ERROR");
    assert.deepEqual(await peer.next(), [1, 1, "done"]);
    peer.send([0, 2, "echo", ["ok"]]);
    assert.deepEqual(await peer.next(), [1, 2, "ok"]);
    peer.conn.close();
  });
});
