/** The per-cell table: plain text for the terminal, Markdown for BENCHMARKS.md. */
import { n0, n1 } from "./format.mjs";

export const COLUMNS = [
  ["system", (r) => r.label],
  ["payload", (r) => r.payload],
  ["seq calls/s", (r) => n0(r.seq?.callsPerSec)],
  ["p50 µs", (r) => n1(r.seq?.p50)],
  ["p99 µs", (r) => n1(r.seq?.p99)],
  ["p99.9 µs", (r) => n1(r.seq?.p999)],
  ["pipe calls/s", (r) => n0(r.pipe?.callsPerSec)],
  ["MB/s", (r) => (r.mbPerSec === null || r.mbPerSec === undefined ? "" : n1(r.mbPerSec))],
  ["wire B/call", (r) => n0(r.wireBytesPerCall)],
  ["cli CPU µs/call", (r) => n1(r.cpuUsPerCall?.clientPipe)],
  ["srv CPU µs/call", (r) => n1(r.cpuUsPerCall?.serverPipe)],
  ["RSS cli/srv MB", (r) => (r.maxRssMB ? `${n0(r.maxRssMB.client)}/${n0(r.maxRssMB.server)}` : "")],
];

function cells(rows) {
  return rows.map((r) => (r.error ? [r.label, r.payload, `error: ${r.error.split("\n")[0].slice(0, 100)}`] : COLUMNS.map(([, f]) => f(r))));
}

export function textTable(rows) {
  const head = COLUMNS.map(([h]) => h);
  const body = cells(rows);
  const width = head.map((h, i) => Math.max(h.length, ...body.filter((b) => b.length === head.length).map((b) => String(b[i]).length)));
  const line = (b) => b.map((c, i) => (i < 2 ? String(c).padEnd(width[i]) : String(c).padStart(width[i] ?? 0))).join("  ");
  return [line(head), width.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

export function markdownTable(rows) {
  const head = COLUMNS.map(([h]) => h);
  const out = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`];
  for (const b of cells(rows)) out.push(`| ${b.join(" | ")} |`);
  return out.join("\n");
}
