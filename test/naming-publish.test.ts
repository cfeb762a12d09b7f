/**
 * `server.publish(name, { nameserver, metadata, ttl })`: the name is a lease
 * renewed while the server runs, removed by `server.close()`, and gone
 * within `ttl` after the publishing process is SIGKILLed (a real child
 * process, a real name server on loopback). A restarted name server gets
 * the name back at the next renewal.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, startNameServer, type NameServer } from "../src/index.js";
import "../transports/tcp/index.js";
import "../transports/ws/index.js";

const KEY = "naming-publish-key";
const FIXTURE = new URL("./fixtures/naming/publisher.js", import.meta.url);

/** Poll `check` every 20 ms until it returns true; fail after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

function present(ns: NameServer, name: string): boolean {
  try {
    ns.registry.lookup(name);
    return true;
  } catch (err) {
    assert.ok(err instanceof RpcError && err.code === "NAME_NOT_FOUND", String(err));
    return false;
  }
}

describe("server.publish", () => {
  it("registers the object's URL as a lease, renews it every ttl/3, and close() removes it", async () => {
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
    const handler = new RPCHandler();
    handler.registerInstance({ twice: (x: number) => 2 * x }, "calc");
    const server = await serve(handler, "ws://127.0.0.1:0/rpc", { authkey: KEY });
    try {
      const ttl = 600;
      const url = await server.publish("math.calc", { nameserver: ns.url, nameserverOptions: { authkey: KEY }, ttl, object: "calc", metadata: ["math"] });
      assert.equal(url, server.urlOf("calc"));
      const first = ns.registry.lookup("math.calc");
      assert.equal(first.url, url);
      assert.deepEqual([...first.metadata], ["math"]);
      assert.ok(first.expires !== undefined && first.expires <= Date.now() + ttl);
      const p = await connect(`PYRONAME:math.calc@${new URL(ns.url).host}`, { authkey: KEY });
      assert.equal(await p.twice(21), 42);
      await p.$close();
      // Renewed: the lease end moves forward, and the name outlives its first lease.
      await until(() => (ns.registry.lookup("math.calc").expires ?? 0) > (first.expires as number), 5 * ttl, "a renewal");
      await until(() => Date.now() > (first.expires as number) + 50, 2 * ttl, "the first lease's end");
      assert.ok(present(ns, "math.calc"), "a renewed lease outlives its first term");

      await server.close();
      assert.ok(!present(ns, "math.calc"), "close() removes the name before it returns");
    } finally {
      await server.close();
      await ns.close();
    }
  });

  it("unpublish removes the name; publish to a name server that is not there fails with CONNECT_FAILED", async () => {
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
    const handler = new RPCHandler();
    handler.register(function ping() {
      return "pong";
    });
    const server = await serve(handler, "tcp://127.0.0.1:0", { authkey: KEY });
    try {
      const url = await server.publish("root", { nameserver: ns.url, nameserverOptions: { authkey: KEY }, object: null });
      assert.equal(url, server.url);
      assert.equal(ns.registry.lookup("root").url, server.url);
      await server.unpublish("root");
      assert.ok(!present(ns, "root"));
      const gone = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
      const goneUrl = gone.url;
      await gone.close();
      await assert.rejects(server.publish("x", { nameserver: goneUrl, nameserverOptions: { authkey: KEY } }), (e: unknown) => e instanceof RpcError && e.code === "CONNECT_FAILED");
    } finally {
      await server.close();
      await ns.close();
    }
  });

  it("a SIGKILLed publisher's name disappears within its ttl", async () => {
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
    const ttl = 3000;
    const name = "victim.svc";
    const child = spawn(process.execPath, [FIXTURE.pathname, JSON.stringify({ url: "tcp://127.0.0.1:0", ns: ns.url, name, ttl, authkey: KEY })], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the publisher did not start within 30 s")), 30_000);
        createInterface({ input: child.stdout }).once("line", (l) => {
          clearTimeout(timer);
          resolve(l);
        });
        child.once("exit", (code) => reject(new Error(`the publisher exited (${code}) before publishing`)));
      });
      const { url, pid } = JSON.parse(line) as { url: string; pid: number };
      assert.equal(ns.registry.lookup(name).url, url);
      const p = await connect(`PYRONAME:${name}@${new URL(ns.url).host}`, { authkey: KEY });
      assert.equal(await p.whoami(), pid);
      await p.$close();

      child.kill("SIGKILL");
      await exited;
      const killedAt = Date.now();
      // No close() ran: the name is still there, until its lease ends.
      const lease = ns.registry.lookup(name).expires as number;
      assert.ok(lease > killedAt && lease <= killedAt + ttl, `lease ends ${lease - killedAt} ms after the kill`);
      const took = await until(() => !present(ns, name), ttl + 2000, "the name's expiry");
      assert.ok(took <= ttl + 500, `gone ${took} ms after the kill (ttl ${ttl})`);
      await assert.rejects(connect(`PYRONAME:${name}@${new URL(ns.url).host}`, { authkey: KEY }), (e: unknown) => e instanceof RpcError && e.code === "NAME_NOT_FOUND");
    } finally {
      child.kill("SIGKILL");
      await exited;
      await ns.close();
    }
  });

  it("a restarted name server gets the name back at the next renewal", async () => {
    let ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
    const nsUrl = ns.url;
    const handler = new RPCHandler();
    handler.registerInstance({ hi: () => "hi" }, "svc");
    const server = await serve(handler, "tcp://127.0.0.1:0", { authkey: KEY });
    try {
      await server.publish("svc", { nameserver: nsUrl, nameserverOptions: { authkey: KEY }, ttl: 600 });
      await ns.close();
      ns = await startNameServer(nsUrl, { authkey: KEY });
      assert.ok(!present(ns, "svc"), "a name server without storage starts empty");
      await until(() => present(ns, "svc"), 3000, "re-registration after the restart");
      assert.equal(ns.registry.lookup("svc").url, server.urlOf("svc"));
    } finally {
      await server.close();
      await ns.close();
    }
  });

  it("a renewal the name server never answers times out, and renewals go on", async () => {
    // A stand-in name server whose register answers once, then hangs.
    let calls = 0;
    const fake = new RPCHandler();
    fake.registerInstance(
      {
        register(name: string, uri: string, safe = false, metadata: unknown = null, ttl_ms: number | null = null): Promise<null> | null {
          void [name, uri, safe, metadata, ttl_ms];
          calls++;
          return calls === 1 ? null : new Promise<null>(() => undefined);
        },
        lookup: () => null,
        remove: () => 0,
      },
      "Pyro.NameServer",
    );
    const nsServer = await serve(fake, "tcp://127.0.0.1:0", { authkey: KEY, closeTimeout: 100 });
    const handler = new RPCHandler();
    handler.registerInstance({ hi: () => "hi" }, "svc");
    const server = await serve(handler, "tcp://127.0.0.1:0", { authkey: KEY });
    try {
      await server.publish("svc", { nameserver: nsServer.url, nameserverOptions: { authkey: KEY }, ttl: 600 });
      // Call 2 hangs; without a timeout no call 3 would ever come.
      const took = await until(() => calls >= 3, 10_000, "a renewal after a hung one");
      assert.ok(took >= 900, `the hung renewal was given its timeout (${took} ms)`);
    } finally {
      await server.close();
      await nsServer.close();
    }
  });
});
