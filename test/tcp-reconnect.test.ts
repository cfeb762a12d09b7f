/**
 * Client reconnection over TCP (the core's `reconnect` option): calls in
 * flight when the server goes fail with CONNECTION_CLOSED, calls made while
 * it is away wait for the new connection within their own timeout.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RPCHandler, connect, serve, type AnyRemote, type CallContext, type Server } from "../src/index.js";
import { Deferred } from "./conformance.js";

const authkey = "reconnect-secret";

function handler(started: Deferred<void>): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  h.register(
    "hang",
    (ctx: CallContext) =>
      new Promise((_, reject) => {
        started.resolve();
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
      }),
    { context: true },
  );
  return h;
}

describe("tcp: reconnection", { timeout: 30_000 }, () => {
  const servers: Server[] = [];
  const proxies: AnyRemote[] = [];
  after(async () => {
    for (const p of proxies) await p.$close();
    for (const s of servers) await s.close();
  });

  it("fails in-flight calls, then serves later calls once a server is back on the same port", async () => {
    const started = new Deferred<void>();
    const first = await serve(handler(started), "tcp://127.0.0.1:0", { authkey, closeTimeout: 0 });
    servers.push(first);
    const errors: unknown[] = [];
    const proxy = await connect(first.url, { authkey, reconnect: { minDelay: 10, maxDelay: 100 }, onError: (e) => errors.push(e) });
    proxies.push(proxy);
    assert.equal(await proxy.add(1, 1), 2);

    const inFlight = proxy.hang();
    const inFlightFailed = assert.rejects(inFlight, { code: "CONNECTION_CLOSED" });
    await started.promise;
    await first.close();
    await inFlightFailed;

    // While nobody listens: a short call times out, a patient one waits.
    await assert.rejects(proxy.$call("add", [0, 0], undefined, { timeout: 50 }), { code: "TIMEOUT" });
    const later = proxy.$call("add", [2, 3], undefined, { timeout: 10_000 });

    const second = await serve(handler(new Deferred<void>()), first.url, { authkey });
    servers.push(second);
    assert.equal(second.url, first.url);
    assert.equal(await later, 5);
    assert.equal(await proxy.add(4, 4), 8);
    assert.ok(errors.length > 0, "failed reconnection attempts are reported to onError");
  });

  it("keeps failing, with AUTH_FAILED reported, when the server comes back with another key", async () => {
    const first = await serve(handler(new Deferred<void>()), "tcp://127.0.0.1:0", { authkey, closeTimeout: 0 });
    servers.push(first);
    const authFailures = new Deferred<void>();
    const proxy = await connect(first.url, {
      authkey,
      reconnect: { minDelay: 10, maxDelay: 50 },
      onError: (e) => (e as { code?: string }).code === "AUTH_FAILED" && authFailures.resolve(),
    });
    proxies.push(proxy);
    await first.close();
    const other = await serve(handler(new Deferred<void>()), first.url, { authkey: "another-key" });
    servers.push(other);
    await authFailures.promise;
    await assert.rejects(proxy.$call("add", [1, 2], undefined, { timeout: 300 }), { code: "TIMEOUT" });
  });

  it("gives up after `retries` attempts and fails waiting calls with CONNECTION_CLOSED", async () => {
    const started = new Deferred<void>();
    const first = await serve(handler(started), "tcp://127.0.0.1:0", { authkey, closeTimeout: 0 });
    const proxy = await connect(first.url, { authkey, reconnect: { retries: 2, minDelay: 10, maxDelay: 20 } });
    proxies.push(proxy);
    const inFlightFailed = assert.rejects(proxy.hang(), { code: "CONNECTION_CLOSED" });
    await started.promise;
    await first.close();
    await inFlightFailed;
    const t0 = Date.now();
    await assert.rejects(proxy.$call("add", [1, 2], undefined, { timeout: 5000 }), { code: "CONNECTION_CLOSED" });
    assert.ok(Date.now() - t0 < 4000, "failed when the retries ran out, not at the call's timeout");
  });
});
