/**
 * Objects by URL: `connect(server.urlOf("greeter"))` reaches the object
 * registered as "greeter", on mem, tcp, ws, zmq and XML-RPC; objects come
 * and go while the server runs; a call to a removed object names it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type ObjectServer } from "../src/index.js";
import "../transports/memory/index.js";
import "../transports/tcp/index.js";
import "../transports/ws/index.js";
import "../transports/zmq/index.js";
import "../transports/xmlrpc/index.js";

class Greeter {
  constructor(readonly greeting: string) {}
  hello(name: string): string {
    return `${this.greeting}, ${name}`;
  }
}

class Counter {
  #n = 0;
  inc(by = 1): number {
    this.#n += by;
    return this.#n;
  }
}

const KEY = "objects-test-key";
const TARGETS = [
  { name: "mem", listen: "mem://0", opts: {} },
  { name: "tcp", listen: "tcp://127.0.0.1:0", opts: { authkey: KEY } },
  { name: "ws", listen: "ws://127.0.0.1:0/rpc", opts: { authkey: KEY } },
  { name: "zmq", listen: "zmq+tcp://127.0.0.1:0", opts: { authkey: KEY } },
  { name: "xmlrpc", listen: "xmlrpc+http://127.0.0.1:0", opts: {} },
];

function isNotFound(id: string) {
  return (err: unknown) => {
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(err.code, "METHOD_NOT_FOUND");
    assert.match(err.message, new RegExp(`object '${id}'`));
    return true;
  };
}

for (const t of TARGETS) {
  describe(`objects by URL over ${t.name}`, () => {
    it("the fragment picks the object; objects come and go while serving", async () => {
      const handler = new RPCHandler();
      handler.registerInstance(new Greeter("Hello"), "greeter");
      handler.registerInstance(new Greeter("Bonjour"), "fr.greeter");
      const server: ObjectServer = await serve(handler, t.listen, t.opts);
      const copts = t.name === "xmlrpc" ? { probe: false } : t.opts;
      const url = server.urlOf("greeter");
      assert.equal(url, `${server.url}#greeter`);
      const g = await connect(url, copts);
      const fr = await connect(server.urlOf("fr.greeter"), copts);
      const plain = await connect(server.url, copts);
      try {
        assert.equal(await g.hello("Ada"), "Hello, Ada");
        assert.equal(await fr.hello("Ada"), "Bonjour, Ada");
        assert.equal(await plain.greeter.hello("Bob"), "Hello, Bob");

        // Added while serving: an existing connection reaches it.
        handler.registerInstance(new Counter(), "counter");
        const c = await connect(server.urlOf("counter"), copts);
        try {
          assert.equal(await c.inc(), 1);
          assert.equal(await c.inc(2), 3);
        } finally {
          await c.$close();
        }

        // Removed while serving: the same proxy now fails naming the object.
        assert.equal(handler.unregisterInstance("greeter"), 1);
        await assert.rejects(g.hello("Ada"), isNotFound("greeter"));
        await assert.rejects(plain.greeter.hello("Ada"), isNotFound("greeter"));
        assert.equal(await fr.hello("Ada"), "Bonjour, Ada");

        // Back again under the same id: the proxy works again.
        handler.registerInstance(new Greeter("Hi"), "greeter");
        assert.equal(await g.hello("Ada"), "Hi, Ada");
      } finally {
        await g.$close();
        await fr.$close();
        await plain.$close();
        await server.close();
      }
    });
  });
}

describe("object URLs", () => {
  it("an object that never existed is METHOD_NOT_FOUND naming it; a missing method of a live object names the method", async () => {
    const handler = new RPCHandler();
    handler.registerInstance(new Greeter("Hello"), "greeter");
    const server = await serve(handler, "tcp://127.0.0.1:0", { authkey: KEY });
    const nobody = await connect(server.urlOf("nobody"), { authkey: KEY });
    const g = await connect(server.urlOf("greeter"), { authkey: KEY });
    try {
      await assert.rejects(nobody.hello("x"), isNotFound("nobody"));
      await assert.rejects(g.goodbye("x"), (err: unknown) => {
        assert.ok(err instanceof RpcError && err.code === "METHOD_NOT_FOUND");
        assert.match(err.message, /method 'greeter\.goodbye' is not registered/);
        return true;
      });
      // Private members stay private through a URL too.
      await assert.rejects(g.$call("_secret"), (err: unknown) => err instanceof RpcError && err.code === "METHOD_NOT_FOUND");
    } finally {
      await nobody.$close();
      await g.$close();
      await server.close();
    }
  });

  it("urlOf and connect refuse ids that cannot name an object, with INVALID_URL", async () => {
    const server = await serve(new RPCHandler(), "mem://0");
    try {
      for (const bad of ["", "a..b", "_private", "a._b", "__proto__", "x.constructor"]) {
        assert.throws(() => server.urlOf(bad), (e: unknown) => e instanceof RpcError && e.code === "INVALID_URL", bad);
      }
      for (const bad of [`${server.url}#`, `${server.url}#_x`, `${server.url}#a..b`, `${server.url}#%E0%A4%A`]) {
        await assert.rejects(connect(bad), (e: unknown) => e instanceof RpcError && e.code === "INVALID_URL", bad);
      }
    } finally {
      await server.close();
    }
  });

  it("ids with characters a URL escapes round-trip", async () => {
    const handler = new RPCHandler();
    handler.registerInstance(new Greeter("Hej"), "g r\u00e9et#er");
    const server = await serve(handler, "tcp://127.0.0.1:0", { authkey: KEY });
    const url = server.urlOf("g r\u00e9et#er");
    assert.ok(!url.slice(url.indexOf("#") + 1).includes("#"), url);
    const g = await connect(url, { authkey: KEY });
    try {
      assert.equal(await g.hello("Bo"), "Hej, Bo");
    } finally {
      await g.$close();
      await server.close();
    }
  });
});
