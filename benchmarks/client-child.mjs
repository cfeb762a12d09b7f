/**
 * Child process: the client side of one cell. Runs warm-up, the sequential
 * and pipelined phases against the server's URL, then a short untimed phase
 * through the runner's byte-counting proxy. Around each phase it asks the
 * runner for a snapshot (server CPU, wire counters) over IPC, so the server's
 * figures cover exactly the same calls.
 * argv[2]: { spec, url, proxyUrl, payload, budget } as JSON.
 */
import { checkResult, WORKLOADS } from "./lib/workloads.mjs";
import { pipelined, sequential } from "./lib/load.mjs";
import { histogramKind } from "./lib/histogram.mjs";

const { spec, url, proxyUrl, payload, budget } = JSON.parse(process.argv[2]);
process.on("disconnect", () => process.exit(1));

let waiting;
process.on("message", (msg) => {
  if (msg.type === "snap-ok") waiting?.();
});
function snap(tag) {
  return new Promise((resolve) => {
    waiting = resolve;
    process.send({ type: "snap", tag });
  });
}

function cpuDelta(a, b) {
  return (b.user - a.user + b.system - a.system) / 1000; // ms
}

async function main() {
  const sys = await import(new URL(spec.module, import.meta.url).href);
  const local = spec.inProcess ? await sys.startServer(spec) : undefined;
  const client = await sys.connectClient(local ? local.url : url, spec);
  const w = WORKLOADS[payload];
  const args = w.make();
  const call = () => client.call(w.method, args);
  checkResult(payload, args, await call());
  const maxCalls = spec.maxCallsPerPhase ?? Infinity;

  // Warm-up: the same number of calls for every system (so each one's code
  // path is JIT-compiled before timing starts, however long its path is),
  // and at least `warmup` seconds; capped in time for slow payloads.
  const warm = await sequential(call, {
    seconds: budget.warmup,
    minCalls: budget.warmupCalls ?? 0,
    maxSeconds: budget.warmupMaxSeconds ?? budget.warmup,
    maxCalls,
  });

  await snap("seq-start");
  let c0 = process.cpuUsage();
  const seq = await sequential(call, { seconds: budget.seconds, maxCalls });
  seq.clientCpuMs = cpuDelta(c0, process.cpuUsage());
  await snap("seq-end");

  await snap("pipe-start");
  c0 = process.cpuUsage();
  const pipe = await pipelined(call, { seconds: budget.seconds, maxCalls, depth: budget.depth });
  pipe.clientCpuMs = cpuDelta(c0, process.cpuUsage());
  await snap("pipe-end");
  await client.close();

  let wire;
  if (proxyUrl) {
    const counted = await sys.connectClient(proxyUrl, spec);
    const n = w.binary >= 1 << 20 ? 10 : w.binary > 0 ? 50 : 200;
    const ccall = () => counted.call(w.method, args);
    for (let i = 0; i < 5; i++) await ccall(); // connection setup and handshakes stay out of the count
    await snap("wire-start");
    for (let i = 0; i < n; i++) await ccall();
    await snap("wire-end");
    wire = { calls: n };
    await counted.close();
  }
  await local?.close();
  return { warmup: { calls: warm.calls, secs: warm.secs }, seq, pipe, wire, clientMaxRSS: process.resourceUsage().maxRSS, histogram: histogramKind };
}

main().then(
  (result) => process.send({ type: "result", result }, () => process.exit(0)),
  (err) => process.send({ type: "error", message: String(err?.stack ?? err) }, () => process.exit(1)),
);
