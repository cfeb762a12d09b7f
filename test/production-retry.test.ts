/**
 * Idempotent retries over tcp, ws and zmq: a call marked idempotent with a
 * retry policy whose connection is cut after the server ran its handler is
 * retried on the next connection with the same key, and the server answers
 * the repeat with the first outcome: the handler ran exactly once. Without
 * the mark the same cut fails the call.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, type AnyRemote, type CallContext, type RPCProxy } from "../src/index.js";
import { Deferred, TRANSPORTS, raw, start, within } from "./production-support.js";

/** Cut the client's current connection as a network failure would (not an orderly close). */
function cut(proxy: AnyRemote): void {
  const session = (proxy.$caller as RPCProxy).session;
  assert.ok(session, "a connection to cut");
  session.conn.close(new Error("network cable unplugged (test)"));
}

function payments(): { h: RPCHandler; ran: Deferred<string>; gate: Deferred<void>; runs: { n: number }; keys: string[] } {
  const ran = new Deferred<string>();
  const gate = new Deferred<void>();
  const runs = { n: 0 };
  const keys: string[] = [];
  const h = new RPCHandler();
  h.register(
    "charge",
    async (ctx: CallContext, amount: number) => {
      runs.n++;
      keys.push(String((ctx as { key?: string }).key));
      const receipt = `receipt-${runs.n}-${amount}`;
      ran.resolve(receipt);
      // The side effect is done; the answer is held until the test has cut the connection.
      await gate.promise;
      return receipt;
    },
    { context: true },
  );
  return { h, ran, gate, runs, keys };
}

for (const t of TRANSPORTS) {
  describe(`${t.name}: idempotent retries`, () => {
    it("the connection is cut after the handler ran: retried with the same key, the handler ran once, the first receipt comes back", async () => {
      const p = payments();
      let connections = 0;
      const second = new Deferred<void>();
      const server = await start(p.h, t.url(), {
        onConnect: () => {
          if (++connections === 2) second.resolve();
        },
      });
      const proxy = await connect(server.url, { reconnect: { minDelay: 10, maxDelay: 50 } });
      try {
        const call = proxy.$with({ idempotent: true, retry: { attempts: 3, minDelay: 10 } }).charge(42);
        assert.equal(await within(p.ran.promise, "the handler ran"), "receipt-1-42");
        cut(proxy);
        // The retry comes on a new connection, while the first call is still finishing on the server.
        await within(second.promise, "reconnected");
        p.gate.resolve();
        assert.equal(await within(call, "the retried call"), "receipt-1-42");
        assert.equal(p.runs.n, 1);
        // Another call is another key: it runs.
        assert.equal(await proxy.$with({ idempotent: true, retry: true }).charge(1), "receipt-2-1");
        assert.equal(p.runs.n, 2);
        assert.notEqual(p.keys[0], p.keys[1]);
      } finally {
        await proxy.$close();
      }
    });

    it("without idempotent the same cut fails the call with CONNECTION_CLOSED (nothing retried)", async () => {
      const p = payments();
      const server = await start(p.h, t.url());
      const proxy = await connect(server.url, { reconnect: { minDelay: 10, maxDelay: 50 } });
      try {
        const call = proxy.$with({ retry: true }).charge(7);
        await within(p.ran.promise, "the handler ran");
        cut(proxy);
        await assert.rejects(call, (e: RpcError) => e.code === "CONNECTION_CLOSED");
        p.gate.resolve();
        assert.equal(p.runs.n, 1);
      } finally {
        await proxy.$close();
      }
    });
  });
}

describe("idempotency keys on the server", () => {
  it("a repeat after the first settled is answered from it; another method or key runs; errors replay too", async () => {
    let runs = 0;
    const h = new RPCHandler();
    h.register("once", (x: number) => `ran ${++runs} with ${x}`);
    h.register("boom", () => {
      runs++;
      throw new RpcError("SHUTTING_DOWN", "no");
    });
    const server = await start(h, "tcp://127.0.0.1:0", { idempotency: { window: 60_000, maxKeys: 2 } });
    const proxy = await connect(server.url);
    try {
      const k = proxy.$with({ idempotent: "order-17" });
      assert.equal(await k.once(1), "ran 1 with 1");
      // Same key, same method: the first outcome, even with other arguments (the key names the operation).
      assert.equal(await k.once(2), "ran 1 with 1");
      await assert.rejects(k.boom(), (e: RpcError) => e.code === "SHUTTING_DOWN");
      await assert.rejects(k.boom(), (e: RpcError) => e.code === "SHUTTING_DOWN");
      assert.equal(runs, 2);
      // Bounded: a third key pushes the oldest out, whose repeat then runs again.
      assert.equal(await proxy.$with({ idempotent: "other" }).once(3), "ran 3 with 3");
      assert.equal(await k.once(4), "ran 4 with 4");
      // Without a key every call runs.
      assert.equal(await proxy.once(5), "ran 5 with 5");
    } finally {
      await proxy.$close();
    }
  });

  it("idempotency: false runs every repeat; the key travels in the call header", async () => {
    let runs = 0;
    const h = new RPCHandler().register("once", () => ++runs);
    const server = await start(h, "tcp://127.0.0.1:0", { idempotency: false });
    const peer = await raw(server.url);
    try {
      peer.send({ wirecall: 1, serializer: "json", meta: 1 });
      await peer.next();
      peer.send([0, 1, "once", [], null, null, { key: "k1" }]);
      assert.deepEqual(await peer.next(), [1, 1, 1]);
      peer.send([0, 2, "once", [], null, null, { key: "k1" }]);
      assert.deepEqual(await peer.next(), [1, 2, 2]);
      peer.send([0, 3, "once", [], null, null, { key: "x".repeat(129) }]);
      const bad = (await peer.next()) as [number, number, { code: string }];
      assert.deepEqual([bad[0], bad[1], bad[2].code], [2, 3, "PROTOCOL_ERROR"]);
    } finally {
      peer.conn.close();
    }
  });
});
