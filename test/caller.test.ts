/**
 * The one caller (src/caller.ts): timeout, signal, abandon and the caller's
 * stack, and the three clients built on it (wirecall sessions, the Python
 * recipe caller, XML-RPC over HTTP) honouring `captureStack` alike.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, connect, serve, type RpcError } from "../src/index.js";
import { startCall, type OutgoingCall } from "../src/transport-sdk.js";
import "../transports/tcp/index.js";
import "../transports/xmlrpc/index.js";
// Registers the Python recipe: tcp:// servers answer recipe clients, `profile: "python"` calls recipe servers.
import "../protocols/python/index.js";

describe("startCall", () => {
  // The caller's timers are unref'd (they must not keep a process alive), so
  // without a handle of its own this file's event loop could end mid-test.
  let hold: ReturnType<typeof setInterval>;
  before(() => {
    hold = setInterval(() => {}, 60_000);
  });
  after(() => clearInterval(hold));

  it("times out once, abandons once, and ignores later settlements", async () => {
    const abandoned: OutgoingCall[] = [];
    const { promise, call } = startCall("slow", [], undefined, { timeout: 10 }, undefined);
    assert.ok(call);
    call.onAbandon = (c) => abandoned.push(c);
    await assert.rejects(promise, (e: RpcError) => e.code === "TIMEOUT" && /'slow'/.test(e.message));
    call.resolve(1);
    call.reject(new Error("late"));
    assert.equal(abandoned.length, 1);
    assert.equal(call.settled, true);
  });

  it("an aborted signal rejects before anything is sent; a later abort cancels", async () => {
    const pre = new AbortController();
    pre.abort("no");
    const early = startCall("x", [], undefined, { signal: pre.signal }, undefined);
    assert.equal(early.call, undefined);
    await assert.rejects(early.promise, { code: "CANCELLED" });
    const ac = new AbortController();
    const later = startCall("x", [], undefined, undefined, { signal: ac.signal });
    let abandoned = 0;
    later.call!.onAbandon = () => abandoned++;
    ac.abort();
    await assert.rejects(later.promise, { code: "CANCELLED" });
    assert.equal(abandoned, 1);
  });

  it("a settled call leaves no listener on the signal and no timer", async () => {
    const ac = new AbortController();
    const { promise, call } = startCall("x", [], undefined, { timeout: 60_000, signal: ac.signal }, undefined);
    call!.resolve(5);
    assert.equal(await promise, 5);
    let abandoned = 0;
    call!.onAbandon = () => abandoned++;
    ac.abort();
    assert.equal(abandoned, 0);
  });
});

/** Named so its frame is recognisable in a stack. */
async function callSiteForStackTest(p: Promise<unknown>): Promise<Error> {
  return (await p.catch((e: unknown) => e)) as Error;
}

describe("every client honours captureStack", () => {
  const handler = () =>
    new RPCHandler().register("boom", () => {
      throw new RangeError("boom");
    });

  for (const [name, url, extra] of [
    ["wirecall session", "tcp://127.0.0.1:0", {}],
    ["Python recipe caller", "tcp://127.0.0.1:0", { profile: "python", idiom: 4 }],
    ["XML-RPC client", "xmlrpc+http://127.0.0.1:0/RPC2", {}],
  ] as const) {
    it(name, async () => {
      const server = await serve(handler(), url);
      try {
        for (const captureStack of [true, false]) {
          const proxy = await connect(server.url, { ...extra, captureStack });
          const err = await callSiteForStackTest(proxy.boom());
          assert.equal(err.message, "boom");
          // On: the frames of the line that awaited the call. Off: not one frame of this file.
          const stack = err.stack ?? "";
          if (captureStack) assert.match(stack, /callSiteForStackTest/);
          else assert.doesNotMatch(stack, /caller\.test/);
          await proxy.$close();
        }
      } finally {
        await server.close();
      }
    });
  }
});
