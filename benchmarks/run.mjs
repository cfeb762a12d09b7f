#!/usr/bin/env node
/**
 * `npm run bench`: the transport x serializer x payload matrix of wirecall
 * and the same workload through the peers, each cell with its server and
 * client in separate processes on 127.0.0.1. Prints progress with the time
 * left and a one-line-per-transport summary; writes the full table (.txt),
 * JSON, SVG and Markdown side by side. Builds dist/ first when it is missing.
 * `npm run bench -- --help` lists the options.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { medianFigures, runCell } from "./lib/cell.mjs";
import { chartSvg } from "./lib/chart.mjs";
import { depsInstalled, installDeps } from "./lib/deps.mjs";
import { HELP, parseOptions } from "./lib/options.mjs";
import { createProgress } from "./lib/progress.mjs";
import { bars, barsMarkdown, barsText, peerRatios, peerRatiosMarkdown, withRounds } from "./lib/ratios.mjs";
import { orderSpecs, peerSpec, transportBuilt, wirecallSpec } from "./lib/systems.mjs";
import { summaryLines } from "./lib/summary.mjs";
import { markdownTable, textTable } from "./lib/table.mjs";
import { makeTlsFiles } from "./lib/tls-files.mjs";
import { streamBench, streamMarkdown, streamSummary } from "./streams.mjs";

const here = dirname(fileURLToPath(import.meta.url));

// The microbenchmarks take their own options (--time, --filter).
if (process.argv.includes("--micro")) {
  await import("./micro.mjs");
  process.exit(0);
}

let opts;
try {
  opts = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n\n${HELP}`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

// A fresh clone has no dist/: build it now rather than benchmark only the peers.
const unbuilt = () => opts.transports.filter((t) => !transportBuilt(t));
if (unbuilt().length > 0 || !existsSync(join(here, "..", "dist", "src", "index.js"))) {
  process.stderr.write(`wirecall is not built (dist/ lacks ${unbuilt().join(", ") || "the core"}): running \`npm run build\` first\n`);
  const built = spawnSync("npm", ["run", "build"], { cwd: join(here, ".."), stdio: ["ignore", 2, 2] });
  if (built.status !== 0 || unbuilt().length > 0) {
    const what = built.status !== 0 ? "the build failed (its errors are above)" : `the build left out ${unbuilt().join(", ")}`;
    process.stderr.write(`${what}: run \`npm run build\`, fix what it reports, then \`npm run bench\` again\n`);
    process.exit(2);
  }
}

const notes = [];
const wirecallSpecs = [];
for (const t of opts.transports) for (const s of opts.serializers) wirecallSpecs.push(wirecallSpec(t, s, opts.wirecallOptions));
let peers = opts.peers.map(peerSpec);
const wantDeps = peers.some((p) => p.needsDeps) || !opts.quick;
if (wantDeps && !depsInstalled()) {
  if (opts.install) installDeps();
  else notes.push("benchmarks/node_modules missing and --no-install given");
}
if (!depsInstalled()) {
  for (const p of peers.filter((p) => p.needsDeps)) notes.push(`peer ${p.system}: needs benchmarks/node_modules, skipped`);
  peers = peers.filter((p) => !p.needsDeps);
}
const specs = orderSpecs(wirecallSpecs, peers);

const tls = specs.some((s) => s.transport === "tls" || s.transport === "wss") ? makeTlsFiles() : undefined;
for (const s of specs) if (tls) s.tls = tls;

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const out = resolve(opts.out ?? join(here, "results", `bench-${stamp}.json`));
mkdirSync(dirname(out), { recursive: true });
const execArgv = opts.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(dirname(out), "profiles")}`] : [];
const budget = {
  seconds: opts.seconds,
  warmup: opts.warmup,
  warmupCalls: opts.warmupCalls,
  warmupMaxSeconds: Math.max(opts.warmup, opts.warmupMax),
  depth: opts.depth, repeat: opts.repeat, pin: opts.pin ?? "none" };
// Generous: a cell is warm-up + two phases + the counted phase + process starts.
const timeoutMs = (budget.warmupMaxSeconds + 2 * budget.seconds) * 1000 * 4 + 30_000;

const cells = [];
for (const payload of opts.payloads) for (const spec of specs) cells.push({ spec, payload });
for (const n of notes) process.stderr.write(`note: ${n}\n`);

const progress = createProgress(cells.length * opts.repeat);
// With --repeat N the whole cell list runs N times in rounds (so a burst of
// load from elsewhere hits one repetition of many cells, not every
// repetition of one cell), and each figure is the median of its repetitions.
const reps = cells.map(() => []);
for (let round = 0; round < opts.repeat; round++) {
  for (const [i, { spec, payload }] of cells.entries()) {
    progress.start(`${spec.label} ${payload}${opts.repeat > 1 ? ` (round ${round + 1}/${opts.repeat})` : ""}`);
    try {
      const fig = await runCell(spec, payload, { budget, timeoutMs, execArgv, pin: opts.pin });
      reps[i].push(fig);
      progress.done(`${Math.round(fig.seq.callsPerSec)} seq/s, ${Math.round(fig.pipe.callsPerSec)} pipe/s`);
    } catch (err) {
      reps[i].push({ error: String(err?.message ?? err) });
      progress.done(`error: ${String(err?.message ?? err).split("\n")[0]}`);
    }
  }
}
const rows = cells.map(({ spec, payload }, i) => {
  const base = { system: spec.system, label: spec.label, transport: spec.transport, serializer: spec.serializer, payload };
  const ok = reps[i].filter((r) => !r.error);
  if (ok.length === 0) return { ...base, error: reps[i][0]?.error ?? "no result" };
  return opts.repeat > 1 ? { ...base, ...medianFigures(ok), repetitions: reps[i] } : { ...base, ...ok[0] };
});
progress.end();

// The stream workload (issue 13), after the matrix, for the selected tcp/ws transports.
const streamTransports = opts.transports.filter((t) => t === "tcp" || t === "ws").filter(transportBuilt);
let streams;
if (opts.streams && streamTransports.length > 0) {
  const [small, chunks] = opts.streamItems;
  streams = await streamBench({ small, chunks, rounds: opts.quick ? 1 : 3, transports: streamTransports, progress: createProgress(2 * 2 * streamTransports.length) });
}

let barList = bars(rows);
if (opts.repeat > 1) {
  const roundRows = (round) =>
    cells.map(({ spec, payload }, i) => {
      const r = reps[i][round];
      return { system: spec.system, label: spec.label, transport: spec.transport, serializer: spec.serializer, payload, ...(r ?? { error: "no result" }) };
    });
  barList = withRounds(barList, Array.from({ length: opts.repeat }, (_, k) => bars(roundRows(k))));
}
const ratios = peerRatios(rows);
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
const result = { date: new Date().toISOString(), command, machine, budget, notes, rows, bars: barList, ratios, ...(streams ? { streams } : {}) };

writeFileSync(out, JSON.stringify(result, null, 2));
const title = `wirecall benchmarks ${result.date.slice(0, 16)} (node ${machine.node}, ${machine.cpus} cores, ${budget.seconds} s phases, depth ${budget.depth})`;
writeFileSync(out.replace(/\.json$/, ".svg"), chartSvg(rows, title));
writeFileSync(
  out.replace(/\.json$/, ".md"),
  `## Run of ${result.date}\n\n\`${command}\` on ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, node ${machine.node}; per cell a warm-up of at least ${budget.warmup} s and ${budget.warmupCalls} calls (at most ${budget.warmupMaxSeconds} s), ${budget.seconds} s sequential, ${budget.seconds} s pipelined (${budget.depth} in flight)${budget.repeat > 1 ? `; each figure the median of ${budget.repeat} rounds` : ""}; latency histogram: ${rows.find((r) => r.histogram)?.histogram ?? "n/a"}\n\n${opts.payloads.map((p) => `### ${p}\n\n${markdownTable(rows.filter((r) => r.payload === p))}`).join("\n\n")}\n\n### Targets\n\n${barsMarkdown(barList)}\n\n### Ratios to peers (pipelined calls/s ratio / p50 latency ratio)\n\n${peerRatiosMarkdown(ratios)}\n${streams ? `\n### Streams (window ${streams.window}, msgpack, best of ${streams.rounds})\n\n${streamMarkdown(streams)}\n` : ""}`,
);

// The full table (and the targets) go to a file; the terminal gets what a person reads in ten seconds.
const tableFile = out.replace(/\.json$/, ".txt");
const streamsText = streams ? `\nStreams (window ${streams.window}, msgpack, best of ${streams.rounds}):\n${streamMarkdown(streams)}\n` : "";
writeFileSync(tableFile, `${title}\n\n${textTable(rows)}\n${barList.length ? `\nTargets:\n${barsText(barList)}\n` : ""}${streamsText}`);
process.stdout.write(`\n${summaryLines(rows).join("\n")}\n${streams ? `${streamSummary(streams).join("\n")}\n` : ""}\n`);
process.stdout.write(`table:   ${tableFile}\nreport:  ${out.replace(/\.json$/, ".md")}\nchart:   ${out.replace(/\.json$/, ".svg")}\nresults: ${out}\n`);
