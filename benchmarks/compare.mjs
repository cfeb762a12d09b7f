#!/usr/bin/env node
/**
 * Noise between two runs of the same matrix: for every cell present in both,
 * the run-to-run change of sequential calls/s, p50 and pipelined calls/s,
 * with the median and the largest absolute change, as Markdown.
 * Usage: node benchmarks/compare.mjs A.json B.json [--bars] [--cells]
 */
import { readFileSync } from "node:fs";

const [a, b] = process.argv.slice(2).filter((f) => !f.startsWith("--")).map((f) => JSON.parse(readFileSync(f, "utf8")));
const key = (r) => `${r.label}|${r.payload}`;
const bRows = new Map(b.rows.filter((r) => !r.error).map((r) => [key(r), r]));
const metrics = {
  "seq calls/s": (r) => r.seq.callsPerSec,
  "p50 µs": (r) => r.seq.p50,
  "p99 µs": (r) => r.seq.p99,
  "pipe calls/s": (r) => r.pipe.callsPerSec,
};
const changes = Object.fromEntries(Object.keys(metrics).map((m) => [m, []]));
const perCell = [];
for (const ra of a.rows) {
  const rb = bRows.get(key(ra));
  if (ra.error || !rb) continue;
  const cell = { cell: `${ra.label} ${ra.payload}` };
  for (const [m, f] of Object.entries(metrics)) {
    const d = f(rb) / f(ra) - 1;
    changes[m].push(Math.abs(d));
    cell[m] = d;
  }
  perCell.push(cell);
}
const pct = (v) => `${(v * 100).toFixed(0)}%`;
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
console.log(`Run A: ${a.date}, run B: ${b.date}; ${perCell.length} cells in both.\n`);
console.log("| metric | median abs change | 90th percentile | largest |");
console.log("|---|---:|---:|---:|");
for (const [m, xs] of Object.entries(changes)) {
  const s = [...xs].sort((x, y) => x - y);
  console.log(`| ${m} | ${pct(median(xs))} | ${pct(s[Math.floor(s.length * 0.9)] ?? NaN)} | ${pct(s[s.length - 1] ?? NaN)} |`);
}
if (process.argv.includes("--bars")) {
  // The bars as measured in each run, side by side.
  const fmt = (bar) => (bar === undefined ? "—" : bar.target.includes("of") ? `${bar.value} of ${bar.target.split(" of ")[1]}` : `${bar.value.toFixed(2)}x`);
  const met = (bar) => (bar === undefined || bar.met === null ? "?" : bar.met ? "yes" : "**no**");
  const bBars = new Map(b.bars.map((x) => [x.name, x]));
  console.log("\n| bar | target | run A | met | run B | met |\n|---|---:|---:|:---:|---:|:---:|");
  for (const x of a.bars) {
    const y = bBars.get(x.name);
    console.log(`| ${x.name} | ${x.target.includes("of") ? "all" : x.target} | ${fmt(x)} | ${met(x)} | ${fmt(y)} | ${met(y)} |`);
  }
}
if (process.argv.includes("--cells")) {
  console.log("\n| cell | seq | p50 | p99 | pipe |\n|---|---:|---:|---:|---:|");
  for (const c of perCell) console.log(`| ${c.cell} | ${pct(c["seq calls/s"])} | ${pct(c["p50 µs"])} | ${pct(c["p99 µs"])} | ${pct(c["pipe calls/s"])} |`);
}
