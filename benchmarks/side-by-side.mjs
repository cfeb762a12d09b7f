#!/usr/bin/env node
/**
 * Before/after a change, in one run: alternates rounds of an older checkout's
 * `npm run bench` and this one's, the same cells and the same floors in each
 * round, and prints each wirecall cell's p50 and pipelined figures as ratios
 * to the floor of its transport measured in the same round (medians over the
 * rounds), with both sides' CPU per call. Ratios to a floor measured seconds
 * apart are what survives a shared machine; absolute figures do not.
 *
 *   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci && npm run build)
 *   node benchmarks/side-by-side.mjs --before /tmp/before [--rounds 3] [--pin same]
 *   node benchmarks/side-by-side.mjs --before /tmp/before --reuse DIR   (re-read DIR/{before,after}-N.json)
 *
 * The older checkout must have been built (its dist/) and is run with its own
 * harness, so the comparison holds across harness changes too.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    before: { type: "string" },
    rounds: { type: "string", default: "3" },
    pin: { type: "string" },
    transports: { type: "string", default: "tcp,ws,zmq" },
    payloads: { type: "string", default: "add" },
    seconds: { type: "string" },
    reuse: { type: "string" },
    help: { type: "boolean" },
  },
});
if (values.help || !values.before) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0].replace(/^#!.*\n\/\*\*\n/, "").replace(/^ \* ?/gm, ""));
  process.exit(values.help ? 0 : 2);
}

/** The floor each transport is judged against, as issue 12 and 20 name them. */
const FLOOR = { tcp: "floor-msgpack", ws: "raw-ws", zmq: "raw-zmq" };
const transports = values.transports.split(",");
const peers = [...new Set(transports.map((t) => FLOOR[t]).filter(Boolean))];
const common = ["--transports", values.transports, "--serializers", "msgpack", "--payloads", values.payloads, "--peers", peers.join(","), "--no-install"];
if (values.pin) common.push("--pin", values.pin);
if (values.seconds) common.push("--seconds", values.seconds);

const sides = { before: resolve(values.before), after: resolve(here, "..") };
const out = values.reuse ? resolve(values.reuse) : mkdtempSync(join(tmpdir(), "wirecall-side-by-side-"));
const results = { before: [], after: [] };
const helpOf = (dir) => spawnSync(process.execPath, [join(dir, "benchmarks/run.mjs"), "--help"], { encoding: "utf8" }).stdout;

for (let round = 1; round <= Number(values.rounds); round++) {
  for (const side of ["before", "after"]) {
    const dir = sides[side];
    if (values.reuse) {
      results[side].push(JSON.parse(readFileSync(join(out, `${side}-${round}.json`), "utf8")).rows);
      continue;
    }
    const args = [...common];
    if (helpOf(dir).includes("--no-streams")) args.push("--no-streams");
    const file = join(out, `${side}-${round}.json`);
    process.stderr.write(`round ${round}/${values.rounds}: ${side} (${dir})\n`);
    const r = spawnSync(process.execPath, [join(dir, "benchmarks/run.mjs"), ...args, "--out", file], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
    if (r.status !== 0) {
      process.stderr.write(`the ${side} harness failed (exit ${r.status})\n`);
      process.exit(1);
    }
    results[side].push(JSON.parse(readFileSync(file, "utf8")).rows);
  }
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const find = (rows, system, transport, payload) => rows.find((r) => !r.error && r.system === system && r.payload === payload && (system !== "wirecall" || r.transport === transport));
const f2 = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : "—");
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "—");

const lines = [
  `Side by side: before = ${sides.before}, after = ${sides.after}; ${values.rounds} alternating rounds, msgpack${values.pin ? `, --pin ${values.pin}` : ""}; medians over rounds.`,
  "",
  "| cell | floor | p50 / floor, before | p50 / floor, after | pipelined / floor, before | pipelined / floor, after | client CPU µs/call before → after | server CPU µs/call before → after |",
  "|---|---|---:|---:|---:|---:|---:|---:|",
];
for (const t of transports) {
  for (const payload of values.payloads.split(",")) {
    const fig = (side) => {
      const per = results[side].map((rows) => ({ w: find(rows, "wirecall", t, payload), f: find(rows, FLOOR[t], t, payload) }));
      return {
        p50: median(per.map(({ w, f }) => (w && f ? w.seq.p50 / f.seq.p50 : NaN))),
        pipe: median(per.map(({ w, f }) => (w && f ? w.pipe.callsPerSec / f.pipe.callsPerSec : NaN))),
        cli: median(per.map(({ w }) => w?.cpuUsPerCall?.clientPipe ?? NaN)),
        srv: median(per.map(({ w }) => w?.cpuUsPerCall?.serverPipe ?? NaN)),
      };
    };
    const b = fig("before");
    const a = fig("after");
    lines.push(`| ${t}+msgpack ${payload} | ${FLOOR[t]} | ${f2(b.p50)} | ${f2(a.p50)} | ${f2(b.pipe)} | ${f2(a.pipe)} | ${f1(b.cli)} → ${f1(a.cli)} | ${f1(b.srv)} → ${f1(a.srv)} |`);
  }
}
process.stdout.write(`${lines.join("\n")}\n\nround files: ${out}\n`);
