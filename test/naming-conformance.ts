/**
 * The name server block of the shared conformance suite (test/conformance.ts):
 * on each transport and serializer, a name server that also serves an object; register, lookup with metadata, list filters, names that
 * are hostile object keys ("__proto__", "constructor"), remove, and a
 * PYRONAME: connect to the object.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, locateNS, startNameServer, type NameServer, type NameServerClient, type ObjectServer } from "../src/index.js";
import type { ServeOptions } from "../src/endpoint.js";
import type { LooseOptions } from "../src/transport.js";
import type { ProxyOptions } from "../src/proxy.js";

export interface NamingTarget {
  name: string;
  listenUrl: string;
  serverOptions?: (ServeOptions & LooseOptions) | undefined;
  clientOptions?: (ProxyOptions & LooseOptions) | undefined;
  serializer: string;
}

export function namingConformance(target: NamingTarget): void {
  describe(`${target.name} name server (${target.serializer})`, () => {
    let ns: NameServer;
    let objects: ObjectServer;
    let client: NameServerClient;
    const clientOpts = (): ProxyOptions & LooseOptions => ({ ...target.clientOptions, serializer: target.serializer });

    before(async () => {
      // One server holds the name server and the object (some targets listen on a fixed address, zmq+ipc).
      const handler = new RPCHandler();
      handler.registerInstance({ hello: (who: string) => `hello ${who}` }, "greeter");
      ns = await startNameServer(target.listenUrl, { ...target.serverOptions, handler });
      objects = ns;
      client = await locateNS(ns.url, clientOpts());
    });
    after(async () => {
      await client?.close();
      await ns?.close();
    });

    it("register, lookup, list, remove, and names that are hostile object keys", async () => {
      await client.register("conf.greeter", objects.urlOf("greeter"), { metadata: ["a", "b"] });
      for (const hostile of ["toString", "hasOwnProperty", "valueOf", "__defineGetter__"]) await client.register(hostile, `tcp://127.0.0.1:1#${hostile}`);
      // Keys that some serializers drop or refuse are refused up front, never lost silently.
      for (const key of ["__proto__", "constructor", "prototype"]) {
        await assert.rejects(client.register(key, "tcp://127.0.0.1:1#p"), (e: unknown) => e instanceof RpcError && e.code === "INVALID_PARAMS" && e.message.includes(key));
      }
      assert.deepEqual(await client.lookup("conf.greeter", { metadata: true }), { url: objects.urlOf("greeter"), metadata: ["a", "b"] });
      const all = await client.list();
      assert.equal(Object.keys(all).length, 6);
      for (const key of ["toString", "hasOwnProperty", "valueOf", "__defineGetter__"]) {
        assert.equal(Object.getOwnPropertyDescriptor(all, key)?.value, `tcp://127.0.0.1:1#${key}`, `a name '${key}' is an own key of list()`);
      }
      assert.deepEqual(Object.keys(await client.list({ metadataAll: ["a", "b"] })), ["conf.greeter"]);
      assert.deepEqual(Object.keys(await client.list({ regex: "conf\\.g" })), ["conf.greeter"]);
      const withMeta = await client.list({ prefix: "conf.", metadata: true });
      assert.deepEqual({ ...withMeta }, { "conf.greeter": { url: objects.urlOf("greeter"), metadata: ["a", "b"] } });
      assert.equal(await client.lookup("toString"), "tcp://127.0.0.1:1#toString");
      assert.equal(await client.remove({ regex: "(toString|hasOwnProperty|valueOf|__defineGetter__)$" }), 4);
      assert.equal(await client.count(), 2);
    });

    it("PYRONAME: through this name server reaches the object", async () => {
      const p = await connect("PYRONAME:conf.greeter", { ...clientOpts(), nameserver: ns.url });
      try {
        assert.equal(await p.hello("conformance"), "hello conformance");
      } finally {
        await p.$close();
      }
    });
  });
}
