#!/usr/bin/env node
/**
 * CPU per sequential call over tcp+msgpack, client and server apart (user +
 * system µs, from process.cpuUsage), for wirecall or the floor
 * (systems/floor-net.mjs): the figure to compare on a machine too busy for
 * wall-clock latencies. The server is a child process; pin both with
 * `taskset -c 0`, and pair runs back to back (`farm-bench --vs`).
 *
 *   node benchmarks/tcp-cpu.mjs [wirecall|floor|DIST_DIR] [add|bin64k] [calls]
 *
 * DIST_DIR is another build's dist/ (to compare with an older commit).
 *
 * On a loaded machine, compare servers in pairs of short rounds instead: one
 * client process alternates between two (or more) server children, round by
 * round (A B, B A, ...), so that the load drifts alike for each pair:
 *
 *   node benchmarks/tcp-cpu.mjs pairs SYSTEM_A SYSTEM_B [add|bin64k] [calls per round] [rounds]
 *
 * It prints each server's median user and user+sys CPU µs per call, the
 * median of the rounds' sequential p50 latencies (each system's own client
 * and server: the latency `npm run bench` reports, but measured in
 * alternation so that both see the same load), and the median of the
 * per-round ratios A/B. The client is this build's (the
 * floor's own for `floor`), the same for every wirecall server.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { reportCpu } from "./lib/cpu-child.mjs";

const pairs = process.argv[2] === "pairs";
const [system = "wirecall", payload = "add", callsArg = "10000", role] = pairs ? ["wirecall"] : process.argv.slice(2);
const floor = system === "floor";
const distOf = (sys) => (sys === "wirecall" ? new URL("../dist", import.meta.url).href : sys.startsWith("/") ? `file://${sys}` : sys);
const dist = distOf(system);
const F = floor || pairs ? await import("./systems/floor-net.mjs") : undefined;
const W = floor ? undefined : await import(`${dist}/src/index.js`);

if (pairs) {
  const [, ...rest] = process.argv.slice(2);
  const systems = rest.filter((a) => !/^\d+$/.test(a) && a !== "add" && a !== "bin64k");
  const kind = rest.includes("bin64k") ? "bin64k" : "add";
  const [callsPerRound = 3000, rounds = 40] = rest.filter((a) => /^\d+$/.test(a)).map(Number);
  const bin = new Uint8Array(64 * 1024).fill(1);
  const servers = [];
  for (const sys of systems) {
    const child = fork(fileURLToPath(import.meta.url), [sys, kind, "0", "server"]);
    const next = () => new Promise((resolve) => child.once("message", resolve));
    const url = await next();
    const client =
      sys === "floor"
        ? await F.connectClient(url, { serializer: "msgpack" }).then((c) => ({ call: (m, a) => c.call(m, a), close: () => c.close() }))
        : await W.connect(url, { authkey: "bench", serializer: "msgpack" }).then((p) => ({ call: (m, a) => p[m](...a), close: () => p.$close() }));
    const one = kind === "add" ? () => client.call("add", [1, 2]) : () => client.call("echo", [bin]);
    for (let i = 0; i < 3000; i++) await one();
    servers.push({ sys, child, next, client, one, user: [], total: [], p50: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? [...servers].reverse() : servers) {
      s.child.send("mark");
      const lat = new Float64Array(callsPerRound);
      for (let i = 0; i < callsPerRound; i++) {
        const t = performance.now();
        await s.one();
        lat[i] = performance.now() - t;
      }
      s.p50.push(lat.sort()[callsPerRound >> 1] * 1000);
      s.child.send("cpu");
      const c = await s.next();
      s.user.push(c.user / callsPerRound);
      s.total.push((c.user + c.system) / callsPerRound);
    }
  }
  const med = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
  for (const s of servers) console.log(`${s.sys}: server ${med(s.user).toFixed(2)} µs user, ${med(s.total).toFixed(2)} µs user+sys per call; sequential p50 ${med(s.p50).toFixed(1)} µs (median of ${rounds} rounds of ${callsPerRound} ${kind} calls)`);
  for (let i = 1; i < servers.length; i++) {
    const [a, b] = [servers[0], servers[i]];
    const ratio = (k) => med(a[k].map((x, j) => x / b[k][j])).toFixed(3);
    console.log(`${a.sys} / ${b.sys}: server user ${ratio("user")}, user+sys ${ratio("total")}, p50 ${ratio("p50")} (median of per-round ratios)`);
  }
  for (const s of servers) {
    await s.client.close();
    s.child.send("exit");
  }
} else if (role === "server") {
  let server;
  if (floor) server = await F.startServer({ serializer: "msgpack" });
  else {
    const h = new W.RPCHandler();
    h.register("add", (a, b) => a + b);
    h.register("echo", (x) => x);
    server = await W.serve(h, "tcp://127.0.0.1:0", { authkey: "bench" });
  }
  reportCpu(server);
} else {
  const child = fork(fileURLToPath(import.meta.url), [system, payload, callsArg, "server"]);
  const next = () => new Promise((resolve) => child.once("message", resolve));
  const url = await next();
  const client = floor
    ? await F.connectClient(url, { serializer: "msgpack" }).then((c) => ({ call: (m, a) => c.call(m, a), close: () => c.close() }))
    : await W.connect(url, { authkey: "bench", serializer: "msgpack" }).then((p) => ({ call: (m, a) => p[m](...a), close: () => p.$close() }));
  const bin = new Uint8Array(64 * 1024).fill(1);
  const one = payload === "add" ? () => client.call("add", [1, 2]) : () => client.call("echo", [bin]);
  for (let i = 0; i < 3000; i++) await one();
  const calls = Number(callsArg);
  child.send("mark");
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < calls; i++) await one();
  const c = process.cpuUsage(t0);
  const wall = performance.now() - w0;
  child.send("cpu");
  const s = await next();
  const f = (us) => (us / calls).toFixed(1);
  console.log(`${system} ${payload} x${calls}: client ${f(c.user)}+${f(c.system)}, server ${f(s.user)}+${f(s.system)} µs user+sys per call; ${f(wall * 1000)} µs wall per call`);
  await client.close();
  child.send("exit");
}
