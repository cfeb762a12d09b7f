/**
 * The server's idleTimeout, checked by one shared sweep per idle limit
 * (src/server-opening.ts) rather than a timer per connection: the same
 * promises as before (closed after between idleTimeout and twice that
 * without a frame, never earlier; activity keeps a connection open; one
 * server closing does not stop another's sweep), and no timer per idle
 * connection. Real tcp servers and clients on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { after, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type Server } from "../src/index.js";
import "../transports/tcp/index.js";
import { Deferred, within } from "./support/async.js";

const BOUND = 20_000;
/** Authenticated connections, as a server holding many idle ones would have. */
const authkey = "idle-sweep";
const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(opts: { idleTimeout: number }): Promise<Server> {
  const h = new RPCHandler().register("add", (a: number, b: number) => a + b);
  const s = await serve(h, "tcp://127.0.0.1:0", { authkey, closeTimeout: 200, ...opts });
  servers.push(s);
  return s;
}

/** A client whose idle close (the server's error naming idleTimeout) resolves `closed` with the time it came. */
async function client(url: string) {
  const closed = new Deferred<number>();
  const p = await connect(url, {
    authkey,
    onError: (e) => {
      if (/idleTimeout/.test(String((e as Error).message))) closed.resolve(performance.now());
    },
  });
  return { p, closed: closed.promise };
}

describe("idle connections: one shared sweep", () => {
  it("closes each idle connection no earlier than idleTimeout after its last frame (a call's answer, or the hello's), however its arrival fell between sweeps", async () => {
    const idleTimeout = 300;
    const s = await start({ idleTimeout });
    // Arrivals spread over one idle period, so some come just before a sweep.
    const runs = [];
    for (let i = 0; i < 8; i++) {
      runs.push(
        (async () => {
          const c = await client(s.url);
          // Every other client makes no call: its hello is its last frame.
          if (i % 2 === 0) assert.equal(await c.p.add(i, 1), i + 1);
          const answered = performance.now();
          const at = await within(c.closed, BOUND, `the idle close of client ${i}`);
          await c.p.$close();
          return at - answered;
        })(),
      );
      await new Promise((r) => setTimeout(r, idleTimeout / 8));
    }
    const waited = await Promise.all(runs);
    // The server saw the call before the client saw its answer: a few ms of slack for that, none for the timer.
    for (const w of waited) assert.ok(w >= idleTimeout - 25, `closed ${w.toFixed(0)} ms after the last answer, idleTimeout ${idleTimeout}`);
  });

  it("keeps a connection that calls more often than idleTimeout open across several periods", async () => {
    const idleTimeout = 300;
    const s = await start({ idleTimeout });
    const busy = await client(s.url);
    const idle = await client(s.url);
    assert.equal(await idle.p.add(0, 0), 0);
    let closedEarly = false;
    void busy.closed.then(() => (closedEarly = true));
    const until = performance.now() + 4 * idleTimeout;
    let calls = 0;
    while (performance.now() < until) {
      assert.equal(await busy.p.add(calls, 1), calls + 1);
      calls++;
      // Time itself is what is tested: a call every third of the idle period.
      await new Promise((r) => setTimeout(r, idleTimeout / 3));
    }
    // Meanwhile the idle one was closed: the sweep ran, and spared the busy one.
    await within(idle.closed, BOUND, "the idle client's close");
    assert.equal(closedEarly, false);
    assert.equal(await busy.p.add(2, 2), 4);
    await busy.p.$close();
    await idle.p.$close();
  });

  it("a server closing does not stop the sweep of another server with the same idleTimeout", async () => {
    const idleTimeout = 250;
    const first = await start({ idleTimeout });
    const second = await start({ idleTimeout });
    const a = await client(first.url);
    assert.equal(await a.p.add(1, 1), 2);
    const b = await client(second.url);
    assert.equal(await b.p.add(1, 2), 3);
    await a.p.$close();
    await first.close();
    await within(b.closed, BOUND, "the idle close on the second server");
    await b.p.$close();
  });

  it("an idleTimeout past the longest timer (2^31 ms) does not close connections at once", async () => {
    // Node turns a longer timer into 1 ms: a per-connection setTimeout(idleTimeout) closed them after 1-2 ms.
    const s = await start({ idleTimeout: 2 ** 31 });
    const c = await client(s.url);
    assert.equal(await c.p.add(1, 1), 2);
    let closed = false;
    void c.closed.then(() => (closed = true));
    // Time itself is what is tested: several 1 ms periods, and more than one sweep's worth of them.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(closed, false);
    assert.equal(await c.p.add(2, 2), 4);
    await c.p.$close();
  });

  it("a handshakeTimeout past the longest timer is refused, naming the option (it made every handshake fail at once)", async () => {
    const h = new RPCHandler();
    for (const opts of [{ handshakeTimeout: 2 ** 31 }, { handshakeTimeout: 2 ** 31, authkey }]) {
      await assert.rejects(serve(h, "tcp://127.0.0.1:0", opts), (e: RpcError) => e.code === "INVALID_OPTION" && /'handshakeTimeout' must be at most 2147483647 ms/.test(e.message));
    }
    await assert.rejects(connect("tcp://127.0.0.1:9", { handshakeTimeout: 2 ** 31 }), (e: RpcError) => e.code === "INVALID_OPTION" && /handshakeTimeout/.test(e.message));
    // The longest one a timer keeps is taken.
    const s = await serve(h.register("add", (a: number, b: number) => a + b), "tcp://127.0.0.1:0", { authkey, handshakeTimeout: 2 ** 31 - 1, closeTimeout: 200 });
    servers.push(s);
    const p = await connect(s.url, { authkey, handshakeTimeout: 2 ** 31 - 1 });
    assert.equal(await p.add(1, 2), 3);
    await p.$close();
  });

  it("holds no timer per idle connection", async () => {
    const live = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === "Timeout") live.add(id);
      },
      destroy(id) {
        live.delete(id);
      },
    }).enable();
    try {
      const s = await start({ idleTimeout: 60_000 });
      const before = live.size;
      const n = 40;
      const clients = [];
      for (let i = 0; i < n; i++) {
        const c = await client(s.url);
        assert.equal(await c.p.add(i, 0), i);
        clients.push(c.p);
      }
      // Handshake, first-frame and call timers are gone once the calls are answered; the idle ones would stay.
      const grown = live.size - before;
      assert.ok(grown < n / 4, `${grown} timers alive for ${n} idle connections`);
      await Promise.all(clients.map((p) => p.$close()));
    } finally {
      hook.disable();
    }
  });
});
