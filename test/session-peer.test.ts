/**
 * The peer session: calls both ways on one connection, and the in-flight
 * limit against hostile call patterns (one-way floods, call-and-cancel
 * pairs, never-settling calls with cancels behind them), over mem and a
 * real TCP socket on loopback.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RPCHandler, RemoteError, RpcError, connect, serve, type CallContext, type ServeOptions, type Server } from "../src/index.js";
import { Deferred } from "./conformance.js";
import "../transports/memory/index.js";
import "../transports/tcp/index.js";
// Registers the Python recipe: tcp:// servers answer recipe clients, `profile: "python"` calls recipe servers.
import "../protocols/python/index.js";
import { within } from "./support/async.js";
import { rawPeer } from "./support/raw-peer.js";

const BOUND = 20_000;

/** A raw JSON client: frames in, frames out, for speaking the protocol by hand. */
const raw = (url: string) => rawPeer(url);

const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(h: RPCHandler, url: string, opts: ServeOptions = {}): Promise<Server> {
  const s = await serve(h, url, { closeTimeout: 200, ...opts });
  servers.push(s);
  return s;
}

/** Counts handlers running at once. */
class Gauge {
  now = 0;
  max = 0;
  total = 0;
  enter(): void {
    this.now++;
    this.total++;
    if (this.now > this.max) this.max = this.now;
  }
  leave(): void {
    this.now--;
  }
}

/** Resolves once `cond()` holds, checking after every turn of the event loop; bounded. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + BOUND;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

for (const base of ["mem://0", "tcp://127.0.0.1:0"]) {
  const name = base.split(":")[0];

  describe(`${name}: calls from the server to the client`, () => {
    it("a server handler calls the caller through ctx.peer while the connection lives", async () => {
      const seen: string[] = [];
      const h = new RPCHandler().register(
        "greetBack",
        async (ctx: CallContext, who: string) => {
          const a = (await ctx.peer.hello(who)) as string;
          // The same proxy, kept by the handler, works for more calls.
          const b = (await ctx.peer.$call("hello", [`${who}!`])) as string;
          await ctx.peer.$notify("note", "done");
          return [a, b];
        },
        { context: true },
      );
      const s = await start(h, base);
      const noted = new Deferred<unknown>();
      const client = new RPCHandler().register("hello", (w: string) => (seen.push(w), `hi ${w}`)).register("note", (m: string) => noted.resolve(m));
      const p = await connect(s.url, { handler: client });
      assert.deepEqual(await p.greetBack("ann"), ["hi ann", "hi ann!"]);
      assert.equal(await within(noted.promise, BOUND, "the one-way call"), "done");
      assert.deepEqual(seen, ["ann", "ann!"]);
      await p.$close();
    });

    it("calls to a client that went away reject with CONNECTION_CLOSED", async () => {
      const kept = new Deferred<CallContext>();
      const release = new Deferred<void>();
      const h = new RPCHandler().register(
        "hold",
        (ctx: CallContext) => {
          kept.resolve(ctx);
          return release.promise;
        },
        { context: true },
      );
      const s = await start(h, base);
      const gate = new Deferred<never>();
      const p = await connect(s.url, { handler: new RPCHandler().register("never", () => gate.promise) });
      void p.hold().catch(() => {});
      const ctx = await within(kept.promise, BOUND, "the handler");
      const pending = ctx.peer.never();
      await p.$close();
      await assert.rejects(within(pending, BOUND, "the pending call"), { code: "CONNECTION_CLOSED" });
      await assert.rejects(ctx.peer.never(), { code: "CONNECTION_CLOSED" });
      release.resolve();
    });

    it("a server's call to the client times out and the client's handler sees the cancel", async () => {
      const aborted = new Deferred<unknown>();
      const h = new RPCHandler().register("ask", (ctx: CallContext) => ctx.peer.$call("slow", [], undefined, { timeout: 30 }), { context: true });
      const s = await start(h, base);
      const client = new RPCHandler().register(
        "slow",
        (ctx: CallContext) =>
          new Promise((_, reject) => {
            ctx.signal.addEventListener("abort", () => {
              aborted.resolve(ctx.signal.reason);
              reject(ctx.signal.reason);
            });
          }),
        { context: true },
      );
      const p = await connect(s.url, { handler: client });
      await assert.rejects(p.ask(), (e: RpcError) => e.code === "TIMEOUT");
      // The deadline travels with the call (docs/production.md): the client's own timer may fire before the cancel arrives.
      const code = ((await within(aborted.promise, BOUND, "the cancel")) as RpcError).code;
      assert.ok(code === "CANCELLED" || code === "TIMEOUT", code);
      await p.$close();
    });
  });

  describe(`${name}: the in-flight limit holds against hostile call patterns`, () => {
    it("5,000 one-way calls with maxInFlight 8 never run more than 8 handlers at once, and close() drains them", async () => {
      const g = new Gauge();
      const gates: Deferred<void>[] = [];
      const h = new RPCHandler().register("work", (_i: number) => {
        g.enter();
        const d = new Deferred<void>();
        gates.push(d);
        return d.promise.finally(() => g.leave());
      });
      const s = await serve(h, base, { maxInFlight: 8, closeTimeout: BOUND });
      const p = await connect(s.url);
      for (let i = 0; i < 5000; i++) void p.$notify("work", i);
      // Release handlers one event-loop turn at a time, as they arrive.
      await until(() => {
        for (const d of gates.splice(0)) d.resolve();
        return g.total >= 4990;
      }, "the one-way calls to run");
      assert.ok(g.max <= 8, `ran ${g.max} handlers at once`);
      await until(() => g.now > 0 || g.total === 5000, "a handler running");
      // close() waits for running one-way handlers (they are drained like calls).
      let closed = false;
      const closing = s.close().then(() => (closed = true));
      await until(() => {
        for (const d of gates.splice(0)) d.resolve();
        return g.now === 0;
      }, "the handlers to finish");
      await within(closing, BOUND, "server.close()");
      assert.ok(closed);
      assert.ok(g.max <= 8, `ran ${g.max} handlers at once`);
      await p.$close();
    });

    it("call-and-cancel pairs cannot run more handlers than maxInFlight (a cancelled call counts until it settles)", async () => {
      const g = new Gauge();
      const release = new Deferred<void>();
      // Ignores its signal: it settles only when released.
      const h = new RPCHandler().register("stubborn", () => {
        g.enter();
        return release.promise.finally(() => g.leave());
      });
      const s = await start(h, base, { maxInFlight: 16 });
      const c = await raw(s.url);
      for (let i = 1; i <= 2000; i++) {
        c.send([0, i, "stubborn", []]);
        c.send([4, i]);
      }
      await until(() => g.total >= 16, "16 handlers");
      // Give the server every chance to run more than it may.
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      assert.equal(g.max, 16, `ran ${g.max} handlers at once`);
      release.resolve();
      // Cancelled calls get no answer; the connection still serves.
      c.send([0, 999_999, "system.listMethods", []]);
      let answer: unknown;
      do answer = await c.next();
      while ((answer as unknown[])[1] !== 999_999);
      assert.equal((answer as unknown[])[0], 1);
      assert.ok(g.max <= 16, `ran ${g.max} handlers at once`);
      c.conn.close();
    });

    it("256 never-settling calls at the limit: cancels behind them are still read and all abort; later calls are served", async () => {
      let started = 0;
      let aborted = 0;
      const h = new RPCHandler()
        .register(
          "forever",
          (ctx: CallContext) =>
            new Promise((_, reject) => {
              started++;
              ctx.signal.addEventListener("abort", () => {
                aborted++;
                reject(ctx.signal.reason);
              });
            }),
          { context: true },
        )
        .register("add", (a: number, b: number) => a + b);
      const s = await start(h, base, { maxInFlight: 256 });
      const c = await raw(s.url);
      for (let i = 1; i <= 256; i++) c.send([0, i, "forever", []]);
      await until(() => started === 256, "256 calls to start");
      // A call behind the limit waits for a slot; the cancels behind it must still be read.
      c.send([0, 1000, "add", [20, 22]]);
      for (let i = 1; i <= 256; i++) c.send([4, i]);
      await until(() => aborted === 256, `the cancels to be honoured (${aborted} of 256 so far)`);
      assert.deepEqual(await c.next(), [1, 1000, 42]);
      c.send([0, 1001, "add", [1, 1]]);
      assert.deepEqual(await c.next(), [1, 1001, 2]);
      c.conn.close();
    });
  });
}

describe("error redaction", () => {
  it("redactError decides what a caller learns; one-way errors reach onError unredacted", async () => {
    const logged = new Deferred<unknown>();
    const h = new RPCHandler({
      redactError: (err) => (err instanceof RpcError ? err : new RpcError("INTERNAL_ERROR", "internal error (see the server log)")),
      onError: (err) => logged.resolve(err),
    });
    h.register("leak", () => {
      throw new Error("ENOENT: /srv/app/secret/config.yml", { cause: new Error("upstream 10.0.0.7:5432 refused") });
    });
    h.register("coded", () => {
      throw new RpcError("INVALID_PARAMS", "x must be positive");
    });
    const s = await start(h, "mem://0");
    const p = await connect(s.url);
    const err = (await p.leak().catch((e: unknown) => e)) as RemoteError;
    assert.equal(err.code, "INTERNAL_ERROR");
    assert.equal(err.message, "internal error (see the server log)");
    assert.equal(err.cause, undefined);
    assert.doesNotMatch(JSON.stringify({ m: err.message, s: err.stack }), /secret|10\.0\.0\.7/);
    await assert.rejects(p.coded(), { code: "INVALID_PARAMS", message: "x must be positive" });
    await p.$notify("leak");
    assert.match(((await within(logged.promise, BOUND, "onError")) as Error).message, /secret/);
    await p.$close();
  });
});

describe("idle connections", () => {
  it("a server closes a connection idle for idleTimeout, telling the client why, but not one with a call in flight", async () => {
    const gate = new Deferred<string>();
    const running = new Deferred<void>();
    const h = new RPCHandler()
      .register("slow", () => (running.resolve(), gate.promise))
      .register("add", (a: number, b: number) => a + b);
    const idleTimeout = 250;
    const s = await start(h, "tcp://127.0.0.1:0", { idleTimeout });
    const errors: unknown[] = [];
    const idle = await connect(s.url, { onError: (e) => errors.push(e) });
    assert.equal(await idle.add(1, 2), 3);
    const busy = await connect(s.url);
    const slow = busy.slow();
    await within(running.promise, BOUND, "the slow call");
    // The idle client is closed by the server within two idle periods and told why.
    await until(() => errors.length > 0, "the idle close");
    assert.match(String((errors[0] as Error).message), /idleTimeout/);
    await assert.rejects(within(idle.add(1, 1), BOUND, "a call after the idle close"), { code: "CONNECTION_CLOSED" });
    // The busy one has a call in flight: it must outlive several idle periods (time itself is what is tested here).
    await new Promise((r) => setTimeout(r, 3 * idleTimeout));
    gate.resolve("done");
    assert.equal(await slow, "done");
    assert.equal(await busy.add(2, 2), 4);
    await busy.$close();
    await idle.$close();
  });
});

describe("ctx.peer where the connection cannot carry calls back", () => {
  for (const [name, url, extra] of [
    ["XML-RPC", "xmlrpc+http://127.0.0.1:0/RPC2", {}],
    ["the Python recipe", "tcp://127.0.0.1:0", { profile: "python", idiom: 4 }],
  ] as const) {
    it(`${name}: reading ctx.peer fails the call with PROTOCOL_ERROR naming why`, async () => {
      await import("../transports/xmlrpc/index.js");
      const h = new RPCHandler().register("back", (ctx: CallContext) => ctx.peer.anything(), { context: true });
      const s = await start(h, url);
      const p = await connect(s.url, extra);
      const err = (await p.back().catch((e: unknown) => e)) as RpcError;
      assert.equal(err.code, "PROTOCOL_ERROR");
      assert.match(err.message, /cannot carry calls back/);
      await p.$close();
    });
  }
});
