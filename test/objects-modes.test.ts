/**
 * Instance modes: registerFactory(id, create, { per: "connection" }) gives
 * each connection its own instance, dropped (and disposed) when the
 * connection closes; { per: "call" } a new one per call; registerInstance
 * stays the shared mode. Real TCP on loopback.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve } from "../src/index.js";
import "../transports/tcp/index.js";
import { within } from "./support/async.js";

const KEY = "modes-test-key";

class Counter {
  n = 0;
  inc(by = 1): number {
    this.n += by;
    return this.n;
  }
  _hidden(): string {
    return "no";
  }
}

describe("instance modes", () => {
  it("per connection: one instance per connection, disposed when it closes; per call: fresh each call; shared: one for all", async () => {
    const handler = new RPCHandler();
    let made = 0;
    const disposed: Counter[] = [];
    let onDispose: (() => void) | undefined;
    handler.registerFactory(
      "session",
      () => {
        made++;
        return new Counter();
      },
      { per: "connection", dispose: (c) => {
        disposed.push(c as Counter);
        onDispose?.();
      } },
    );
    handler.registerFactory("fresh", () => new Counter(), { per: "call" });
    handler.registerInstance(new Counter(), "shared");
    const server = await serve(handler, "tcp://127.0.0.1:0", { authkey: KEY });
    const a = await connect(server.urlOf("session"), { authkey: KEY });
    const b = await connect(server.urlOf("session"), { authkey: KEY });
    const af = await connect(server.url, { authkey: KEY });
    try {
      assert.equal(await a.inc(), 1);
      assert.equal(await a.inc(), 2);
      assert.equal(await b.inc(), 1, "another connection has its own instance");
      assert.equal(await a.inc(5), 7);
      assert.equal(made, 2);

      assert.equal(await af.fresh.inc(), 1);
      assert.equal(await af.fresh.inc(), 1, "per call: a new instance each call");
      assert.equal(await af.shared.inc(), 1);
      assert.equal(await a.$call("inc"), 8);
      assert.equal(await af.shared.inc(), 2, "shared: one instance for every connection");

      await assert.rejects(a.$call("_hidden"), (e: unknown) => e instanceof RpcError && e.code === "METHOD_NOT_FOUND");
      await assert.rejects(a.nothing(), (e: unknown) => e instanceof RpcError && e.code === "METHOD_NOT_FOUND" && /session\.nothing/.test(e.message));

      const gone = new Promise<void>((resolve) => (onDispose = resolve));
      await a.$close();
      await within(gone, 10_000, "dispose after the connection closed");
      assert.equal(disposed.length, 1);
      assert.equal(disposed[0]?.n, 8, "the closing connection's own instance was disposed");
      assert.equal(await b.inc(), 2, "the other connection keeps its instance");

      const a2 = await connect(server.urlOf("session"), { authkey: KEY });
      try {
        assert.equal(await a2.inc(), 1, "a new connection starts fresh");
      } finally {
        await a2.$close();
      }

      assert.equal(handler.unregisterInstance("session"), 1);
      await assert.rejects(b.inc(), (e: unknown) => e instanceof RpcError && e.code === "METHOD_NOT_FOUND" && /object 'session'/.test(e.message));
    } finally {
      await a.$close();
      await b.$close();
      await af.$close();
      await server.close();
    }
  });

  it("refuses a bad mode with a TypeError", () => {
    const h = new RPCHandler();
    assert.throws(() => h.registerFactory("x", () => ({}), { per: "single" as "call" }), TypeError);
  });
});
