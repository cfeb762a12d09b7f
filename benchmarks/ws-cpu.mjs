#!/usr/bin/env node
/**
 * CPU per call over ws+msgpack, client and server apart (user + system µs,
 * from process.cpuUsage), for wirecall, raw ws (systems/raw-ws.mjs) or
 * another build of wirecall: the figures to compare on a machine too busy
 * for wall-clock throughput alone. Every client and every server is a child
 * process of its own, and the systems take turns round by round (A B, B A,
 * ...), so the load drifts alike for each pair:
 *
 *   node benchmarks/ws-cpu.mjs SYSTEM_A SYSTEM_B [add|obj|bin64k] [calls per round] [rounds] [depth]
 *
 * SYSTEM: `wirecall` (this build's dist/), `raw-ws`, or DIST_DIR (another
 * build's dist/, e.g. an older commit's, with node_modules reachable from it).
 * depth: calls kept in flight (1: sequential; the bench's pipelined phase
 * uses 128). Prints each system's median client and server CPU µs per call
 * and MB/s (bin64k), and the medians of the per-round ratios A/B.
 */
import { fork as forkChild } from "node:child_process";
import { fileURLToPath } from "node:url";
import { nestedObject } from "./lib/workloads.mjs";
import { reportCpu } from "./lib/cpu-child.mjs";

const [role, ...rest] = process.argv.slice(2);

/** A client or a server of `system`, as the child processes run them. */
async function load(system) {
  if (system === "raw-ws") return import("./systems/raw-ws.mjs");
  const dist = system === "wirecall" ? new URL("../dist", import.meta.url).href : `file://${system}`;
  const W = await import(`${dist}/src/index.js`);
  return {
    async startServer() {
      const h = new W.RPCHandler();
      h.register("add", (a, b) => a + b);
      h.register("echo", (x) => x);
      const server = await W.serve(h, "ws://127.0.0.1:0/");
      return { url: server.url, close: () => server.close() };
    },
    async connectClient(url) {
      const p = await W.connect(url, { serializer: "msgpack" });
      return { call: (m, a) => p[m](...a), close: () => p.$close() };
    },
  };
}

if (role === "server") {
  const server = await (await load(rest[0])).startServer();
  reportCpu(server);
} else if (role === "client") {
  const [system, url, kind, depthArg] = rest;
  const client = await (await load(system)).connectClient(url);
  const bin = new Uint8Array(64 * 1024);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 31 + 7) & 0xff;
  const obj = nestedObject();
  const one = kind === "add" ? () => client.call("add", [1, 2]) : kind === "obj" ? () => client.call("echo", [obj]) : () => client.call("echo", [bin]);
  const depth = Number(depthArg);
  async function run(n) {
    let started = 0;
    const lane = async () => {
      while (started < n) {
        started++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: Math.min(depth, n) }, lane));
  }
  process.on("message", async (m) => {
    if (m.run) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      await run(m.run);
      const wall = performance.now() - w0;
      process.send({ cpu: process.cpuUsage(c0), wall });
    }
    if (m === "exit") await client.close().then(() => process.exit(0));
  });
  process.send("ready");
} else {
  const args = process.argv.slice(2);
  const kinds = ["add", "obj", "bin64k"];
  const systems = args.filter((a) => !/^\d+$/.test(a) && !kinds.includes(a));
  const kind = kinds.find((k) => args.includes(k)) ?? "bin64k";
  const [perRound = kind === "add" ? 5000 : 500, rounds = 10, depth = 1] = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const me = fileURLToPath(import.meta.url);
  // WS_CPU_PROF=DIR: every child runs under --cpu-prof, its profile in DIR (server-SYSTEM / client-SYSTEM by pid, printed).
  // WS_CPU_ARGS="--trace-gc ...": more node options for every child.
  const prof = process.env.WS_CPU_PROF;
  const fork = (file, argv) => {
    const execArgv = [...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`, "--cpu-prof-interval=250"] : []), ...(process.env.WS_CPU_ARGS?.split(" ").filter(Boolean) ?? [])];
    const child = forkChild(file, argv, { execArgv });
    if (execArgv.length > 0) console.log(`${argv[0]} ${argv[1]}: pid ${child.pid}`);
    return child;
  };
  const next = (child) => new Promise((resolve) => child.once("message", resolve));
  const sides = [];
  for (const sys of systems) {
    const server = fork(me, ["server", sys]);
    const url = await next(server);
    const client = fork(me, ["client", sys, url, kind, String(depth)]);
    await next(client);
    // Warm-up: the call path JIT-compiled before the first round.
    client.send({ run: perRound * 2 });
    await next(client);
    sides.push({ sys, server, client, cli: [], srv: [], wall: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      s.server.send("mark");
      s.client.send({ run: perRound });
      const c = await next(s.client);
      s.server.send("cpu");
      const v = await next(s.server);
      s.cli.push((c.cpu.user + c.cpu.system) / perRound);
      s.srv.push((v.user + v.system) / perRound);
      s.wall.push((c.wall * 1000) / perRound);
    }
  }
  const med = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
  const mbs = (wallUs) => (kind === "bin64k" ? `, ${((64 * 1024) / wallUs).toFixed(0)} MB/s` : "");
  console.log(`${kind}, depth ${depth}, ${rounds} rounds of ${perRound} calls (medians)`);
  for (const s of sides) {
    console.log(`${s.sys}: client ${med(s.cli).toFixed(1)}, server ${med(s.srv).toFixed(1)} µs CPU per call; ${med(s.wall).toFixed(1)} µs wall per call${mbs(med(s.wall))}`);
  }
  for (let i = 1; i < sides.length; i++) {
    const [a, b] = [sides[0], sides[i]];
    const ratio = (k) => med(a[k].map((x, j) => x / b[k][j])).toFixed(3);
    console.log(`${a.sys} / ${b.sys}: client CPU ${ratio("cli")}, server CPU ${ratio("srv")}, wall ${ratio("wall")} (median of per-round ratios)`);
  }
  for (const s of sides) {
    s.client.send("exit");
    await new Promise((resolve) => s.client.once("exit", resolve));
    s.server.send("exit");
  }
}
