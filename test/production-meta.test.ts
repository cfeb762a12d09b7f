/**
 * Call metadata both ways over tcp, ws and zmq: `$with({ meta })`,
 * `connect(url, { meta })`, `ctx.meta`, `ctx.setResponseMeta` and
 * `onResponseMeta`, the limits on both ends, and the wire as a peer that
 * did or did not negotiate call headers sees it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, type CallContext } from "../src/index.js";
import { getTransport } from "../src/transport-sdk.js";
import { TRANSPORTS, dec, enc, raw, start } from "./production-support.js";

function metaHandler(ran: { count: number }): RPCHandler {
  const h = new RPCHandler();
  h.register(
    "whoami",
    (ctx: CallContext) => {
      ran.count++;
      ctx.setResponseMeta({ served: "yes" });
      ctx.setResponseMeta({ region: "eu" });
      return { ...ctx.meta };
    },
    { context: true },
  );
  h.register(
    "fail",
    (ctx: CallContext) => {
      ctx.setResponseMeta({ retryAfter: "5" });
      throw new RpcError("SHUTTING_DOWN", "busy");
    },
    { context: true },
  );
  h.register(
    "bigAnswer",
    (ctx: CallContext) => {
      ctx.setResponseMeta({ big: "x".repeat(10_000) });
      return 1;
    },
    { context: true },
  );
  h.register("proto", (ctx: CallContext) => Object.getPrototypeOf(ctx.meta) === null && Object.keys(ctx.meta).length, { context: true });
  return h;
}

for (const t of TRANSPORTS) {
  describe(`${t.name}: call metadata`, () => {
    it("travels both ways: $with, per-connection defaults, ctx.meta, response metadata on success and error", async () => {
      const ran = { count: 0 };
      const server = await start(metaHandler(ran), t.url());
      const proxy = await connect(server.url, { meta: { tenant: "acme" } });
      try {
        const got: Record<string, string>[] = [];
        const authed = proxy.$with({ meta: { authorization: "Bearer t0k" }, onResponseMeta: (m) => got.push({ ...m }) });
        assert.deepEqual(await authed.whoami(), { tenant: "acme", authorization: "Bearer t0k" });
        assert.deepEqual(got, [{ served: "yes", region: "eu" }]);
        // $with over $with merges metadata entry by entry; per-call wins.
        assert.deepEqual(await authed.$with({ meta: { tenant: "other", span: "1" } }).whoami(), { tenant: "other", authorization: "Bearer t0k", span: "1" });
        // No metadata of its own: the connection's defaults only.
        assert.deepEqual(await proxy.whoami(), { tenant: "acme" });
        // A failing call still brings its answer's metadata.
        const onError: Record<string, string>[] = [];
        await assert.rejects(
          proxy.$call("fail", [], undefined, { onResponseMeta: (m) => onError.push({ ...m }) }),
          (e: RpcError) => e.code === "SHUTTING_DOWN",
        );
        assert.deepEqual(onError, [{ retryAfter: "5" }]);
        assert.equal(await proxy.$with({ meta: { ["__proto__"]: "x" } }).proto(), 2);
      } finally {
        await proxy.$close();
      }
    });

    it("limits: the caller refuses before sending; the server refuses what passes its own limits and keeps serving", async () => {
      const ran = { count: 0 };
      const server = await start(metaHandler(ran), t.url(), { metaLimits: { maxEntries: 3, maxBytes: 64 } });
      const proxy = await connect(server.url);
      try {
        const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
        await assert.rejects(proxy.$with({ meta: many }).whoami(), (e: RpcError) => e instanceof RpcError && e.code === "META_TOO_LARGE" && /64 entries/.test(e.message));
        await assert.rejects(proxy.$with({ meta: { a: "x".repeat(9000) } }).whoami(), (e: RpcError) => e.code === "META_TOO_LARGE" && /8192 bytes/.test(e.message));
        await assert.rejects(proxy.$with({ meta: { n: 1 as unknown as string } }).whoami(), (e: RpcError) => e.code === "INVALID_META" && /'n'/.test(e.message));
        assert.equal(ran.count, 0);
        // Within the caller's limits, past the server's: answered, the handler never ran.
        await assert.rejects(proxy.$with({ meta: { a: "1", b: "2", c: "3", d: "4" } }).whoami(), (e: RpcError) => e.code === "META_TOO_LARGE" && /3 entries/.test(e.message));
        await assert.rejects(proxy.$with({ meta: { a: "y".repeat(100) } }).whoami(), (e: RpcError) => e.code === "META_TOO_LARGE" && /64 bytes/.test(e.message));
        assert.equal(ran.count, 0);
        // A handler's response metadata past the limit fails its call, with the code, on the server.
        await assert.rejects(proxy.bigAnswer(), (e: RpcError) => e.code === "META_TOO_LARGE");
        assert.deepEqual(await proxy.$with({ meta: { a: "1" } }).whoami(), { a: "1" });
        assert.equal(ran.count, 1);
      } finally {
        await proxy.$close();
      }
    });

    it("the client refuses response metadata past its own limits", async () => {
      const h = new RPCHandler().register(
        "many",
        (ctx: CallContext) => {
          ctx.setResponseMeta({ a: "1", b: "2", c: "3" });
          return "ok";
        },
        { context: true },
      );
      const server = await start(h, t.url());
      const proxy = await connect(server.url, { metaLimits: { maxEntries: 2 } });
      try {
        await assert.rejects(proxy.many(), (e: RpcError) => e.code === "META_TOO_LARGE" && /response metadata/.test(e.message));
        // Without a listener the metadata is still checked, and the next call is fine.
        const proxy2 = await connect(server.url);
        assert.equal(await proxy2.many(), "ok");
        await proxy2.$close();
      } finally {
        await proxy.$close();
      }
    });
  });
}

describe("call headers on the wire (docs/protocol.md, section 7)", () => {
  it("a peer that negotiated them sends and receives the trailing header", async () => {
    const server = await start(metaHandler({ count: 0 }), "tcp://127.0.0.1:0");
    const peer = await raw(server.url);
    try {
      peer.send({ wirecall: 1, serializer: "json", meta: 1 });
      assert.deepEqual(await peer.next(), { wirecall: 1, serializer: "json", meta: 1 });
      peer.send([0, 1, "whoami", [], null, null, { meta: { user: "ann" }, timeout: 5000 }]);
      assert.deepEqual(await peer.next(), [1, 1, { user: "ann" }, null, { meta: { served: "yes", region: "eu" } }]);
      peer.send([0, 2, "fail", []]);
      assert.deepEqual(await peer.next(), [2, 2, { name: "RpcError", message: "busy", code: "SHUTTING_DOWN" }, { meta: { retryAfter: "5" } }]);
      peer.send([0, 3, "whoami", [], null, null, { meta: { n: 1 } }]);
      const bad = (await peer.next()) as [number, number, { code: string }];
      assert.deepEqual([bad[0], bad[1], bad[2].code], [2, 3, "INVALID_META"]);
      peer.send([0, 4, "whoami", [], null, null, "nope"]);
      const bad2 = (await peer.next()) as [number, number, { code: string }];
      assert.deepEqual([bad2[0], bad2[1], bad2[2].code], [2, 4, "PROTOCOL_ERROR"]);
    } finally {
      peer.conn.close();
    }
  });

  it("a peer that did not negotiate them sees the envelopes of section 2, and a header from it is a malformed envelope", async () => {
    const server = await start(metaHandler({ count: 0 }), "tcp://127.0.0.1:0");
    const peer = await raw(server.url);
    try {
      peer.send({ wirecall: 1, serializer: "json" });
      assert.deepEqual(await peer.next(), { wirecall: 1, serializer: "json" });
      peer.send([0, 1, "whoami", []]);
      // The handler set response metadata; this peer cannot take it, so none travels.
      assert.deepEqual(await peer.next(), [1, 1, {}]);
      peer.send([0, 2, "whoami", [], null, null, { meta: { user: "ann" } }]);
      const bad = (await peer.next()) as [number, number, { code: string }];
      assert.deepEqual([bad[0], bad[1], bad[2].code], [2, 2, "PROTOCOL_ERROR"]);
    } finally {
      peer.conn.close();
    }
  });

  it("a client refuses to send metadata to a server that predates it, instead of dropping it", async () => {
    // An older server: answers the hello without "meta", replies to calls.
    const tcp = await getTransport("tcp");
    const listener = await tcp.listen(new URL("tcp://127.0.0.1:0"), {}, (conn) => {
      let hello = true;
      conn.open({
        frame(f) {
          const v = JSON.parse(dec.decode(f)) as unknown[];
          if (hello) {
            hello = false;
            conn.send(enc.encode(JSON.stringify({ wirecall: 1, serializer: "json" })), true);
          } else conn.send(enc.encode(JSON.stringify([1, v[1], v.length])), true);
        },
        drain() {},
        close() {},
      });
    });
    const proxy = await connect(listener.url);
    try {
      await assert.rejects(proxy.$with({ meta: { a: "b" } }).f(), (e: RpcError) => e.code === "INVALID_META" && /predates/.test(e.message));
      // A timeout is still the client's own: the call goes, without a header (length 4).
      assert.equal(await proxy.$with({ timeout: 5000 }).f(), 4);
    } finally {
      await proxy.$close();
      await listener.close();
    }
  });
});
