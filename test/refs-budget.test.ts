/**
 * Calls through references (callbacks, `ref()` objects) count in the same
 * in-flight budget as calls (`maxInFlight`): a flood of them waits for
 * slots, queues within `maxQueued`, then stops the connection being read,
 * like any flood of calls. Real servers over tcp:// and ws://.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, connect, ref, serve, type AnyRemote, type CallContext } from "../src/index.js";
import { Deferred } from "./conformance.js";

class Gauge {
  running = 0;
  most = 0;
  done = 0;
  enter(): void {
    this.running++;
    this.most = Math.max(this.most, this.running);
  }
  leave(): void {
    this.running--;
    this.done++;
  }
}

for (const url of ["tcp://127.0.0.1:0", "ws://127.0.0.1:0/rpc"]) {
  const scheme = url.slice(0, url.indexOf(":"));
  describe(`${scheme}: calls through references share the in-flight budget`, () => {
    it("a flood of calls on a ref() object, beside handler calls, never runs more than maxInFlight at once", async () => {
      const LIMIT = 8;
      // Within the default queue (64 calls), so that the limit, not a paused socket, is what holds the flood back.
      const FLOOD = 60;
      const gauge = new Gauge();
      const gate = new Deferred();
      const fenced = new Deferred();
      const h = new RPCHandler();
      h.register("block", async () => {
        gauge.enter();
        await gate.promise;
        gauge.leave();
        return "blocked";
      });
      h.register("make", () => ({
        target: ref({
          async hold(i: number) {
            gauge.enter();
            await gate.promise;
            gauge.leave();
            return i;
          },
        }),
        // Its first item is pulled when the client's credit arrives, which the client sends after the flood:
        // by then the server has read every call of the flood.
        fence: (async function* () {
          fenced.resolve();
          yield "read";
        })(),
      }));
      const server = await serve(h, url, { maxInFlight: LIMIT });
      const proxy = await connect(server.url, { serializer: "msgpack" });
      try {
        const { target, fence } = (await proxy.make()) as { target: AnyRemote; fence: AsyncIterable<string> };
        const blocked = [proxy.block(), proxy.block(), proxy.block()];
        const flood = Array.from({ length: FLOOD }, (_, i) => target.hold(i) as Promise<number>);
        const it = fence[Symbol.asyncIterator]();
        const first = it.next();
        await fenced.promise;
        assert.equal(gauge.running, LIMIT, "the budget is not used up: the calls are not running");
        assert.equal(gauge.most, LIMIT, `${gauge.most} calls ran at once with maxInFlight ${LIMIT}`);
        assert.deepEqual(await first, { value: "read", done: false });
        gate.resolve();
        const got = await Promise.all(flood);
        assert.deepEqual(got, Array.from({ length: FLOOD }, (_, i) => i));
        assert.deepEqual(await Promise.all(blocked), ["blocked", "blocked", "blocked"]);
        assert.equal(gauge.most, LIMIT);
        assert.equal(gauge.done, FLOOD + 3);
        await it.return?.();
      } finally {
        await proxy.$close();
        await server.close();
      }
    });

    it("a server flooding a client's callback runs at most the client's maxInFlight at once; every call is answered", async () => {
      const LIMIT = 4;
      const FLOOD = 500;
      const gauge = new Gauge();
      const full = new Deferred();
      const h = new RPCHandler();
      h.register("fanOut", async (n: number, cb: (i: number) => Promise<number>) => {
        const got = await Promise.all(Array.from({ length: n }, (_, i) => cb(i)));
        return got.reduce((a, b) => a + b, 0);
      });
      // The server's own budget is not the point here.
      h.register("whoAmI", (ctx: CallContext) => ctx.method, { context: true });
      const server = await serve(h, url);
      const proxy = await connect(server.url, { maxInFlight: LIMIT });
      try {
        const sum = await proxy.fanOut(FLOOD, async (i: number) => {
          gauge.enter();
          // Held until the budget is full, so that a client running more than LIMIT at once would show it.
          if (gauge.running >= LIMIT) full.resolve();
          await full.promise;
          gauge.leave();
          return i;
        });
        assert.equal(sum, (FLOOD * (FLOOD - 1)) / 2);
        assert.equal(gauge.most, LIMIT, `${gauge.most} callbacks ran at once with maxInFlight ${LIMIT}`);
        assert.equal(gauge.done, FLOOD);
        assert.equal(await proxy.whoAmI(), "whoAmI");
      } finally {
        await proxy.$close();
        await server.close();
      }
    });
  });
}
