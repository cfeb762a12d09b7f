/**
 * Connection lifecycle over tcp, ws and zmq: `onConnect` admits or refuses
 * (the client sees the reason and the code), may decide asynchronously,
 * `onDisconnect` is called once per admitted connection, and `ctx.session`
 * is per-connection state that lives as long as the connection.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, type CallContext, type ConnectionInfo } from "../src/index.js";
import { Deferred, TRANSPORTS, start, within } from "./production-support.js";

function sessionHandler(): RPCHandler {
  const h = new RPCHandler();
  h.register(
    "visit",
    (ctx: CallContext) => {
      const s = ctx.session as { visits?: number; user?: string };
      s.visits = (s.visits ?? 0) + 1;
      return `${s.user ?? "anon"}:${s.visits}`;
    },
    { context: true },
  );
  return h;
}

for (const t of TRANSPORTS) {
  describe(`${t.name}: connection hooks and per-connection state`, () => {
    it("onConnect refuses with a reason the client sees, sync or async, with its code", async () => {
      let n = 0;
      const server = await start(sessionHandler(), t.url(), {
        onConnect: async () => {
          n++;
          if (n === 1) throw new Error("tenant acme is over its connection quota");
          if (n === 2) throw new RpcError("AUTH_FAILED", "no token");
          await Promise.resolve();
          if (n === 3) throw new Error("maintenance until 18:00");
        },
      });
      await assert.rejects(connect(server.url), (e: RpcError) => e instanceof RpcError && e.code === "CONNECTION_REFUSED" && /over its connection quota/.test(e.message));
      await assert.rejects(connect(server.url), (e: RpcError) => e.code === "AUTH_FAILED" && /no token/.test(e.message));
      await assert.rejects(connect(server.url), (e: RpcError) => e.code === "CONNECTION_REFUSED" && /maintenance until 18:00/.test(e.message));
      const ok = await connect(server.url);
      assert.equal(await ok.visit(), "anon:1");
      await ok.$close();
    });

    it("onConnect may take its time: the connection is admitted when it resolves; state set there is ctx.session", async () => {
      const gate = new Deferred<void>();
      const entered = new Deferred<void>();
      const closed: { info: ConnectionInfo; err: Error | undefined }[] = [];
      const gone = new Deferred<void>();
      let users = 0;
      const server = await start(sessionHandler(), t.url(), {
        onConnect: async (conn) => {
          assert.equal(conn.transport.startsWith(t.name === "zmq" ? "zmq" : t.name), true, conn.transport);
          conn.session.user = `user${++users}`;
          entered.resolve();
          if (users === 1) await gate.promise;
        },
        onDisconnect: (info, err) => {
          closed.push({ info, err });
          if (closed.length === 2) gone.resolve();
        },
      });
      let ready = false;
      const first = connect(server.url).then((p) => {
        ready = true;
        return p;
      });
      await within(entered.promise, "onConnect called");
      assert.equal(ready, false);
      gate.resolve();
      const a = await within(first, "admitted");
      const b = await connect(server.url);
      assert.equal(await a.visit(), "user1:1");
      assert.equal(await a.visit(), "user1:2");
      assert.equal(await b.visit(), "user2:1");
      assert.equal(await a.visit(), "user1:3");
      await a.$close();
      await b.$close();
      await within(gone.promise, "onDisconnect for both");
      assert.deepEqual(closed.map((c) => c.info.session.user).sort(), ["user1", "user2"]);
      assert.deepEqual(closed.map((c) => c.info.session.visits).sort(), [1, 3]);
    });
  });
}

describe("connection hooks: a refused connection runs no call and gets no onDisconnect", () => {
  it("tcp", async () => {
    let disconnects = 0;
    const one = new Deferred<void>();
    let calls = 0;
    const h = new RPCHandler().register("f", () => ++calls);
    const server = await start(h, "tcp://127.0.0.1:0", {
      onConnect: (c) => {
        if (c.serializer === "msgpack") throw new Error("json only here");
      },
      onDisconnect: () => {
        disconnects++;
        one.resolve();
      },
    });
    await assert.rejects(connect(server.url, { serializer: "msgpack" }), (e: RpcError) => e.code === "CONNECTION_REFUSED" && /json only/.test(e.message));
    const p = await connect(server.url);
    assert.equal(await p.f(), 1);
    await p.$close();
    assert.equal(calls, 1);
    await within(one.promise, "onDisconnect");
    // The refused connection closed first; it never counted.
    assert.equal(disconnects, 1);
  });
});
