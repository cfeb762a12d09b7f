/**
 * A hand-written SVG chart of one run: for each payload, one row per cell
 * with pipelined calls/s (left, log scale) and sequential latency (right,
 * log scale: bar to p50, tick at p99). Both axes have a tick and a grid
 * line at every power of ten (and 2x, 5x between), so a 100x gap reads as
 * two decades. No dependencies, opens in any browser.
 */
import { n0, n1 } from "./format.mjs";

const ROW = 16;
const LABEL = 230;
const PANEL = 330;
const GAP = 110;
const AXIS = 22; // the tick labels' band above each panel

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

const COLORS = { wirecall: "#2b6cb0", floor: "#718096", peer: "#dd6b20" };

function color(r) {
  if (r.system === "wirecall") return COLORS.wirecall;
  if (r.system.startsWith("floor") || r.system.startsWith("raw")) return COLORS.floor;
  return COLORS.peer;
}

/** A log axis over [min, max] widened to whole decades, so its ticks land on the ends. */
function logAxis(min, max) {
  const lo = Math.floor(Math.log10(Math.max(min, 1e-9)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(max, 1e-9))));
  const x = (v) => (v > 0 ? Math.min(PANEL, Math.max(1, ((Math.log10(v) - lo) / (hi - lo)) * PANEL)) : 0);
  const ticks = [];
  for (let d = lo; d <= hi; d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (v <= 10 ** hi) ticks.push({ v, major: m === 1 });
    }
  }
  return { x, ticks };
}

function tickLabel(v) {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(v);
}

/** Ticks, labels and grid lines of one panel, from `top` to `bottom`. */
function axisSvg(axis, x0, top, bottom, caption) {
  const out = [`<text x="${x0}" y="${top - AXIS - 6}" font-weight="bold">${esc(caption)}</text>`];
  for (const t of axis.ticks) {
    const x = (x0 + axis.x(t.v)).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${top - 4}" y2="${bottom}" stroke="${t.major ? "#bbb" : "#e6e6e6"}" stroke-width="1"/>`);
    if (t.major || axis.ticks.length <= 12) out.push(`<text x="${x}" y="${top - 8}" text-anchor="middle" fill="${t.major ? "#333" : "#888"}">${tickLabel(t.v)}</text>`);
  }
  out.push(`<line x1="${x0}" x2="${x0 + PANEL}" y1="${top - 4}" y2="${top - 4}" stroke="#555"/>`);
  return out;
}

/** Legend entries one after another, each placed after the previous one's text (about 6 px per character at 11 px). */
function legendSvg(x, y) {
  const entries = [
    [COLORS.wirecall, "wirecall"],
    [COLORS.floor, "floors: hand-written minimal RPC over node:net, ws, zeromq"],
    [COLORS.peer, "peer libraries"],
    [null, "bar: p50, black tick: p99"],
  ];
  const out = [];
  let at = 0;
  for (const [c, label] of entries) {
    if (c) out.push(`<rect x="${at}" y="0" width="10" height="10" fill="${c}"/>`);
    else out.push(`<line x1="${at + 5}" x2="${at + 5}" y1="-1" y2="11" stroke="#000"/>`);
    out.push(`<text x="${at + 14}" y="9">${esc(label)}</text>`);
    at += 14 + Math.ceil(label.length * 6.2) + 18;
  }
  return { svg: `<g transform="translate(${x},${y})">${out.join("")}</g>`, width: at };
}

export function chartSvg(rows, title) {
  const good = rows.filter((r) => !r.error);
  if (good.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="4" y="20">${esc(title)}: no cell finished</text></svg>\n`;
  const payloads = [...new Set(good.map((r) => r.payload))];
  const tput = logAxis(Math.min(...good.map((r) => r.pipe.callsPerSec)), Math.max(...good.map((r) => r.pipe.callsPerSec)));
  const lat = logAxis(Math.min(...good.map((r) => r.seq.p50)), Math.max(...good.map((r) => r.seq.p99)));
  const x1 = LABEL;
  const x2 = LABEL + PANEL + GAP;
  const top = 40 + AXIS + 14;
  const parts = [];
  let y = top;
  for (const p of payloads) {
    y += 6;
    parts.push(`<text x="4" y="${y + 12}" font-weight="bold">${esc(p)}</text>`);
    y += ROW;
    for (const r of good.filter((g) => g.payload === p)) {
      const c = color(r);
      const w1 = tput.x(r.pipe.callsPerSec);
      const w2 = lat.x(r.seq.p50);
      const t99 = lat.x(r.seq.p99);
      parts.push(`<text x="${LABEL - 6}" y="${y + 11}" text-anchor="end">${esc(r.label)}</text>`);
      parts.push(`<rect x="${x1}" y="${y + 2}" width="${w1.toFixed(1)}" height="${ROW - 4}" fill="${c}"/>`);
      parts.push(`<text x="${x1 + w1 + 3}" y="${y + 11}">${n0(r.pipe.callsPerSec)}</text>`);
      parts.push(`<rect x="${x2}" y="${y + 2}" width="${w2.toFixed(1)}" height="${ROW - 4}" fill="${c}" opacity="0.8"/>`);
      parts.push(`<line x1="${(x2 + t99).toFixed(1)}" x2="${(x2 + t99).toFixed(1)}" y1="${y + 1}" y2="${y + ROW - 1}" stroke="#000" stroke-width="1.5"/>`);
      parts.push(`<text x="${x2 + Math.max(w2, t99) + 4}" y="${y + 11}">${n1(r.seq.p50)} / ${n1(r.seq.p99)}</text>`);
      y += ROW;
    }
  }
  const grid = [
    ...axisSvg(tput, x1, top, y, "pipelined calls/s (log scale)"),
    ...axisSvg(lat, x2, top, y, "sequential latency µs, p50 / p99 (log scale)"),
  ];
  const legend = legendSvg(4, y + 16);
  const width = Math.max(x2 + PANEL + 120, legend.width + 8);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 40}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="4" y="16" font-size="13" font-weight="bold">${esc(title)}</text>
${grid.join("\n")}
${parts.join("\n")}
${legend.svg}
</svg>
`;
}
