/**
 * The name server over real tcp, ws and zmq on loopback: register, lookup, list
 * with prefix/regex/metadata filters, remove, ping, count, safe; the
 * `Pyro.NameServer` object answers Pyro4's argument names as keyword
 * arguments; bad input is refused with codes while the server keeps serving.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, connect, kw, locateNS, startNameServer, NamingError, type NameServer, type NameServerClient } from "../src/index.js";
import "../transports/tcp/index.js";
import "../transports/ws/index.js";
import "../transports/zmq/index.js";
import { coded } from "./support/errors.js";

const KEY = "naming-test-key";

const TARGETS = [
  { name: "tcp", listen: "tcp://127.0.0.1:0" },
  { name: "ws", listen: "ws://127.0.0.1:0/ns" },
  { name: "zmq", listen: "zmq+tcp://127.0.0.1:0" },
];

for (const t of TARGETS) {
  describe(`name server over ${t.name}`, () => {
    it("register, lookup, list with every filter, remove, ping, count", async () => {
      const ns: NameServer = await startNameServer(t.listen, { authkey: KEY });
      const client: NameServerClient = await locateNS(ns.url, { authkey: KEY });
      try {
        await client.ping();
        assert.equal(await client.count(), 1, "the name server's own registration, as in Pyro");
        assert.equal(await client.lookup("Pyro.NameServer"), ns.nsUrl);

        await client.register("shop.cart", "tcp://127.0.0.1:5000#cart", { metadata: ["eu", "v2"] });
        await client.register("shop.stock", "ws://127.0.0.1:5001/rpc#stock", { metadata: ["us"] });
        await client.register("bank.teller", "zmq+tcp://127.0.0.1:5002#teller", { metadata: new Set(["eu"]) });
        assert.equal(await client.count(), 4);

        assert.equal(await client.lookup("shop.cart"), "tcp://127.0.0.1:5000#cart");
        assert.deepEqual(await client.lookup("shop.cart", { metadata: true }), { url: "tcp://127.0.0.1:5000#cart", metadata: ["eu", "v2"] });
        await assert.rejects(client.lookup("nope"), coded("NAME_NOT_FOUND", /unknown name: nope/));
        await assert.rejects(client.lookup("nope"), (e: unknown) => e instanceof NamingError);

        assert.deepEqual(Object.keys(await client.list()).sort(), ["Pyro.NameServer", "bank.teller", "shop.cart", "shop.stock"]);
        assert.deepEqual({ ...(await client.list({ prefix: "shop." })) }, {
          "shop.cart": "tcp://127.0.0.1:5000#cart",
          "shop.stock": "ws://127.0.0.1:5001/rpc#stock",
        });
        // re.match: anchored at the start only.
        assert.deepEqual(Object.keys(await client.list({ regex: "s.*t" })).sort(), ["shop.cart", "shop.stock"]);
        assert.deepEqual(Object.keys(await client.list({ regex: "[a-z]+\\.t" })), ["bank.teller"]);
        assert.deepEqual(Object.keys(await client.list({ regex: "cart" })), [], "re.match does not search");
        assert.deepEqual(Object.keys(await client.list({ regex: "shop\\.(cart|stock)$" })).sort(), ["shop.cart", "shop.stock"]);
        assert.deepEqual(Object.keys(await client.list({ metadataAll: ["eu"] })).sort(), ["bank.teller", "shop.cart"]);
        assert.deepEqual(Object.keys(await client.list({ metadataAll: ["eu", "v2"] })), ["shop.cart"]);
        assert.deepEqual(Object.keys(await client.list({ metadataAny: ["us", "v2"] })).sort(), ["shop.cart", "shop.stock"]);
        assert.deepEqual({ ...(await client.list({ prefix: "bank", metadata: true })) }, {
          "bank.teller": { url: "zmq+tcp://127.0.0.1:5002#teller", metadata: ["eu"] },
        });
        await assert.rejects(client.list({ prefix: "a", regex: "b" }), coded("INVALID_PARAMS", /one thing at a time/));

        await client.setMetadata("shop.stock", ["us", "eu"]);
        assert.deepEqual(Object.keys(await client.list({ metadataAll: ["eu"] })).sort(), ["bank.teller", "shop.cart", "shop.stock"]);
        await assert.rejects(client.setMetadata("nope", ["x"]), coded("NAME_NOT_FOUND"));

        // safe refuses to overwrite; unsafe overwrites.
        await assert.rejects(client.register("shop.cart", "tcp://127.0.0.1:6000#cart", { safe: true }), coded("NAME_TAKEN", /shop\.cart/));
        assert.equal(await client.lookup("shop.cart"), "tcp://127.0.0.1:5000#cart");
        await client.register("shop.cart", "tcp://127.0.0.1:6000#cart");
        assert.equal(await client.lookup("shop.cart"), "tcp://127.0.0.1:6000#cart");

        assert.equal(await client.remove("shop.cart"), 1);
        assert.equal(await client.remove("shop.cart"), 0);
        await assert.rejects(client.lookup("shop.cart"), coded("NAME_NOT_FOUND"));
        await client.register("shop.a", "tcp://127.0.0.1:1#a");
        await client.register("shop.b", "tcp://127.0.0.1:1#b");
        assert.equal(await client.remove({ prefix: "shop." }), 3);
        assert.equal(await client.remove({ regex: "b.*" }), 1);
        // The name server's own name stays, as in Pyro.
        assert.equal(await client.remove("Pyro.NameServer"), 0);
        assert.equal(await client.remove({ prefix: "Pyro" }), 0);
        await assert.rejects(client.register("Pyro.NameServer", "tcp://127.0.0.1:1#x"), coded("NAME_TAKEN"));
        assert.equal(await client.count(), 1);
      } finally {
        await client.close();
        await ns.close();
      }
    });

    it("answers Pyro4's NameServer API by position and by Pyro's keyword names", async () => {
      const ns = await startNameServer(t.listen, { authkey: KEY });
      const raw = await connect(ns.nsUrl, { authkey: KEY });
      try {
        // register(name, uri, safe=False, metadata=None)
        assert.equal(await raw.register("a.b", "tcp://127.0.0.1:1#b", false, ["x"]), null);
        assert.equal(await raw.register(kw({ name: "a.c", uri: "tcp://127.0.0.1:1#c", metadata: ["y", "x"] })), null);
        await assert.rejects(raw.register("a.c", "tcp://127.0.0.1:1#c", kw({ safe: true })), coded("NAME_TAKEN"));
        // lookup(name, return_metadata=False)
        assert.deepEqual(await raw.lookup("a.c", kw({ return_metadata: true })), ["tcp://127.0.0.1:1#c", ["y", "x"]]);
        // list(prefix=None, regex=None, metadata_all=None, metadata_any=None, return_metadata=False)
        assert.deepEqual(await raw.list(null, null, ["x"], null, true), { "a.b": ["tcp://127.0.0.1:1#b", ["x"]], "a.c": ["tcp://127.0.0.1:1#c", ["y", "x"]] });
        assert.deepEqual(await raw.list(kw({ metadata_any: ["y"] })), { "a.c": "tcp://127.0.0.1:1#c" });
        // set_metadata(name, metadata)
        assert.equal(await raw.set_metadata("a.b", []), null);
        assert.deepEqual(await raw.lookup("a.b", true), ["tcp://127.0.0.1:1#b", []]);
        // remove(name=None, prefix=None, regex=None)
        assert.equal(await raw.remove(kw({ regex: "a\\.[bc]" })), 2);
        assert.equal(await raw.ping(), null);
        assert.equal(await raw.count(), 1);
        await assert.rejects(raw.register("x", "tcp://h:1", kw({ bogus: 1 })), coded("INVALID_PARAMS", /bogus/));
      } finally {
        await raw.$close();
        await ns.close();
      }
    });
  });
}

describe("name server bounds", () => {
  it("over-long names, URLs, tags, regexes and too many names are refused with codes; honest calls keep working", async () => {
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY, limits: { maxNames: 20 } });
    const client = await locateNS(ns.url, { authkey: KEY });
    try {
      const L = ns.registry.limits;
      await assert.rejects(client.register("n".repeat(L.maxNameLength + 1), "tcp://h:1"), coded("NAMING_LIMIT", /name is 513 characters/));
      await assert.rejects(client.register("ok", `tcp://h:1#${"u".repeat(L.maxUrlLength)}`), coded("NAMING_LIMIT", /uri/));
      await assert.rejects(client.register("ok", "tcp://h:1", { metadata: Array.from({ length: L.maxMetadata + 1 }, (_, i) => `t${i}`) }), coded("NAMING_LIMIT", /tags/));
      await assert.rejects(client.register("ok", "tcp://h:1", { metadata: ["t".repeat(L.maxMetadataLength + 1)] }), coded("NAMING_LIMIT", /tag/));
      await assert.rejects(client.list({ regex: "a".repeat(L.maxRegexLength + 1) }), coded("NAMING_LIMIT", /regex/));
      await assert.rejects(client.list({ regex: "a{1000}b{1000}" }), coded("NAMING_LIMIT", /states/));
      await assert.rejects(client.list({ regex: "(a)\\1" }), coded("INVALID_PARAMS", /backreferences/));
      await assert.rejects(client.list({ regex: "a(?=b)" }), coded("INVALID_PARAMS", /lookahead/));
      await assert.rejects(client.list({ regex: "(ab" }), coded("INVALID_PARAMS", /missing '\)'/));
      await assert.rejects(client.register("ok", "not a url"), coded("INVALID_PARAMS", /not a URL/));
      await assert.rejects(client.register("ok", "PYRONAME:other"), coded("INVALID_PARAMS", /itself a name lookup/));
      await assert.rejects(client.register("ok", "tcp://h:1", { metadata: "tag" as unknown as string[] }), coded("INVALID_PARAMS", /not a string/));
      await assert.rejects(client.register("", "tcp://h:1"), coded("INVALID_PARAMS", /empty/));
      await assert.rejects(client.register("ok", "tcp://h:1", { ttl: 1 }), coded("NAMING_LIMIT", /ttl/));
      for (let i = 1; i < 20; i++) await client.register(`n${i}`, "tcp://h:1");
      await assert.rejects(client.register("one.more", "tcp://h:1"), coded("NAMING_LIMIT", /holds 20 names/));
      await client.register("n1", "tcp://h:2"); // re-registering a held name is not a new one
      assert.equal(await client.count(), 20);
      assert.equal(await client.lookup("n1"), "tcp://h:2");
    } finally {
      await client.close();
      await ns.close();
    }
  });

  it("a catastrophic-backtracking regex over long names costs linear time", async () => {
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
    const client = await locateNS(ns.url, { authkey: KEY });
    try {
      // (a+)+$ against "aaaa...!" takes exponential time in a backtracking engine.
      for (let i = 0; i < 50; i++) await client.register(`${"a".repeat(500)}${i}!`, "tcp://h:1");
      const t0 = process.hrtime.bigint();
      assert.deepEqual({ ...(await client.list({ regex: "(a+)+$" })) }, {});
      assert.deepEqual(Object.keys(await client.list({ regex: "(a|aa)*\\d+!$" })).length, 50);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.ok(ms < 5000, `two regex lists over 50 names of 500 characters took ${ms} ms`);
    } finally {
      await client.close();
      await ns.close();
    }
  });
});

describe("locateNS", () => {
  it("takes host:port as tcp, and a name server sharing a handler keeps the handler's functions", async () => {
    const handler = new RPCHandler();
    handler.register(function add(a: number, b: number) {
      return a + b;
    });
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY, handler });
    const port = new URL(ns.url).port;
    const client = await locateNS(`127.0.0.1:${port}`, { authkey: KEY });
    const plain = await connect(ns.url, { authkey: KEY });
    try {
      assert.equal(await client.count(), 1);
      assert.equal(await plain.add(2, 3), 5);
    } finally {
      await client.close();
      await plain.$close();
      await ns.close();
    }
  });

  it("a wrong authkey is AUTH_FAILED", async () => {
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
    try {
      await assert.rejects(locateNS(ns.url, { authkey: "wrong" }), coded("AUTH_FAILED"));
    } finally {
      await ns.close();
    }
  });
});
