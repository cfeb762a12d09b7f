/**
 * A hand-written SVG chart of one run: for each payload, one row per cell
 * with pipelined calls/s (left, log scale) and sequential latency (right,
 * log scale: bar to p50, tick at p99). No dependencies, opens in any browser.
 */
import { n0, n1 } from "./format.mjs";

const ROW = 16;
const LABEL = 210;
const PANEL = 330;
const GAP = 40;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function color(r) {
  if (r.system === "wirecall") return "#2b6cb0";
  if (r.system.startsWith("floor") || r.system.startsWith("raw")) return "#718096";
  return "#dd6b20";
}

function logScale(min, max) {
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  return (v) => (v > 0 ? Math.max(1, ((Math.log10(v) - lo) / (hi - lo || 1)) * PANEL) : 0);
}

export function chartSvg(rows, title) {
  const good = rows.filter((r) => !r.error);
  const payloads = [...new Set(good.map((r) => r.payload))];
  const tput = logScale(Math.max(1, Math.min(...good.map((r) => r.pipe.callsPerSec)) / 2), Math.max(...good.map((r) => r.pipe.callsPerSec)) * 1.2);
  const lat = logScale(Math.max(1, Math.min(...good.map((r) => r.seq.p50)) / 2), Math.max(...good.map((r) => r.seq.p99)) * 1.2);
  const parts = [];
  let y = 50;
  const x1 = LABEL;
  const x2 = LABEL + PANEL + GAP;
  parts.push(`<text x="${x1}" y="36" font-weight="bold">pipelined calls/s (log)</text>`);
  parts.push(`<text x="${x2}" y="36" font-weight="bold">sequential latency µs, bar p50, tick p99 (log)</text>`);
  for (const p of payloads) {
    y += 8;
    parts.push(`<text x="4" y="${y + 12}" font-weight="bold">${esc(p)}</text>`);
    y += ROW;
    for (const r of good.filter((g) => g.payload === p)) {
      const c = color(r);
      const w1 = tput(r.pipe.callsPerSec);
      const w2 = lat(r.seq.p50);
      const t99 = lat(r.seq.p99);
      parts.push(`<text x="${LABEL - 6}" y="${y + 11}" text-anchor="end">${esc(r.label)}</text>`);
      parts.push(`<rect x="${x1}" y="${y + 2}" width="${w1.toFixed(1)}" height="${ROW - 4}" fill="${c}"/>`);
      parts.push(`<text x="${x1 + w1 + 3}" y="${y + 11}">${n0(r.pipe.callsPerSec)}</text>`);
      parts.push(`<rect x="${x2}" y="${y + 2}" width="${w2.toFixed(1)}" height="${ROW - 4}" fill="${c}" opacity="0.8"/>`);
      parts.push(`<line x1="${(x2 + t99).toFixed(1)}" x2="${(x2 + t99).toFixed(1)}" y1="${y + 1}" y2="${y + ROW - 1}" stroke="#000"/>`);
      parts.push(`<text x="${x2 + Math.max(w2, t99) + 4}" y="${y + 11}">${n1(r.seq.p50)} / ${n1(r.seq.p99)}</text>`);
      y += ROW;
    }
  }
  const width = x2 + PANEL + 120;
  const legend = `<g transform="translate(${x1},${y + 14})"><rect width="10" height="10" fill="#2b6cb0"/><text x="14" y="9">wirecall</text><rect x="90" width="10" height="10" fill="#718096"/><text x="104" y="9">floors (hand-written minimal RPC over node:net, ws, zeromq)</text><rect x="430" width="10" height="10" fill="#dd6b20"/><text x="444" y="9">peers</text></g>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 40}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="4" y="16" font-size="13" font-weight="bold">${esc(title)}</text>
${parts.join("\n")}
${legend}
</svg>
`;
}
