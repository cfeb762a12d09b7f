/**
 * Scale-out through a broker (ROUTER frontend, DEALER backend, ZeroMQ's
 * proxy): three wirecall worker processes serve one endpoint; calls spread
 * over them; a killed worker's calls time out while the others keep serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, type AnyRemote, type RpcError } from "../src/index.js";
import { startBroker, type Broker } from "../transports/zmq/index.js";
import { FIXTURES, startDaemon, type Daemon } from "./zmq-fixtures.js";

describe("zmq broker with three worker processes", () => {
  let broker: Broker;
  const workers: Daemon[] = [];
  let proxy: AnyRemote;

  before(async () => {
    broker = await startBroker("zmq+tcp://127.0.0.1:0", "zmq+tcp://127.0.0.1:0");
    const started = await Promise.all([0, 1, 2].map(() => startDaemon(process.execPath, [`${FIXTURES}worker.mjs`, broker.backendUrl])));
    workers.push(...started);
    for (const w of workers) assert.equal(w.firstLine, "ready");
    await broker.waitForWorkers(3);
    // msgpack: each worker decodes payloads whose hello it may never have seen on its own.
    proxy = await connect(broker.frontendUrl, { serializer: "msgpack", timeout: 5000 });
  });

  after(async () => {
    await proxy?.$close();
    await Promise.all(workers.map((w) => w.stop()));
    await broker?.close();
  });

  it("spreads calls over every worker", async () => {
    const pids = (await Promise.all(Array.from({ length: 60 }, () => proxy.whoami()))) as number[];
    const counts = new Map<number, number>();
    for (const pid of pids) counts.set(pid, (counts.get(pid) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), workers.map((w) => w.child.pid).sort());
    for (const n of counts.values()) assert.ok(n >= 10, `uneven spread: ${[...counts.values()].join(", ")}`);
  });

  it("fails a killed worker's in-flight calls with TIMEOUT while the others keep serving", async () => {
    const victim = workers[0] as Daemon;
    const survivors = workers.slice(1).map((w) => w.child.pid);
    const calls = Array.from({ length: 12 }, () => proxy.$call("sleep", [500], undefined, { timeout: 2500 }));
    await victim.waitForLine(/^busy/);
    victim.child.kill("SIGKILL");
    await victim.exited;
    const settled = await Promise.allSettled(calls);
    const served = settled.filter((s) => s.status === "fulfilled").map((s) => (s as PromiseFulfilledResult<unknown>).value);
    const failed = settled.filter((s) => s.status === "rejected").map((s) => (s as PromiseRejectedResult).reason as RpcError);
    assert.ok(failed.length > 0, "the victim's calls should have failed");
    for (const e of failed) assert.equal(e.code, "TIMEOUT");
    assert.ok(served.length > 0, "the other workers should have answered");
    for (const pid of served) assert.ok(survivors.includes(pid as number), `answered by ${pid}`);

    await broker.waitForWorkers(2);
    const after = (await Promise.all(Array.from({ length: 20 }, () => proxy.whoami()))) as number[];
    assert.deepEqual([...new Set(after)].sort(), survivors.sort());
  });
});
