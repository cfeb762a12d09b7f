/**
 * NATS doing the distribution, with real processes: 1, 2 and 4 worker
 * processes behind one subject (calls counted per worker); a cluster of
 * three nats-servers joined by routes, a caller on A and workers on B and
 * C, then B killed; a worker SIGKILLed with calls in flight. Every call is
 * accounted for: answered once, or failed with a code.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { RPCHandler, RpcError, connect, serve, type AnyRemote } from "../src/index.js";
import { NatsCaller } from "../transports/nats/index.js";
import { registerAbortProbe } from "./support/abort-probe.js";
import { startNatsCluster, startNatsServer, type NatsServer } from "./support/nats-server.js";
import { startWorker, type WorkerProcess } from "./support/nats-workers.js";

const FAST = { heartbeat: 200, reconnectTimeWait: 100 };

function callerOf(proxy: AnyRemote): NatsCaller {
  return proxy.$caller as NatsCaller;
}

/** Discover until `n` workers have a lane (workers on other cluster nodes are known after the routes carry their interest). */
async function untilWorkers(proxy: AnyRemote, n: number, limitMs = 20_000): Promise<void> {
  const caller = callerOf(proxy);
  const end = Date.now() + limitMs;
  while (caller.workers < n) {
    if (Date.now() > end) assert.fail(`only ${caller.workers} of ${n} workers found within ${limitMs} ms`);
    await caller.discover();
  }
}

interface Outcome {
  label?: string;
  code?: string;
  settled: number;
}

/** Call `method` and record how it ended; `settled` counts settlements (must end at 1). */
function tracked(p: Promise<unknown>, outcomes: Outcome[]): Promise<void> {
  const o: Outcome = { settled: 0 };
  outcomes.push(o);
  return p.then(
    (v) => {
      o.settled++;
      o.label = v as string;
    },
    (e: unknown) => {
      o.settled++;
      o.code = e instanceof RpcError ? e.code : `not an RpcError: ${String(e)}`;
    },
  );
}

function countBy(outcomes: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const k = o.label ?? `error:${o.code}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

describe("nats: calls spread over 1, 2 and 4 worker processes", () => {
  let server: NatsServer;
  const workers: WorkerProcess[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await server?.kill();
  });

  for (const n of [1, 2, 4]) {
    it(`${n} worker${n > 1 ? "s" : ""}: every one gets a share of one caller's calls`, async () => {
      server ??= await startNatsServer();
      const subject = `spread.n${n}`;
      const mine = await Promise.all(Array.from({ length: n }, (_, i) => startWorker(server.url, subject, `w${i}`)));
      workers.push(...mine);
      const proxy = await connect(`${server.url}/${subject}`, { ...FAST, serializer: "msgpack" });
      try {
        await untilWorkers(proxy, n);
        // Pipelined: 400 calls in flight at once.
        const outcomes: Outcome[] = [];
        await Promise.all(Array.from({ length: 400 }, () => tracked(proxy.whoami(), outcomes)));
        // One after another: nothing pending, so turns decide.
        for (let i = 0; i < 40; i++) await tracked(proxy.whoami(), outcomes);
        const counts = countBy(outcomes);
        console.log(`# ${n} worker(s), calls per worker: ${JSON.stringify(counts)}`);
        assert.equal(outcomes.length, 440);
        for (const w of mine) assert.ok((counts[w.label] ?? 0) >= 440 / n / 2, `worker ${w.label} got ${counts[w.label] ?? 0} of 440: ${JSON.stringify(counts)}`);
        assert.equal(Object.keys(counts).length, n, `only workers answered: ${JSON.stringify(counts)}`);
      } finally {
        await proxy.$close();
        await Promise.all(mine.map((w) => w.stop()));
      }
    });
  }
});

describe("nats: a worker SIGKILLed mid-call fails only its own calls, quickly", () => {
  let server: NatsServer;
  const workers: WorkerProcess[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await server?.kill();
  });

  it("20 calls held over two workers; kill one: its calls fail with CONNECTION_CLOSED within about two heartbeats, the other's finish", async () => {
    server = await startNatsServer();
    const subject = "kill.one";
    const [a, b] = await Promise.all([startWorker(server.url, subject, "a"), startWorker(server.url, subject, "b")]);
    workers.push(a as WorkerProcess, b as WorkerProcess);
    const proxy = await connect(`${server.url}/${subject}`, FAST);
    try {
      await untilWorkers(proxy, 2);
      const outcomes: Outcome[] = [];
      const settledAt: number[] = [];
      let failures = 0;
      let tenFailed!: () => void;
      const allOfAFailed = new Promise<void>((resolve) => (tenFailed = resolve));
      const calls = Array.from({ length: 20 }, () =>
        tracked(proxy.hold("k"), outcomes).then(() => {
          settledAt.push(Date.now());
          if (outcomes.filter((o) => o.code !== undefined).length > failures && ++failures === 10) tenFailed();
        }),
      );
      // Both workers hold calls: each answers whoami in turn while holding.
      const holders = countBy(await Promise.all([proxy.whoami(), proxy.whoami()]).then((ls) => ls.map((label) => ({ label: label as string, settled: 1 }))));
      assert.deepEqual(Object.keys(holders).sort(), ["a", "b"]);
      const killedAt = Date.now();
      await (a as WorkerProcess).kill();
      // Wait until a's calls have failed (bounded); b's stay pending meanwhile.
      let limit: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([allOfAFailed, new Promise<void>((resolve) => (limit = setTimeout(resolve, 15_000)))]);
      clearTimeout(limit);
      const failed = outcomes.filter((o) => o.code !== undefined);
      assert.equal(failed.length, 10, `a's 10 calls fail: ${JSON.stringify(countBy(outcomes))}`);
      assert.ok(failed.every((o) => o.code === "CONNECTION_CLOSED"), JSON.stringify(countBy(outcomes)));
      const slowest = Math.max(...settledAt) - killedAt;
      console.log(`# SIGKILL to the last of the dead worker's calls failing: ${slowest} ms (heartbeat 200 ms)`);
      assert.ok(slowest < 5_000, `took ${slowest} ms`);
      assert.equal(outcomes.filter((o) => o.settled === 0).length, 10, "b's calls are still running");
      // Now release b's: release(k) can only reach b.
      assert.equal(await proxy.release("k"), "b");
      await Promise.all(calls);
      assert.deepEqual(countBy(outcomes), { b: 10, "error:CONNECTION_CLOSED": 10 });
      assert.ok(outcomes.every((o) => o.settled === 1));
      // Later calls go to b alone.
      assert.deepEqual(await Promise.all([proxy.whoami(), proxy.whoami(), proxy.whoami()]), ["b", "b", "b"]);
    } finally {
      await proxy.$close();
    }
  });
});

describe("nats: a cluster of three nats-servers joined by routes", () => {
  let cluster: NatsServer[] = [];
  const workers: WorkerProcess[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await Promise.all(cluster.map((s) => s.kill()));
  });

  it("a caller on A reaches workers on B and C; killing B moves its workers' share, they reconnect and come back; every call accounted for", async () => {
    cluster = await startNatsCluster(3);
    const [A, B, C] = cluster as [NatsServer, NatsServer, NatsServer];
    const subject = "cluster.svc";
    const onB = await Promise.all([startWorker(B.url, subject, "b1"), startWorker(B.url, subject, "b2")]);
    const onC = await Promise.all([startWorker(C.url, subject, "c1"), startWorker(C.url, subject, "c2")]);
    workers.push(...onB, ...onC);
    const proxy = await connect(`${A.url}/${subject}`, FAST);
    try {
      await untilWorkers(proxy, 4);
      const before: Outcome[] = [];
      await Promise.all(Array.from({ length: 200 }, () => tracked(proxy.whoami(), before)));
      assert.deepEqual(Object.keys(countBy(before)).sort(), ["b1", "b2", "c1", "c2"], JSON.stringify(countBy(before)));

      // Load during and after the loss of B, in batches of 20 calls: first batches without B's
      // workers (their share moved to C's), then B's workers answer again (they reconnected).
      const during: Outcome[] = [];
      await B.kill();
      const killedAt = Date.now();
      let movedAt: number | undefined;
      let backAt: number | undefined;
      const end = Date.now() + 60_000;
      while (backAt === undefined && Date.now() < end) {
        const batch: Outcome[] = [];
        await Promise.all(Array.from({ length: 20 }, () => tracked(proxy.$call("whoami", [], undefined, { timeout: 20_000 }), batch)));
        during.push(...batch);
        const labels = new Set(batch.map((o) => o.label).filter((l) => l !== undefined));
        if (movedAt === undefined && labels.size > 0 && [...labels].every((l) => l.startsWith("c"))) movedAt = Date.now();
        else if (movedAt !== undefined && labels.has("b1") && labels.has("b2")) backAt = Date.now();
      }
      const afterKill = countBy(during);
      console.log(`# after killing B: ${JSON.stringify(afterKill)}; only C's workers answered from ${movedAt === undefined ? "never" : `${movedAt - killedAt} ms`}; B's workers back after ${backAt === undefined ? "never" : `${backAt - killedAt} ms`}`);
      assert.ok(movedAt !== undefined, `the share never moved to C's workers: ${JSON.stringify(afterKill)}`);
      assert.ok(backAt !== undefined, `B's workers did not come back: ${JSON.stringify(afterKill)}`);
      // Accounted for: every call settled exactly once, answered or failed with CONNECTION_CLOSED (a call caught on B as it died).
      assert.ok(during.every((o) => o.settled === 1), "each call settles once");
      for (const [k, v] of Object.entries(afterKill)) {
        assert.ok(["b1", "b2", "c1", "c2", "error:CONNECTION_CLOSED"].includes(k), `unexpected outcome ${k} x${v}`);
      }
      // And after it all, the four share the calls again.
      await untilWorkers(proxy, 4);
      const again: Outcome[] = [];
      await Promise.all(Array.from({ length: 200 }, () => tracked(proxy.whoami(), again)));
      assert.deepEqual(Object.keys(countBy(again)).sort(), ["b1", "b2", "c1", "c2"], JSON.stringify(countBy(again)));
    } finally {
      await proxy.$close();
    }
  });
});

describe("nats: liveness both ways", () => {
  let server: NatsServer;
  const workers: WorkerProcess[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await server?.kill();
  });

  it("a hung worker (event loop blocked, NATS connection up) fails its calls after livenessTimeout, not never", async () => {
    server ??= await startNatsServer();
    const w = await startWorker(server.url, "hung.svc", "h");
    workers.push(w);
    const proxy = await connect(`${server.url}/hung.svc`, { heartbeat: 100, livenessTimeout: 500 });
    try {
      const t0 = Date.now();
      await assert.rejects(proxy.block(4000), (e: RpcError) => e.code === "CONNECTION_CLOSED" && /did not answer a liveness ping within 500 ms/.test(e.message));
      const took = Date.now() - t0;
      console.log(`# hung worker: its call failed after ${took} ms (heartbeat 100, livenessTimeout 500; the worker was blocked for 4000)`);
      assert.ok(took < 3_500, `took ${took} ms`);
      // Once the worker is responsive again, the caller finds it again.
      assert.equal(await proxy.$call("whoami", [], undefined, { timeout: 20_000 }), "h");
    } finally {
      await proxy.$close();
    }
  });

  it("a caller SIGKILLed mid-call: the worker aborts that call (ctx.signal, CONNECTION_CLOSED) within about two heartbeats", async () => {
    server ??= await startNatsServer();
    const h = new RPCHandler();
    const { started: startedP, aborted: abortedP } = registerAbortProbe(h);
    const worker = await serve(h, `${server.url}/dead.caller`, { heartbeat: 200 });
    const child = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/nats/caller.js", import.meta.url)), worker.url, "wait"], { stdio: ["pipe", "ignore", "inherit"] });
    try {
      let limit: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([startedP, new Promise((_, reject) => (limit = setTimeout(() => reject(new Error("the child's call never started")), 20_000)))]);
      clearTimeout(limit);
      const killedAt = Date.now();
      child.kill("SIGKILL");
      const reason = (await Promise.race([abortedP, new Promise((_, reject) => (limit = setTimeout(() => reject(new Error("the worker never aborted the dead caller's call")), 15_000)))])) as RpcError;
      clearTimeout(limit);
      const took = Date.now() - killedAt;
      console.log(`# dead caller: the worker aborted its call ${took} ms after the SIGKILL (heartbeat 200 ms)`);
      assert.equal(reason.code, "CONNECTION_CLOSED");
      assert.ok(took < 5_000, `took ${took} ms`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await worker.close();
    }
  });
});

describe("nats: the caller's own NATS server dies", () => {
  let cluster: NatsServer[] = [];
  const workers: WorkerProcess[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await Promise.all(cluster.map((s) => s.kill()));
  });

  it("calls in flight fail at once with CONNECTION_CLOSED; the caller reconnects to another server and calls go on", async () => {
    cluster = await startNatsCluster(3);
    const [A, , C] = cluster as [NatsServer, NatsServer, NatsServer];
    const w = await startWorker(C.url, "caller.loss", "c");
    workers.push(w);
    const proxy = await connect(`${A.url}/caller.loss`, FAST);
    try {
      await untilWorkers(proxy, 1);
      const held = proxy.hold("x").then(
        () => "answered",
        (e: RpcError) => e.code,
      );
      assert.equal(await proxy.whoami(), "c"); // the hold is running on c
      const killedAt = Date.now();
      await A.kill();
      assert.equal(await held, "CONNECTION_CLOSED");
      const took = Date.now() - killedAt;
      console.log(`# caller's NATS server killed: its call in flight failed after ${took} ms`);
      assert.ok(took < 5_000, `took ${took} ms`);
      // Made while the client reconnects: waits for the new lane.
      assert.equal(await proxy.$call("whoami", [], undefined, { timeout: 20_000 }), "c");
      await proxy.release("x");
    } finally {
      await proxy.$close();
    }
  });
});
