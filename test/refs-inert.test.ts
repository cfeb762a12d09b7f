/**
 * A facade is inert to inspection: stringifying, printing or converting a
 * proxy makes no remote call and throws nothing (it used to fire a remote
 * `toJSON` whose rejection was unhandled and killed the process).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { RPCHandler, connect, serve, type AnyRemote, type Server } from "../src/index.js";

describe("an inspected proxy makes no remote call", () => {
  let server: Server;
  let proxy: AnyRemote;
  const seen: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    const handler = new RPCHandler();
    handler.use((ctx, next) => {
      seen.push(ctx.method);
      return next();
    });
    handler.register("ping", () => "pong");
    handler.register("toJSON", () => "remote toJSON");
    server = await serve(handler, "mem://inert");
    proxy = await connect(server.url);
  });

  after(async () => {
    await proxy.$close();
    await server.close();
    process.off("unhandledRejection", onUnhandled);
  });

  it("JSON.stringify, String, templates, inspect, toJSON, Symbol.toPrimitive, valueOf", async () => {
    const nested = proxy.greeter;
    for (const p of [proxy, nested]) {
      assert.equal(JSON.stringify(p), undefined);
      assert.equal(JSON.stringify({ p }), "{}");
      assert.match(String(p), /^\[wirecall proxy/);
      assert.match(`${p}`, /^\[wirecall proxy/);
      assert.equal(typeof inspect(p), "string");
      assert.equal(typeof inspect(p, { showProxy: true }), "string");
      assert.equal(p.toJSON, undefined);
      assert.equal(typeof (p as unknown as { [Symbol.toPrimitive]: () => string })[Symbol.toPrimitive](), "string");
      assert.match(p.toString(), /wirecall proxy/);
      assert.match(String(p.valueOf()), /wirecall proxy/);
      assert.equal("toJSON" in p, false);
      const log = console.log;
      console.log = () => {};
      try {
        console.log(p);
        console.log("%s %o %j", p, p, p);
      } finally {
        console.log = log;
      }
    }
    assert.match(String(nested), /greeter/);
    // A call afterwards proves the connection is fine and the server saw only it.
    assert.equal(await proxy.ping(), "pong");
    // `$call` still reaches a remote method named like an inert one.
    assert.equal(await proxy.$call("toJSON"), "remote toJSON");
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ["ping", "toJSON"]);
    assert.deepEqual(unhandled, []);
  });
});
