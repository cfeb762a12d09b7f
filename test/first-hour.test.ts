/**
 * Issue 19, "the first hour": mistakes a new user makes and must hear about
 * (tls:// without a certificate, authkey on mem://, a name registered twice),
 * and what must not be lost on the way (server.url's query, what a handler
 * throws when it is not an Error).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type AnyRemote, type Server } from "../src/index.js";
import { makeTestCerts, type TestCerts } from "./tcp-certs.js";
import { coded as isCode } from "./support/errors.js";

describe("first hour: tls:// needs a certificate", () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });

  it("serve() without cert/key is refused with INVALID_URL", async () => {
    const h = new RPCHandler().register("echo", (v: unknown) => v);
    await assert.rejects(serve(h, "tls://127.0.0.1:0"), isCode("INVALID_URL", /cert/));
    await assert.rejects(serve(h, "tls://127.0.0.1:0", { cert: certs.server.cert }), isCode("INVALID_URL", /key/));
  });

  it("with cert and key it serves", async () => {
    const h = new RPCHandler().register("echo", (v: unknown) => v);
    const server = await serve(h, "tls://127.0.0.1:0", { ...certs.server });
    try {
      const c = await connect(server.url, { ca: certs.server.cert });
      try {
        assert.equal(await c.echo("hi"), "hi");
      } finally {
        await c.$close();
      }
    } finally {
      await server.close();
    }
  });
});

describe("first hour: server.url keeps the query", () => {
  const handler = () => new RPCHandler().register("echo", (v: unknown) => v);
  const urls = ["tcp://127.0.0.1:0", "ws://127.0.0.1:0/rpc", "mem://0", "zmq+tcp://127.0.0.1:0"];
  for (const base of urls) {
    it(`${base}?serializer=superjson: connect(server.url) uses superjson`, async () => {
      const server = await serve(handler(), `${base}?serializer=superjson`);
      try {
        assert.match(server.url, /\?serializer=superjson$/);
        const c = await connect(server.url);
        try {
          // JSON would turn the Date into a string.
          const d = new Date(1_700_000_000_000);
          const back = await c.echo(d);
          assert.ok(back instanceof Date, `expected a Date back, got ${typeof back}`);
          assert.equal(back.getTime(), d.getTime());
        } finally {
          await c.$close();
        }
      } finally {
        await server.close();
      }
    });
  }

  it("xmlrpc+http:// keeps its query too", async () => {
    const server = await serve(handler(), "xmlrpc+http://127.0.0.1:0/rpc?timeout=5000");
    try {
      assert.match(server.url, /^xmlrpc\+http:\/\/127\.0\.0\.1:\d+\/rpc\?timeout=5000$/);
      const c = await connect(server.url);
      assert.equal(await c.echo("x"), "x");
    } finally {
      await server.close();
    }
  });
});

describe("first hour: what a handler throws that is not an Error", () => {
  let server: Server;
  let c: AnyRemote;
  before(async () => {
    const h = new RPCHandler()
      .register("code", () => {
        throw { code: 42 };
      })
      .register("full", () => {
        throw { message: "out of stock", code: "NO_STOCK", data: { item: 7 }, retryIn: 30 };
      })
      .register("text", () => {
        throw "plain text";
      })
      .register("hostile", () => {
        throw {
          get message(): string {
            throw new Error("boom");
          },
        };
      });
    server = await serve(h, "mem://0");
    c = await connect(server.url);
  });
  after(async () => {
    await c.$close();
    await server.close();
  });

  it("a plain object keeps its code", async () => {
    await assert.rejects(c.code(), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "42");
      assert.doesNotMatch(err.message, /\[object Object\]/);
      return true;
    });
  });

  it("a plain object keeps message, code, data and its other fields", async () => {
    await assert.rejects(c.full(), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "NO_STOCK");
      assert.equal(err.message, "out of stock");
      assert.deepEqual(err.data, { item: 7 });
      assert.equal((err as unknown as { retryIn: number }).retryIn, 30);
      return true;
    });
  });

  it("a string is the message", async () => {
    await assert.rejects(c.text(), isCode("REMOTE_ERROR", /^plain text$/));
  });

  it("a hostile object still gets an answer", async () => {
    await assert.rejects(c.hostile(), isCode("REMOTE_ERROR"));
  });
});

describe("first hour: registering a name twice", () => {
  it("register() twice is ALREADY_REGISTERED", () => {
    const h = new RPCHandler().register("f", () => 1);
    assert.throws(() => h.register("f", () => 2), isCode("ALREADY_REGISTERED", /replace: true/));
    assert.throws(() => h.registerInstance({ a: () => 3, f: () => 3 }), isCode("ALREADY_REGISTERED"));
    assert.ok(!h.listMethods().includes("a"), "a clash registers nothing of the instance");
    assert.throws(() => h.register("system.listMethods", () => []), isCode("ALREADY_REGISTERED"));
  });

  it("{ replace: true } replaces", async () => {
    const h = new RPCHandler().register("f", () => 1).register("f", () => 2, { replace: true });
    h.registerInstance({ f: () => 3 }, undefined, { replace: true });
    const server = await serve(h, "mem://0");
    try {
      const c = await connect(server.url);
      assert.equal(await c.f(), 3);
      await c.$close();
    } finally {
      await server.close();
    }
  });
});

describe("first hour: authkey on mem://", () => {
  const h = () => new RPCHandler().register("echo", (v: unknown) => v);

  it("the authkey option is refused on serve and connect", async () => {
    await assert.rejects(serve(h(), "mem://0", { authkey: "k" }), isCode("INVALID_URL", /mem:\/\/ cannot use an authkey/));
    const server = await serve(h(), "mem://0");
    try {
      await assert.rejects(connect(server.url, { authkey: "k" }), isCode("INVALID_URL", /authkey/));
    } finally {
      await server.close();
    }
  });

  it("WIRECALL_AUTHKEY is refused unless authkey: false says so", async () => {
    const saved = process.env.WIRECALL_AUTHKEY;
    process.env.WIRECALL_AUTHKEY = "from-env";
    try {
      await assert.rejects(serve(h(), "mem://0"), isCode("INVALID_URL", /WIRECALL_AUTHKEY/));
      const server = await serve(h(), "mem://0", { authkey: false });
      try {
        await assert.rejects(connect(server.url), isCode("INVALID_URL", /WIRECALL_AUTHKEY/));
        const c = await connect(server.url, { authkey: false });
        assert.equal(await c.echo(1), 1);
        await c.$close();
      } finally {
        await server.close();
      }
    } finally {
      if (saved === undefined) delete process.env.WIRECALL_AUTHKEY;
      else process.env.WIRECALL_AUTHKEY = saved;
    }
  });
});
