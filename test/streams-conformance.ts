/**
 * Streams, callbacks and references, run by the shared conformance suite
 * over every framed transport and serializer (test/conformance.ts calls
 * {@link streamsConformance}). Real servers and clients; the only timers
 * are the slow consumer's pace.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  RPCHandler,
  RemoteError,
  RpcError,
  connect,
  keep,
  ref,
  release,
  serve,
  type AnyRemote,
  type CallContext,
  type ProxyOptions,
  type Server,
  type ServeOptions,
  type TransportOptions,
} from "../src/index.js";
import type { RPCProxy } from "../src/proxy.js";
import { Deferred } from "./support/async.js";

export interface StreamsTarget {
  name: string;
  listenUrl: string;
  serverOptions?: ServeOptions;
  clientOptions?: ProxyOptions & TransportOptions;
  serializer: string;
}

class Greeter {
  greeted: string[] = [];
  hello(name: string): string {
    this.greeted.push(name);
    return `hello ${name}`;
  }
  _secret(): string {
    return "no";
  }
}

interface Probes {
  produced: number;
  finallyRan: Deferred;
  signalFired: Deferred<unknown>;
  closedFinally: Deferred;
  closedStarted: Deferred;
  greeter: Greeter;
  kept: ((n: number) => Promise<unknown>) | undefined;
  server: Server | undefined;
}

function makeStreamHandler(p: Probes): RPCHandler {
  const h = new RPCHandler();
  h.register("count", async function* (n: number) {
    for (let i = 0; i < n; i++) yield i;
  });
  // Bytes where the serializer carries them (json has no binary type: text chunks there).
  h.register("chunks", async function* (n: number, size: number, text: boolean) {
    for (let i = 0; i < n; i++) yield text ? String.fromCharCode(97 + (i % 26)).repeat(size) : new Uint8Array(size).fill(i & 255);
  });
  h.register("ticks", async function* () {
    for (let i = 0; ; i++) {
      p.produced++;
      yield i;
    }
  });
  h.register(
    "watched",
    (ctx: CallContext) => {
      ctx.signal.addEventListener("abort", () => p.signalFired.resolve(ctx.signal.reason), { once: true });
      return (async function* () {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          p.finallyRan.resolve();
        }
      })();
    },
    { context: true },
  );
  h.register("forever", async function* () {
    try {
      p.closedStarted.resolve();
      for (let i = 0; ; i++) yield i;
    } finally {
      p.closedFinally.resolve();
    }
  });
  h.register("boom", async function* () {
    yield 1;
    yield 2;
    throw new RangeError("producer broke");
  });
  h.register("sum", async (items: AsyncIterable<number>) => {
    let s = 0;
    for await (const x of items) s += x;
    return s;
  });
  h.register("double", async function* (items: AsyncIterable<number>) {
    for await (const x of items) yield x * 2;
  });
  h.register("thrice", async (cb: (n: number) => Promise<number>) => {
    const got = [await cb(1), await cb(2), await cb(3)];
    return got;
  });
  h.register("once", async (cb: () => Promise<unknown>) => cb());
  h.register("nested", async (opts: { deep: { onItem: (x: string) => Promise<string> } }) => opts.deep.onItem("x"));
  h.register("keepIt", (cb: (n: number) => Promise<unknown>) => {
    p.kept = keep(cb);
    return true;
  });
  h.register("useKept", async (n: number) => p.kept?.(n));
  h.register("dropKept", () => {
    if (p.kept) release(p.kept);
    return true;
  });
  h.register("greeter", () => ref(p.greeter));
  h.register("isGreeter", (g: unknown) => g === p.greeter);
  h.register("greet", async (g: { hello(n: string): Promise<string> }, name: string) => g.hello(name));
  h.register("bounce", (v: unknown) => v);
  h.register(
    "refCount",
    (ctx: CallContext) => (ctx as unknown as { origin: { references?: unknown } }).origin.references,
    { context: true },
  );
  h.register("echo", (v: unknown) => v);
  return h;
}

function newProbes(): Probes {
  return {
    produced: 0,
    finallyRan: new Deferred(),
    signalFired: new Deferred(),
    closedFinally: new Deferred(),
    closedStarted: new Deferred(),
    greeter: new Greeter(),
    kept: undefined,
    server: undefined,
  };
}

function refsOf(proxy: AnyRemote): { exports: number; imports: number; streams: number } | undefined {
  return (proxy.$caller as RPCProxy).session?.references;
}

/**
 * The 10,000-item and 10,000-callback tests run in full once per transport
 * and serializer in a process (ws and wss count as one transport); repeats
 * of the same transport with other options (authkey, TLS over ws) run a
 * tenth, so each test file stays within its time limit on a loaded machine.
 */
const fullRuns = new Set<string>();

export function streamsConformance(t: StreamsTarget): void {
  const scheme = t.listenUrl.slice(0, t.listenUrl.indexOf(":")).replace(/^wss$/, "ws");
  const key = `${scheme}/${t.serializer}`;
  const big = fullRuns.has(key) ? 1_000 : 10_000;
  fullRuns.add(key);
  describe(`${t.name} streams and references (${t.serializer})`, () => {
    let p: Probes;
    let server: Server;
    let proxy: AnyRemote;
    const opts = (extra: ProxyOptions = {}): ProxyOptions & TransportOptions => ({ ...t.clientOptions, serializer: t.serializer, ...extra });

    before(async () => {
      p = newProbes();
      server = await serve(makeStreamHandler(p), t.listenUrl, t.serverOptions);
      proxy = await connect(server.url, opts());
    });
    after(async () => {
      await proxy?.$close();
      await server?.close();
    });

    it(`a ${big.toLocaleString("en")}-item stream arrives complete and in order`, async () => {
      const items = (await proxy.count(big)) as AsyncIterable<number>;
      let next = 0;
      for await (const x of items) if (x !== next++) assert.fail(`item ${next - 1} was ${x}`);
      assert.equal(next, big);
      assert.deepEqual(refsOf(proxy), { exports: 0, imports: 0, streams: 0 });
    });

    it("64 KiB chunks arrive whole", async () => {
      let n = 0;
      const text = t.serializer === "json";
      for await (const c of (await proxy.chunks(20, 65536, text)) as AsyncIterable<Uint8Array | string>) {
        if (typeof c === "string") {
          assert.equal(c.length, 65536);
          assert.equal(c[65535], String.fromCharCode(97 + (n % 26)));
        } else {
          assert.equal(c.byteLength, 65536);
          assert.equal(c[65535], n & 255);
        }
        n++;
      }
      assert.equal(n, 20);
    });

    it("a slow consumer makes the producer wait: produced minus consumed never exceeds the window", async () => {
      const window = 8;
      const slow = await connect(server.url, opts({ streamWindow: window }));
      try {
        p.produced = 0;
        const items = (await slow.ticks()) as AsyncIterable<number>;
        let consumed = 0;
        let most = 0;
        for await (const x of items) {
          assert.equal(x, consumed);
          consumed++;
          most = Math.max(most, p.produced - consumed);
          assert.ok(p.produced - consumed <= window, `produced ${p.produced}, consumed ${consumed}`);
          if (consumed === 30) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        // The producer did run ahead (the window is used), but never past it.
        assert.ok(most >= 1, `the producer never ran ahead (${most})`);
      } finally {
        await slow.$close();
      }
    });

    it("break runs the producer's finally and fires ctx.signal", async () => {
      let n = 0;
      for await (const x of (await proxy.watched()) as AsyncIterable<number>) {
        assert.equal(x, n++);
        if (n === 3) break;
      }
      await p.finallyRan.promise;
      assert.equal(((await p.signalFired.promise) as RpcError).code, "CANCELLED");
    });

    it("a producer error is rethrown from the consumer's loop, after the items before it", async () => {
      const seen: number[] = [];
      await assert.rejects(
        (async () => {
          for await (const x of (await proxy.boom()) as AsyncIterable<number>) seen.push(x);
        })(),
        (e: RemoteError) => e instanceof RemoteError && e.name === "RangeError" && e.message === "producer broke",
      );
      assert.deepEqual(seen, [1, 2]);
    });

    it("the call's signal stops the stream", async () => {
      const ac = new AbortController();
      const items = (await proxy.$call("count", [1_000_000], undefined, { signal: ac.signal })) as AsyncIterable<number>;
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const _ of items) if (++n === 5) ac.abort();
        })(),
        { code: "CANCELLED" },
      );
      assert.equal(n, 5);
    });

    it("closing the connection stops the producer", async () => {
      const other = await connect(server.url, opts());
      const items = (await other.forever()) as AsyncIterable<number>;
      const it = items[Symbol.asyncIterator]();
      await it.next();
      await p.closedStarted.promise;
      await other.$close();
      await p.closedFinally.promise;
      await assert.rejects(async () => {
        for (;;) if ((await it.next()).done) break;
      }, { code: "CONNECTION_CLOSED" });
    });

    it("client-to-server and bidirectional streams", async () => {
      async function* upTo(n: number) {
        for (let i = 1; i <= n; i++) yield i;
      }
      assert.equal(await proxy.sum(upTo(1000)), 500500);
      const out: number[] = [];
      for await (const x of (await proxy.double(upTo(300))) as AsyncIterable<number>) out.push(x);
      assert.equal(out.length, 300);
      assert.equal(out[299], 600);
      assert.deepEqual(refsOf(proxy), { exports: 0, imports: 0, streams: 0 });
    });

    it("a stalled stream stalls neither calls nor other streams", async () => {
      const stalled = (await proxy.ticks()) as AsyncIterable<number>;
      const it = stalled[Symbol.asyncIterator]();
      await it.next(); // started, then left unread with a full window
      assert.equal(await proxy.echo("still here"), "still here");
      let n = 0;
      for await (const _ of (await proxy.count(500)) as AsyncIterable<number>) n++;
      assert.equal(n, 500);
      await it.return?.();
    });

    it("a server handler calls a callback 3 times and the client sees 3 calls", async () => {
      const calls: number[] = [];
      const got = await proxy.thrice(async (n: number) => {
        calls.push(n);
        return n * 10;
      });
      assert.deepEqual(calls, [1, 2, 3]);
      assert.deepEqual(got, [10, 20, 30]);
      assert.equal(await proxy.nested({ deep: { onItem: async (x: string) => `${x}!` } }), "x!");
    });

    it(`${big.toLocaleString("en")} un-kept callbacks leave no references on either side`, async () => {
      for (let i = 0; i < big; i += 250) {
        const batch = [];
        for (let j = 0; j < 250; j++) batch.push(proxy.once(async () => i + j));
        const got = await Promise.all(batch);
        if (got[249] !== i + 249) assert.fail(`callback ${i + 249} answered ${got[249]}`);
      }
      assert.deepEqual(refsOf(proxy), { exports: 0, imports: 0, streams: 0 });
      assert.deepEqual(await proxy.refCount(), { exports: 0, imports: 0, streams: 0 });
    });

    it("a kept callback outlives its call until released", async () => {
      const seen: number[] = [];
      await proxy.keepIt(async (n: number) => seen.push(n));
      await proxy.useKept(7);
      assert.deepEqual(seen, [7]);
      assert.equal(refsOf(proxy)?.exports, 1);
      await proxy.dropKept();
      await assert.rejects(proxy.useKept(8), { code: "REFERENCE_RELEASED" });
      await proxy.echo(0); // the release is ordered before this call's answer
      assert.equal(refsOf(proxy)?.exports, 0);
    });

    it("ref() objects: methods called from the other side, both ways; proxies passed through and back", async () => {
      const g = (await proxy.greeter()) as AnyRemote;
      assert.equal(await g.hello("ada"), "hello ada");
      assert.deepEqual(p.greeter.greeted, ["ada"]);
      await assert.rejects(g._secret(), { code: "METHOD_NOT_FOUND" });
      // The server's own object comes back as itself.
      assert.equal(await proxy.isGreeter(g), true);
      // A client object by reference, called by the server.
      const mine = new Greeter();
      assert.equal(await proxy.greet(ref(mine), "bob"), "hello bob");
      assert.deepEqual(mine.greeted, ["bob"]);
      // Passed to the server and back: the very same object, not a copy.
      assert.equal(await proxy.bounce(ref(mine)), mine);
      release(g);
      await proxy.echo(0);
      await assert.rejects(g.hello("late"), { code: "REFERENCE_RELEASED" });
      assert.equal((await proxy.refCount()).exports, 0);
    });

    it("values that cannot travel fail with SERIALIZE_ERROR naming where they sit", async () => {
      await assert.rejects(proxy.echo({ a: [1, Symbol("s")] }), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /args\[0\]\.a\[1\]/.test(e.message));
      if (t.serializer === "json") {
        await assert.rejects(proxy.echo(1, { m: new Map() }), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /args\[1\]\.m/.test(e.message));
        await assert.rejects(proxy.echo(new Set([1])), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /args\[0\]/.test(e.message));
        await assert.rejects(proxy.echo([Infinity]), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /args\[0\]\[0\]/.test(e.message));
      }
      // A one-way call has no end to scope a callback by.
      await assert.rejects(proxy.$notify("echo", () => 1), (e: RpcError) => e.code === "SERIALIZE_ERROR" && /args\[0\]/.test(e.message));
      // A connection proxy is not an object reference.
      await assert.rejects(proxy.echo(proxy), { code: "SERIALIZE_ERROR" });
    });
  });
}
