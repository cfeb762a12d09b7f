/**
 * A call's timeout covers the streams its result carries (docs/protocol.md
 * 6.4), as a gRPC deadline covers the whole stream: the reply arriving does
 * not end it. Real servers on mem://, tcp:// and ws://; the only timers are
 * the calls' own timeouts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type AnyRemote, type CallContext, type Server } from "../src/index.js";
import type { RPCProxy } from "../src/proxy.js";
import "../transports/memory/index.js";
import { Deferred } from "./conformance.js";
import { rawPeer } from "./support/raw-peer.js";

/** Long enough that the reply arrives well inside it on a loaded machine, short enough to keep the file quick. */
const TIMEOUT = 1500;

interface Probes {
  finallyRan: Deferred;
  signal: Deferred<unknown>;
  upstreamFinally: Deferred;
}

function handler(p: () => Probes): RPCHandler {
  const h = new RPCHandler();
  h.register(
    "ticks",
    (ctx: CallContext) => {
      const probes = p();
      ctx.signal.addEventListener("abort", () => probes.signal.resolve(ctx.signal.reason), { once: true });
      return (async function* () {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          probes.finallyRan.resolve();
        }
      })();
    },
    { context: true },
  );
  h.register("echo", (v: unknown) => v);
  h.register("count", async function* (n: number) {
    for (let i = 0; i < n; i++) yield i;
  });
  h.register("double", async function* (items: AsyncIterable<number>) {
    for await (const x of items) yield x * 2;
  });
  // The server gives up on its own call after three items: what a server-side deadline does.
  h.register(
    "giveUp",
    (ctx: CallContext) => {
      const probes = p();
      return (async function* () {
        try {
          for (let i = 0; ; i++) {
            if (i === 3) (ctx as unknown as { abort(r: unknown): void }).abort(new RpcError("TIMEOUT", "the server's deadline for this call passed"));
            yield i;
          }
        } finally {
          probes.finallyRan.resolve();
        }
      })();
    },
    { context: true },
  );
  return h;
}

function refsOf(proxy: AnyRemote): { exports: number; imports: number; streams: number } | undefined {
  return (proxy.$caller as RPCProxy).session?.references;
}

for (const [name, url] of [
  ["mem", "mem://streams-timeout"],
  ["tcp", "tcp://127.0.0.1:0"],
  ["ws", "ws://127.0.0.1:0/rpc"],
] as const) {
  for (const serializer of ["json", "msgpack"]) {
    describe(`${name} (${serializer}): a call's timeout covers its stream`, () => {
      let probes: Probes;
      let server: Server;
      let proxy: AnyRemote;
      const fresh = (): Probes => (probes = { finallyRan: new Deferred(), signal: new Deferred(), upstreamFinally: new Deferred() });
      before(async () => {
        fresh();
        server = await serve(
          handler(() => probes),
          url,
        );
        proxy = await connect(server.url, { serializer });
      });
      after(async () => {
        await proxy?.$close();
        await server?.close();
      });

      it("a stream read after the reply stops at the call's timeout: TIMEOUT in the loop, the producer's finally runs, ctx.signal fires", async () => {
        fresh();
        const t0 = Date.now();
        const items = (await proxy.$call("ticks", [], undefined, { timeout: TIMEOUT })) as AsyncIterable<number>;
        let n = 0;
        await assert.rejects(
          (async () => {
            for await (const x of items) {
              assert.equal(x, n++);
              // Without the rule this loop runs on forever: fail instead of hanging.
              if (Date.now() - t0 > 6 * TIMEOUT) assert.fail(`the stream outlived its call's ${TIMEOUT} ms timeout`);
            }
          })(),
          (e: RpcError) => e instanceof RpcError && e.code === "TIMEOUT" && /ticks/.test(e.message),
        );
        assert.ok(Date.now() - t0 >= TIMEOUT - 5, "the stream stopped before the timeout");
        assert.ok(n > 0, "no item arrived before the timeout");
        await probes.finallyRan.promise;
        // The client's stop or the server's own copy of the deadline (the call header), whichever came first.
        assert.ok(["CANCELLED", "TIMEOUT"].includes(((await probes.signal.promise) as RpcError).code));
        await proxy.echo(0); // the stop was sent before this call: the server has handled it
        assert.deepEqual(refsOf(proxy), { exports: 0, imports: 0, streams: 0 });
      });

      it("a consumer that stopped reading still stops the producer at the deadline ($with's timeout too)", async () => {
        fresh();
        const items = (await proxy.$with({ timeout: TIMEOUT }).ticks()) as AsyncIterable<number>;
        const it = items[Symbol.asyncIterator]();
        assert.deepEqual(await it.next(), { value: 0, done: false });
        // Nothing is read now: the window fills and the producer waits for credit, until the deadline stops it.
        await probes.finallyRan.promise;
        await assert.rejects(it.next(), { code: "TIMEOUT" });
      });

      it("a stream passed as an argument stops with the result stream it feeds", async () => {
        fresh();
        const upstream = async function* () {
          try {
            for (let i = 0; ; i++) yield i;
          } finally {
            probes.upstreamFinally.resolve();
          }
        };
        const items = (await proxy.$call("double", [upstream()], undefined, { timeout: TIMEOUT })) as AsyncIterable<number>;
        const it = items[Symbol.asyncIterator]();
        assert.deepEqual(await it.next(), { value: 0, done: false });
        await probes.upstreamFinally.promise;
        await assert.rejects(it.next(), { code: "TIMEOUT" });
      });

      it("a stream that ends within its timeout is untouched", async () => {
        let n = 0;
        for await (const _ of (await proxy.$call("count", [2000], undefined, { timeout: 60_000 })) as AsyncIterable<number>) n++;
        assert.equal(n, 2000);
        assert.deepEqual(refsOf(proxy), { exports: 0, imports: 0, streams: 0 });
      });

      it("a server that aborts its own call stops the stream and tells the consumer why", async () => {
        fresh();
        const seen: number[] = [];
        await assert.rejects(
          (async () => {
            for await (const x of (await proxy.giveUp()) as AsyncIterable<number>) seen.push(x);
          })(),
          (e: Error & { code?: string }) => e.code === "TIMEOUT" && /server's deadline/.test(e.message),
        );
        await probes.finallyRan.promise;
        // Items sent before the abort may arrive; none after it.
        assert.ok(seen.length <= 4, `items after the abort: ${seen.length}`);
        assert.deepEqual(seen, seen.map((_, i) => i));
      });
    });
  }
}

describe("the server's side of a call's deadline covers its stream", () => {
  it("a deadline that travels with the call (header timeout) stops the stream on the server though the client never stops it", async () => {
    const finallyRan = new Deferred();
    const signal = new Deferred<unknown>();
    const h = new RPCHandler();
    h.register(
      "stall",
      (ctx: CallContext) => {
        ctx.signal.addEventListener("abort", () => signal.resolve(ctx.signal.reason), { once: true });
        return (async function* () {
          try {
            yield 0;
            // Only the deadline ends this stream: a producer blocked in an await learns it from ctx.signal.
            await new Promise((r) => ctx.signal.addEventListener("abort", r, { once: true }));
            yield 1;
          } finally {
            finallyRan.resolve();
          }
        })();
      },
      { context: true },
    );
    const server = await serve(h, "mem://streams-deadline-raw");
    // A hand-written peer: it grants credit and then only listens; nothing on its side stops the stream.
    const peer = await rawPeer(server.url, { hello: { wirecall: 1, serializer: "json", refs: 1, meta: 1 } });
    const send = (v: unknown): void => void peer.send(v);
    const next = (what: string): Promise<unknown> => peer.next(what, 10_000);
    try {
      assert.deepEqual([peer.hello?.refs, peer.hello?.meta], [1, 1]);
      const t0 = Date.now();
      send([0, 1, "stall", [], null, null, { timeout: 600 }]);
      assert.deepEqual(await next("the answer"), [1, 1, null, [[[2], "s", 1]]]);
      send([9, 1, 64]);
      assert.deepEqual(await next("the first item"), [8, 1, 0]);
      const [kind, sid, err] = (await next("the stream's end")) as [number, number, { code: string }];
      assert.deepEqual([kind, sid, err.code], [11, 1, "TIMEOUT"]);
      assert.ok(Date.now() - t0 >= 590, `stopped after ${Date.now() - t0} ms, before the deadline`);
      await finallyRan.promise;
      assert.equal(((await signal.promise) as RpcError).code, "TIMEOUT");
    } finally {
      peer.close();
      await server.close();
    }
  });
});
