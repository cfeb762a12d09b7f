/**
 * wirecall over NATS against raw NATS request/reply floors written with the
 * same client (@nats-io/transport-node), in the same run, against one local
 * nats-server: `nc.request()` (what a NATS user writes), and publish to the
 * queue subject with one inbox subscription and ids matched by hand (what
 * the client can do at best; wirecall's lanes work this way). Workloads: `add` latency (sequential calls, p50/p99) and pipelined
 * calls/s (128 in flight), a 64 KiB echo (MB/s), and the spread of one
 * caller's pipelined calls over 1, 2 and 4 worker processes (calls/s and
 * calls per worker). Workers are child processes; the caller is this one.
 * Both sides use MessagePack. Needs nats-server and a built dist/.
 *
 *   node benchmarks/nats.mjs [--calls 20000] [--seq 3000] [--echo 400]
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "../dist/src/index.js";
import "../dist/transports/nats/index.js";
import { startNatsServer } from "../dist/test/support/nats-server.js";
import { codecs } from "./lib/codecs.mjs";

const { values } = parseArgs({ options: { calls: { type: "string", default: "20000" }, seq: { type: "string", default: "3000" }, echo: { type: "string", default: "400" } } });
const CALLS = Number(values.calls);
const SEQ = Number(values.seq);
const ECHO = Number(values.echo);
const IN_FLIGHT = 128;
const CHUNK = new Uint8Array(65536).fill(7);
const { encode, decode } = codecs.msgpack;

function startChild(script, args) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d) => {
      out += d;
      if (/ready/.test(out)) resolve({ child, stop: () => new Promise((r) => (child.stdin.end(), child.once("exit", r))) });
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}
const wirecallWorker = (url, subject, label) => startChild(fileURLToPath(new URL("../dist/test/fixtures/nats/worker.js", import.meta.url)), [url, subject, label, "{}"]);
const rawWorker = (url, subject, label) => startChild(fileURLToPath(new URL("./lib/nats-raw-worker.mjs", import.meta.url)), [url, subject, label]);

async function sequential(call, n) {
  const lat = new Float64Array(n);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await call(i);
    lat[i] = performance.now() - s;
  }
  const ms = performance.now() - t0;
  lat.sort();
  return { perSec: (n / ms) * 1000, p50: lat[Math.floor(n * 0.5)] * 1000, p99: lat[Math.floor(n * 0.99)] * 1000, ms };
}

async function pipelined(call, n) {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < n) await call(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return (n / (performance.now() - t0)) * 1000;
}

/** Requests published with one inbox as reply subject, answers matched by id: the client's best. */
function muxed(nc, subject) {
  const inbox = `_INBOX.bench.${Math.random().toString(36).slice(2)}`;
  const pending = new Map();
  let nextId = 1;
  nc.subscribe(inbox, {
    callback: (err, msg) => {
      if (err) return;
      const [id, v] = decode(msg.data);
      const p = pending.get(id);
      pending.delete(id);
      p?.(v);
    },
  });
  return (op, a, b) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      nc.publish(subject, encode([op, a, b, id]), { reply: inbox });
    });
}

function row(name, cells) {
  console.log(`| ${name} | ${cells.join(" | ")} |`);
}
const k = (n) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));

const server = await startNatsServer();
try {
  // ---- one worker: latency, pipelined, 64 KiB echo ----
  const w = await wirecallWorker(server.url, "bench.wc", "w0");
  const r = await rawWorker(server.url, "bench.raw", "r0");
  const proxy = await connect(`${server.url}/bench.wc`, { serializer: "msgpack" });
  const nc = await natsConnect({ servers: server.url });
  const raw = (op, a, b) => nc.request("bench.raw", encode([op, a, b, 0]), { timeout: 30_000 }).then((m) => decode(m.data)[1]);
  const mux = muxed(nc, "bench.raw");
  const wc = { add: (i) => proxy.add(i, 1), echo: () => proxy.echo(CHUNK) };
  const rw = { add: (i) => raw("add", i, 1), echo: () => raw("echo", 0, CHUNK) };
  const mx = { add: (i) => mux("add", i, 1), echo: () => mux("echo", 0, CHUNK) };
  for (const s of [wc, rw, mx]) await pipelined(s.add, 5000); // warm-up, all
  console.log(`\nNATS, one worker process, msgpack (nats-server ${server.url})\n`);
  console.log("| system | add seq calls/s | p50 µs | p99 µs | add pipelined calls/s (128 in flight) | 64 KiB echo MB/s |");
  console.log("|---|---|---|---|---|---|");
  for (const [name, s] of [["wirecall nats://", wc], ["raw NATS nc.request()", rw], ["raw NATS publish + own inbox", mx]]) {
    const seq = await sequential(s.add, SEQ);
    const pipe = await pipelined(s.add, CALLS);
    const echo = await sequential(s.echo, ECHO);
    row(name, [k(seq.perSec), seq.p50.toFixed(0), seq.p99.toFixed(0), k(pipe), ((echo.perSec * CHUNK.byteLength * 2) / 1e6).toFixed(0)]);
  }
  await proxy.$close();
  await nc.close();
  await w.stop();
  await r.stop();

  // ---- spread over 1, 2, 4 worker processes ----
  console.log("\nPipelined calls of one caller over N worker processes (128 in flight)\n");
  console.log("| workers | wirecall calls/s | calls per worker | raw NATS (publish + own inbox, queue group) calls/s | calls per worker |");
  console.log("|---|---|---|---|---|");
  for (const n of [1, 2, 4]) {
    const subject = `bench.spread${n}`;
    const ws = await Promise.all(Array.from({ length: n }, (_, i) => wirecallWorker(server.url, subject, `w${i}`)));
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => rawWorker(server.url, `${subject}.raw`, `r${i}`)));
    const p = await connect(`${server.url}/${subject}`, { serializer: "msgpack" });
    while (p.$caller.workers < n) await p.$caller.discover();
    const c = await natsConnect({ servers: server.url });
    const whoRaw = muxed(c, `${subject}.raw`).bind(null, "who", 0, 0);
    const counts = (m) => Object.values(m).sort((a, b) => b - a).join("/");
    const wcCount = {};
    const rawCount = {};
    await pipelined(() => p.whoami(), 3000);
    await pipelined(whoRaw, 3000);
    const wps = await pipelined(() => p.whoami().then((l) => (wcCount[l] = (wcCount[l] ?? 0) + 1)), CALLS);
    const rps = await pipelined(() => whoRaw().then((l) => (rawCount[l] = (rawCount[l] ?? 0) + 1)), CALLS);
    row(String(n), [k(wps), counts(wcCount), k(rps), counts(rawCount)]);
    await p.$close();
    await c.close();
    await Promise.all([...ws, ...rs].map((x) => x.stop()));
  }
} finally {
  await server.kill();
}
