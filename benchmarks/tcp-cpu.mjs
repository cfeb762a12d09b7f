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
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const [system = "wirecall", payload = "add", callsArg = "10000", role] = process.argv.slice(2);
const floor = system === "floor";
const dist = system === "wirecall" ? new URL("../dist", import.meta.url).href : system.startsWith("/") ? `file://${system}` : system;
const F = floor ? await import("./systems/floor-net.mjs") : undefined;
const W = floor ? undefined : await import(`${dist}/src/index.js`);

if (role === "server") {
  let server;
  if (floor) server = await F.startServer({ serializer: "msgpack" });
  else {
    const h = new W.RPCHandler();
    h.register("add", (a, b) => a + b);
    h.register("echo", (x) => x);
    server = await W.serve(h, "tcp://127.0.0.1:0", { authkey: "bench" });
  }
  let c0 = process.cpuUsage();
  process.on("message", (m) => {
    if (m === "mark") c0 = process.cpuUsage();
    if (m === "cpu") process.send(process.cpuUsage(c0));
    if (m === "exit") void server.close().then(() => process.exit(0));
  });
  process.send(server.url);
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
