/**
 * The transport conformance suite, written once and run by every transport
 * (test/<transport>.test.ts calls `conformance(...)`). Real servers, real
 * clients, every serializer; no sleeps: tests synchronise on deferreds.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RemoteError, RpcError, connect, kw, registerError, serve, type AnyRemote, type CallContext, type ProxyOptions, type ServeOptions, type Server, type LooseOptions } from "../src/index.js";
import { getTransport, parseEndpoint, type ConnectionSink } from "../src/transport-sdk.js";

import { streamsConformance } from "./streams-conformance.js";
import { namingConformance } from "./naming-conformance.js";
import { Deferred } from "./support/async.js";
export { Deferred };

export interface ConformanceTarget {
  /** Shown in test names. */
  name: string;
  /** URL to serve on, port 0 (e.g. "tcp://127.0.0.1:0"). */
  listenUrl: string;
  serverOptions?: ServeOptions & LooseOptions;
  clientOptions?: ProxyOptions & LooseOptions;
  /** Serializers to run; default all three. */
  serializers?: readonly string[];
  /** Skip the raw garbage-frame test (for transports whose raw connections cannot carry arbitrary bytes). */
  skipGarbage?: boolean;
}

export class AppError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = "AppError";
  }
}
registerError(AppError);

class Counter {
  #n = 0;
  protected base = 10;
  increment(by = 1): number {
    this.#n += by;
    return this.#n;
  }
  _hidden(): string {
    return "secret";
  }
}

class LoudCounter extends Counter {
  shout(): string {
    return `${this.increment()}!`;
  }
}

/** Per-suite server-side probes the tests await. */
export interface Probes {
  aborted: Map<string, Deferred<unknown>>;
  gates: Map<string, Deferred<unknown>>;
  started: Map<string, Deferred<void>>;
}

/** Fresh, empty probes. */
export function newProbes(): Probes {
  return { aborted: new Map(), gates: new Map(), started: new Map() };
}

/** The deferred for `key`, created on first use by whichever side (handler or test) gets there first. */
export function slot<T>(m: Map<string, Deferred<T>>, key: string): Deferred<T> {
  let d = m.get(key);
  if (!d) {
    d = new Deferred<T>();
    m.set(key, d);
  }
  return d;
}

export function makeHandler(probes: Probes): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  h.register("echo", (v: unknown) => v);
  h.register("describe", (a: number, b: number, z = 0, ...rest: number[]) => ({ a, b, z, rest }));
  h.register("fail", (kind: string) => {
    if (kind === "type") throw new TypeError("not a number");
    if (kind === "app") throw new AppError("app broke", "extra detail");
    if (kind === "coded") throw Object.assign(new Error("disk full"), { code: "ENOSPC", errno: 28 });
    if (kind === "cause") throw new Error("outer", { cause: new RangeError("inner") });
    throw "a string";
  });
  h.registerInstance(new LoudCounter(), "counter");
  // Runs until the gate opens or the call is aborted; reports the abort reason.
  h.register(
    "wait",
    (ctx: CallContext, key: string) => {
      slot(probes.started, key).resolve();
      return new Promise((resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          slot(probes.aborted, key).resolve(ctx.signal.reason);
          reject(ctx.signal.reason);
        });
        slot(probes.gates, key).promise.then(resolve, reject);
      });
    },
    { context: true },
  );
  h.register("peer", (ctx: CallContext) => ({ transport: ctx.transport, hasAddress: typeof ctx.remoteAddress === "string" }), {
    context: true,
  });
  // Calls back into the client that called it, over the same connection, before answering.
  h.register(
    "askClient",
    async (ctx: CallContext, x: number) => {
      const name = (await ctx.peer.whoAreYou()) as string;
      const doubled = (await ctx.peer.times(x, kw({ by: 2 }))) as number;
      const failed = await ctx.peer.fail().then(
        () => "resolved",
        (e: RemoteError) => `${e.name}:${e.message}`,
      );
      return { name, doubled, failed };
    },
    { context: true },
  );
  return h;
}

/** The handler a client serves back to the server (`connect(url, { handler })`). */
export function makeClientHandler(name: string): RPCHandler {
  const h = new RPCHandler();
  h.register("whoAreYou", () => name);
  h.register("times", (x: number, by = 1) => x * by);
  h.register("fail", () => {
    throw new RangeError("client-side failure");
  });
  return h;
}

export function conformance(target: ConformanceTarget): void {
  const serializers = target.serializers ?? ["json", "superjson", "msgpack"];
  // ---- streams, callbacks and references (test/streams-conformance.ts) ----
  for (const serializer of serializers) {
    streamsConformance({ name: target.name, listenUrl: target.listenUrl, serverOptions: target.serverOptions, clientOptions: target.clientOptions, serializer });
  }
  // ---- end streams ----
  // ---- name server (test/naming-conformance.ts) ----
  for (const serializer of serializers) {
    namingConformance({ name: target.name, listenUrl: target.listenUrl, serverOptions: target.serverOptions, clientOptions: target.clientOptions, serializer });
  }
  // ---- end name server ----
  for (const serializer of serializers) {
    describe(`${target.name} conformance (${serializer})`, () => {
      const probes = newProbes();
      let server: Server;
      let proxy: AnyRemote;
      const clientOpts = (): ProxyOptions & LooseOptions => ({ ...target.clientOptions, serializer });

      before(async () => {
        server = await serve(makeHandler(probes), target.listenUrl, target.serverOptions);
        proxy = await connect(server.url, clientOpts());
      });
      after(async () => {
        await proxy?.$close();
        await server?.close();
      });

      it("round-trips values", async () => {
        assert.equal(await proxy.add(2, 3), 5);
        const nested = { s: "héllo wörld ✓", n: -1.5, b: true, nil: null, list: [1, [2, [3]]], obj: { deep: { deeper: "x" } } };
        assert.deepEqual(await proxy.echo(nested), nested);
        assert.equal(await proxy.echo(""), "");
      });

      if (serializer === "superjson") {
        it("keeps rich types", async () => {
          const v = { d: new Date(0), big: 2n ** 70n, m: new Map([["k", 1]]), s: new Set([1, 2]), re: /a+/gi, u: undefined, url: new URL("http://x/y") };
          assert.deepEqual(await proxy.echo(v), v);
        });
      }
      if (serializer === "msgpack") {
        it("carries bytes, dates and 64-bit integers", async () => {
          const v = { bytes: new Uint8Array([0, 1, 255]), d: new Date(1700000000123), big: -(2n ** 63n) };
          const r = (await proxy.echo(v)) as typeof v;
          assert.deepEqual(new Uint8Array(r.bytes), v.bytes);
          assert.equal(r.d.getTime(), v.d.getTime());
          assert.equal(r.big, v.big);
        });
      }

      it("binds keyword arguments like Python", async () => {
        assert.deepEqual(await proxy.describe(1, 2, kw({ z: 3 })), { a: 1, b: 2, z: 3, rest: [] });
        assert.deepEqual(await proxy.describe(kw({ b: 2, a: 1 })), { a: 1, b: 2, z: 0, rest: [] });
        assert.deepEqual(await proxy.describe(1, 2, 3, 4, 5), { a: 1, b: 2, z: 3, rest: [4, 5] });
        await assert.rejects(proxy.describe(1, kw({ a: 1, b: 2 })), (e: RpcError) => e.code === "INVALID_PARAMS" && /'a'/.test(e.message));
        await assert.rejects(proxy.describe(1, kw({ b: 2, q: 1 })), (e: RpcError) => e.code === "INVALID_PARAMS" && /'q'/.test(e.message));
        await assert.rejects(proxy.describe(1), (e: RpcError) => e.code === "INVALID_PARAMS" && /'b'/.test(e.message));
      });

      it("exposes instance methods, own and inherited, not private ones", async () => {
        const a = (await proxy.counter.increment()) as number;
        assert.equal(await proxy.counter.increment(kw({ by: 5 })), a + 5);
        assert.equal(await proxy.counter.shout(), `${a + 6}!`);
        await assert.rejects(proxy.counter._hidden(), { code: "METHOD_NOT_FOUND" });
        await assert.rejects(proxy.counter.constructor(), { code: "METHOD_NOT_FOUND" });
        await assert.rejects(proxy.counter.hasOwnProperty("x"), { code: "METHOD_NOT_FOUND" });
      });

      it("rethrows remote errors with name, message, code and cause", async () => {
        await assert.rejects(proxy.fail("type"), (e: RemoteError) => {
          assert.ok(e instanceof RemoteError && e instanceof RpcError);
          assert.equal(e.name, "TypeError");
          assert.equal(e.message, "not a number");
          assert.equal(e.code, "REMOTE_ERROR");
          assert.match(e.stack ?? "", /conformance/); // the caller's own stack is kept
          return true;
        });
        await assert.rejects(proxy.fail("app"), (e: AppError) => e instanceof AppError && e.message === "app broke" && e.detail === "extra detail");
        await assert.rejects(proxy.fail("coded"), (e: RemoteError & { errno?: number }) => e.code === "ENOSPC" && e.errno === 28);
        await assert.rejects(proxy.fail("cause"), (e: RemoteError) => {
          const cause = e.cause as RemoteError;
          return e.message === "outer" && cause instanceof RemoteError && cause.name === "RangeError" && cause.message === "inner";
        });
        await assert.rejects(proxy.fail("string"), (e: RemoteError) => e.message === "a string");
      });

      it("reports unknown methods", async () => {
        await assert.rejects(proxy.no.such.method(), (e: RpcError) => e.code === "METHOD_NOT_FOUND" && /no\.such\.method/.test(e.message));
        await assert.rejects(proxy.__proto__(), { code: "METHOD_NOT_FOUND" });
      });

      it("introspects", async () => {
        const names = (await proxy.system.listMethods()) as string[];
        assert.ok(names.includes("add") && names.includes("counter.shout") && !names.includes("counter._hidden"));
        assert.equal(await proxy.system.methodSignature("add"), "add(x, y)");
      });

      it("gives handlers their context", async () => {
        assert.deepEqual(await proxy.peer(), { transport: target.name.split(/[^a-z]/)[0], hasAddress: true });
      });

      it("lets the server call the client during a call (connect with a handler)", async () => {
        const p2 = await connect(server.url, { ...clientOpts(), handler: makeClientHandler(`client-${serializer}`) });
        try {
          assert.deepEqual(await p2.askClient(21), { name: `client-${serializer}`, doubled: 42, failed: "RangeError:client-side failure" });
          // Many at once, interleaved with calls the other way.
          const many = await Promise.all(Array.from({ length: 50 }, (_, i) => p2.askClient(i)));
          assert.deepEqual(
            many.map((r) => (r as { doubled: number }).doubled),
            Array.from({ length: 50 }, (_, i) => 2 * i),
          );
          // A client without a handler answers the server's calls with METHOD_NOT_FOUND.
          const r = (await proxy.askClient(1).catch((e: RpcError) => e)) as RpcError;
          assert.equal(r.code, "METHOD_NOT_FOUND");
        } finally {
          await p2.$close();
        }
      });

      it("runs 1000 concurrent calls matched by id", async () => {
        const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => proxy.add(i, i)));
        assert.deepEqual(results, Array.from({ length: 1000 }, (_, i) => 2 * i));
      });

      it("carries a 1 MiB payload", async () => {
        const big = "x".repeat(1024 * 1024);
        assert.equal(((await proxy.echo(big)) as string).length, big.length);
        if (serializer !== "json") {
          const bytes = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
          assert.deepEqual(new Uint8Array((await proxy.echo(bytes)) as Uint8Array), bytes);
        }
      });

      it("times out, and the server sees the cancel", async () => {
        const key = `timeout-${serializer}`;
        const call = proxy.$call("wait", [key], undefined, { timeout: 30 });
        await assert.rejects(call, { code: "TIMEOUT" });
        const reason = (await slot(probes.aborted, key).promise) as RpcError;
        // The deadline travels with the call (docs/production.md): the server's own timer may fire before the cancel arrives.
        assert.ok(reason.code === "CANCELLED" || reason.code === "TIMEOUT", reason.code);
      });

      it("cancels through an AbortSignal", async () => {
        const key = `abort-${serializer}`;
        const ac = new AbortController();
        const call = proxy.$call("wait", [key], undefined, { signal: ac.signal });
        await slot(probes.started, key).promise;
        ac.abort();
        await assert.rejects(call, { code: "CANCELLED" });
        await slot(probes.aborted, key).promise;
        const pre = new AbortController();
        pre.abort();
        await assert.rejects(proxy.$call("add", [1, 2], undefined, { signal: pre.signal }), { code: "CANCELLED" });
      });

      it("rejects pending calls when the client closes", async () => {
        const key = `close-${serializer}`;
        const p2 = await connect(server.url, clientOpts());
        const call = p2.wait(key);
        await slot(probes.started, key).promise;
        const rejected = assert.rejects(call, { code: "CONNECTION_CLOSED" });
        await p2.$close();
        await rejected;
        await assert.rejects(p2.add(1, 2), { code: "CONNECTION_CLOSED" });
        const reason = (await slot(probes.aborted, key).promise) as RpcError;
        assert.equal(reason.code, "CONNECTION_CLOSED");
      });

      if (!target.skipGarbage) {
        it("answers garbage frames with PROTOCOL_ERROR and keeps serving", async () => {
          const ep = parseEndpoint(server.url);
          const transport = await getTransport(ep.scheme);
          const conn = await transport.connect(ep.url, { ...target.clientOptions });
          const frames: Uint8Array[] = [];
          const got = new Deferred<void>();
          const sink: ConnectionSink = {
            frame: (f) => {
              frames.push(new Uint8Array(f));
              got.resolve();
            },
            drain: () => {},
            close: () => got.resolve(),
          };
          conn.open(sink);
          conn.send(new Uint8Array([0xff, 0x00, 0x13, 0x37]));
          await got.promise;
          conn.close();
          if (frames.length > 0) {
            const reply = JSON.parse(new TextDecoder().decode(frames[0])) as [number, null, { code: string }];
            assert.equal(reply[0], 2);
            assert.equal(reply[2].code, "PROTOCOL_ERROR");
          }
          assert.equal(await proxy.add(1, 1), 2);
        });
      }

      it("drains in-flight calls on server close, then refuses", async () => {
        const handlerProbes = newProbes();
        const s2 = await serve(makeHandler(handlerProbes), target.listenUrl, { ...target.serverOptions, closeTimeout: 5000 });
        const p2 = await connect(s2.url, clientOpts());
        const call = p2.wait("drain");
        await slot(handlerProbes.started, "drain").promise;
        const closing = s2.close();
        slot(handlerProbes.gates, "drain").resolve("finished");
        assert.equal(await call, "finished");
        await closing;
        await assert.rejects(p2.add(1, 2), { code: "CONNECTION_CLOSED" });
        await p2.$close();
        await assert.rejects(connect(s2.url, { ...clientOpts(), handshakeTimeout: 2000 }), (e: RpcError) => e instanceof RpcError);
      });

      it("aborts calls still running at the close deadline", async () => {
        const handlerProbes = newProbes();
        const s2 = await serve(makeHandler(handlerProbes), target.listenUrl, { ...target.serverOptions, closeTimeout: 20 });
        const p2 = await connect(s2.url, clientOpts());
        const call = p2.wait("stuck");
        await slot(handlerProbes.started, "stuck").promise;
        // Observed before the close: a transport may tell the caller before close() resolves.
        const rejected = assert.rejects(call, { code: "CONNECTION_CLOSED" });
        await s2.close();
        await rejected;
        assert.equal(((await slot(handlerProbes.aborted, "stuck").promise) as RpcError).code, "SHUTTING_DOWN");
        await p2.$close();
      });
    });
  }
}
