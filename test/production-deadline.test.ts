/**
 * Deadlines across hops over tcp, ws and zmq: the remaining time travels
 * with a call, `ctx.deadline` and `ctx.signal` on the handler, calls made
 * inside a handler inherit what remains (automatically, and with
 * `$with({ parent: ctx })`), and `connect(url, { timeout })` is a default
 * per-call timeout.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, type AnyRemote, type CallContext, type Server } from "../src/index.js";
import { Deferred, TRANSPORTS, raw, start, within } from "./production-support.js";

/** What a hop saw: its deadline when called, and why its signal fired. */
interface Hop {
  deadline: Deferred<number | undefined>;
  aborted: Deferred<unknown>;
}

function hop(): Hop {
  return { deadline: new Deferred(), aborted: new Deferred() };
}

/** Resolves with the signal's reason when it fires (the handler then rejects with it). */
function waitAbort(ctx: CallContext, h: Hop): Promise<never> {
  h.deadline.resolve(ctx.deadline);
  return new Promise((_, reject) => {
    const fire = (): void => {
      h.aborted.resolve(ctx.signal.reason);
      reject(ctx.signal.reason);
    };
    if (ctx.signal.aborted) fire();
    else ctx.signal.addEventListener("abort", fire, { once: true });
  });
}

/**
 * A -> B -> C: C serves `work`, B serves `relay`, which calls C as `callC`
 * says and then waits, like C, until its signal fires.
 */
async function relayChain(url: () => string, callC: (toC: AnyRemote, ctx: CallContext) => void): Promise<{ b: Hop; c: Hop; toC: AnyRemote; B: Server }> {
  const b = hop();
  const c = hop();
  const C = await start(new RPCHandler().register("work", (ctx: CallContext) => waitAbort(ctx, c), { context: true }), url());
  const toC = await connect(C.url);
  const B = await start(
    new RPCHandler().register(
      "relay",
      (ctx: CallContext) => {
        callC(toC, ctx);
        return waitAbort(ctx, b);
      },
      { context: true },
    ),
    url(),
  );
  return { b, c, toC, B };
}

for (const t of TRANSPORTS) {
  describe(`${t.name}: deadlines across hops`, () => {
    it("A -> B -> C: A's deadline travels; B's and C's signals fire when it passes", async () => {
      const cOut = new Deferred<unknown>();
      // No parent given: the call inherits from the call being served.
      const { b, c, toC, B } = await relayChain(t.url, (toC) => void toC.work().then(cOut.resolve, cOut.resolve));
      const a = await connect(B.url);
      try {
        const sent = Date.now();
        await assert.rejects(a.$with({ timeout: 600 }).relay(), (e: RpcError) => e.code === "TIMEOUT");
        const [bDeadline, cDeadline] = await within(Promise.all([b.deadline.promise, c.deadline.promise]), "deadlines");
        assert.ok(bDeadline !== undefined && cDeadline !== undefined);
        // B knows A's deadline, C what B had left; each hop's deadline is its arrival time plus
        // what remained when it was sent, so transit (long on a loaded machine) may add a little.
        assert.ok(bDeadline <= sent + 600 + 250 && bDeadline >= sent + 300, `B's deadline ${bDeadline - sent} ms after sending`);
        assert.ok(cDeadline <= bDeadline + 250, `C's deadline ${cDeadline - bDeadline} ms after B's`);
        const [bWhy, cWhy] = await within(Promise.all([b.aborted.promise, c.aborted.promise]), "B and C aborted");
        for (const why of [bWhy, cWhy]) assert.ok(why instanceof RpcError && (why.code === "TIMEOUT" || why.code === "CANCELLED"), String(why));
        // B's own call to C ended too, instead of waiting on.
        const out = (await within(cOut.promise, "B's call to C")) as RpcError;
        assert.ok(out instanceof RpcError && (out.code === "TIMEOUT" || out.code === "CANCELLED"), String(out));
      } finally {
        await a.$close();
        await toC.$close();
      }
    });

    it("$with({ parent: ctx }): cancelling A's call cancels B's call to C, with no deadline anywhere", async () => {
      const { b, c, toC, B } = await relayChain(t.url, (toC, ctx) => void toC.$with({ parent: ctx }).work().catch(() => undefined));
      const a = await connect(B.url);
      try {
        const ac = new AbortController();
        const call = a.$with({ signal: ac.signal }).relay();
        assert.equal(await within(c.deadline.promise, "C called"), undefined);
        assert.equal(await b.deadline.promise, undefined);
        ac.abort();
        await assert.rejects(call, (e: RpcError) => e.code === "CANCELLED");
        const [bWhy, cWhy] = (await within(Promise.all([b.aborted.promise, c.aborted.promise]), "B and C aborted")) as RpcError[];
        assert.equal(bWhy?.code, "CANCELLED");
        assert.equal(cWhy?.code, "CANCELLED");
      } finally {
        await a.$close();
        await toC.$close();
      }
    });

    it("connect(url, { timeout }) is a default per-call timeout (also from ?timeout=), overridden per call", async () => {
      const aborted: unknown[] = [];
      const seen = new Deferred<void>();
      const h = new RPCHandler();
      h.register(
        "slow",
        (ctx: CallContext, ms: number) =>
          new Promise((resolve, reject) => {
            const timer = setTimeout(() => resolve(ctx.deadline === undefined ? "none" : "deadline"), ms);
            ctx.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              aborted.push(ctx.signal.reason);
              seen.resolve();
              reject(ctx.signal.reason);
            });
          }),
        { context: true },
      );
      const server = await start(h, t.url());
      const proxy = await connect(server.url, { timeout: 150 });
      const sep = server.url.includes("?") ? "&" : "?";
      const fromQuery = await connect(`${server.url}${sep}timeout=150`);
      try {
        // The caller's timer ("... 150 ms") or the server's copy of the same deadline, whose TIMEOUT
        // answer can arrive first: both end the call as TIMEOUT.
        await assert.rejects(proxy.slow(5000), (e: RpcError) => e.code === "TIMEOUT" && /150 ms|deadline of 'slow' passed/.test(e.message));
        await within(seen.promise, "the handler aborted");
        // Its own deadline timer or the caller's cancel, whichever came first.
        assert.ok(["TIMEOUT", "CANCELLED"].includes((aborted[0] as RpcError).code), String(aborted[0]));
        await assert.rejects(fromQuery.slow(5000), (e: RpcError) => e.code === "TIMEOUT");
        assert.equal(await proxy.$with({ timeout: 10_000 }).slow(1), "deadline");
        assert.equal(await proxy.$with({ timeout: 0 }).slow(1), "none");
      } finally {
        await proxy.$close();
        await fromQuery.$close();
      }
    });

    it("a call whose deadline passes while it waits for a slot never runs: the server answers TIMEOUT itself", async () => {
      const gate = new Deferred<void>();
      const ran: string[] = [];
      const h = new RPCHandler();
      h.register("hold", async () => {
        ran.push("hold");
        await gate.promise;
        return "held";
      });
      h.register("quick", () => {
        ran.push("quick");
        return "quick";
      });
      const server = await start(h, "tcp://127.0.0.1:0", { maxInFlight: 1 });
      // A raw peer, so that only the server's own timer can end the waiting call.
      const peer = await raw(server.url);
      try {
        peer.send({ wirecall: 1, serializer: "json", meta: 1 });
        await peer.next();
        peer.send([0, 1, "hold", []]);
        peer.send([0, 2, "quick", [], null, null, { timeout: 50 }]);
        const answer = (await peer.next()) as [number, number, { code: string }];
        assert.deepEqual([answer[0], answer[1], answer[2].code], [2, 2, "TIMEOUT"]);
        gate.resolve();
        assert.deepEqual(await peer.next(), [1, 1, "held"]);
        peer.send([0, 3, "quick", []]);
        assert.deepEqual(await peer.next(), [1, 3, "quick"]);
        assert.deepEqual(ran, ["hold", "quick"]);
      } finally {
        peer.conn.close();
      }
    });
  });
}

describe("deadlines: the caller side", () => {
  it("a call made after its parent's deadline passed is not sent; an explicit deadline applies", async () => {
    const h = new RPCHandler();
    let calls = 0;
    h.register("f", () => ++calls);
    const server = await start(h, "tcp://127.0.0.1:0");
    const proxy = await connect(server.url);
    try {
      const parent = { signal: new AbortController().signal, deadline: Date.now() - 1 } as unknown as CallContext;
      await assert.rejects(proxy.$with({ parent }).f(), (e: RpcError) => e.code === "TIMEOUT" && /inherited/.test(e.message));
      await assert.rejects(proxy.$with({ deadline: Date.now() - 1 }).f(), (e: RpcError) => e.code === "TIMEOUT");
      assert.equal(calls, 0);
      assert.equal(await proxy.$with({ deadline: Date.now() + 10_000, parent: null }).f(), 1);
    } finally {
      await proxy.$close();
    }
  });
});

describe("deadlines past setTimeout's range", () => {
  it("a 30-day timeout or a far header timeout does not fire at once", async () => {
    const h = new RPCHandler().register(
      "later",
      async (ctx: CallContext) => {
        // Long enough for a timer that overflowed (and so fires at once) to have fired.
        await new Promise((r) => setTimeout(r, 20));
        return !ctx.signal.aborted && (ctx.deadline ?? 0) - Date.now() > 20 * 86_400_000;
      },
      { context: true },
    );
    const server = await start(h, "tcp://127.0.0.1:0");
    const proxy = await connect(server.url);
    const peer = await raw(server.url);
    try {
      assert.equal(await proxy.$with({ timeout: 30 * 86_400_000 }).later(), true);
      peer.send({ wirecall: 1, serializer: "json", meta: 1 });
      await peer.next();
      peer.send([0, 1, "later", [], null, null, { timeout: 1e12 }]);
      assert.deepEqual(await peer.next(), [1, 1, true]);
    } finally {
      await proxy.$close();
      peer.conn.close();
    }
  });
});
