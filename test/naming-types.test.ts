/**
 * Compile-time checks for the name server's public types (tsc compiles this
 * file; the test runs the calls against a real name server).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, connect, locateNS, serve, startNameServer, type NameRecord } from "../src/index.js";
import "../transports/tcp/index.js";

describe("name server types", () => {
  it("PYRONAME: literals take the nameserver options; publish and the client methods are typed", async () => {
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: "k" });
    const handler = new RPCHandler();
    handler.registerInstance({ two: () => 2 }, "svc");
    const server = await serve(handler, "tcp://127.0.0.1:0", { authkey: "k" });
    try {
      const url: string = await server.publish("svc", { nameserver: ns.url, nameserverOptions: { authkey: "k" }, ttl: 5000 });
      assert.equal(url, server.urlOf("svc"));
      const p = await connect("PYRONAME:svc", { authkey: "k", nameserver: ns.url });
      assert.equal(await p.two(), 2);
      await p.$close();
      const c = await locateNS(ns.url, { authkey: "k" });
      const rec: NameRecord = await c.lookup("svc", { metadata: true });
      const plain: string = await c.lookup("svc");
      assert.equal(rec.url, plain);
      // @ts-expect-error metadata tags are strings
      await c.register("x", "tcp://h:1", { metadata: [1] }).catch(() => undefined);
      await c.close();
    } finally {
      await server.close();
      await ns.close();
    }
  });
});
