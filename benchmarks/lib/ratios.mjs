/**
 * Ratios measured within one run: the issue's bars, and every wirecall cell
 * against the floor and each peer. Throughput ratios are wirecall / peer
 * (above 1 = wirecall faster); the latency ratio is wirecall p50 / peer p50
 * (below 1 = wirecall faster).
 */
import { ratio } from "./format.mjs";

const ok = (r) => r && !r.error;

export function find(rows, system, payload, transport, serializer) {
  return rows.find(
    (r) => ok(r) && r.system === system && r.payload === payload && (transport === undefined || r.transport === transport) && (serializer === undefined || r.serializer === serializer),
  );
}

function bar(name, value, target, cmp, detail) {
  const met = value === undefined || value === null || Number.isNaN(value) ? null : cmp === "<=" ? value <= target : value >= target;
  return { name, value, target: `${cmp} ${target}`, met, detail };
}

/** The goals of issue 20 (performance at the floor), each against the peer it names. */
function goals(rows) {
  const out = [];
  const wc = (payload, transport) => find(rows, "wirecall", payload, transport, "msgpack");
  const fm = (payload) => find(rows, "floor-msgpack", payload);
  const a = wc("add", "tcp");
  if (a && fm("add")) out.push(bar("goal: tcp+msgpack add p50 / floor-msgpack p50", a.seq.p50 / fm("add").seq.p50, 1.05, "<=", `${a.seq.p50} vs ${fm("add").seq.p50} µs`));
  const b = wc("bin64k", "tcp");
  if (b && fm("bin64k")) out.push(bar("goal: tcp+msgpack 64 KiB MB/s / floor-msgpack", b.mbPerSec / fm("bin64k").mbPerSec, 0.9, ">="));
  const wb = wc("bin64k", "ws");
  const rw = find(rows, "raw-ws", "bin64k");
  if (wb && rw) out.push(bar("goal: ws+msgpack 64 KiB MB/s / raw-ws", wb.mbPerSec / rw.mbPerSec, 1, ">="));
  const z = wc("add", "zmq");
  const rz = find(rows, "raw-zmq", "add");
  if (z && rz) out.push(bar("goal: zmq+msgpack add pipelined / raw-zmq", z.pipe.callsPerSec / rz.pipe.callsPerSec, 1, ">="));
  if (z && Number.isFinite(z.wireUpPerCall)) {
    const up = z.wireUpPerCall;
    const down = z.wireBytesPerCall - up;
    out.push({ ...bar("goal: zmq bytes per add, larger direction", Math.max(up, down), 25, "<=", `${up.toFixed(0)} up / ${down.toFixed(0)} down`), unit: "B" });
  }
  const w = wc("add", "ws");
  const br = find(rows, "birpc", "add");
  if (w && br) out.push(bar("goal: ws+msgpack add pipelined / birpc", w.pipe.callsPerSec / br.pipe.callsPerSec, 2, ">="));
  return out;
}

/** The goals of issue 20 first, then the bars of issue 6, each compared with the peers it names. */
export function bars(rows) {
  const out = goals(rows);
  const wc = (payload, transport) => find(rows, "wirecall", payload, transport, "msgpack");
  for (const floor of ["floor", "floor-msgpack"]) {
    const a = wc("add", "tcp");
    const f = find(rows, floor, "add");
    if (a && f) {
      out.push(bar(`tcp+msgpack add p50 / ${floor} p50`, a.seq.p50 / f.seq.p50, 1.15, "<=", `${a.seq.p50} vs ${f.seq.p50} µs`));
      out.push(bar(`tcp+msgpack add pipelined / ${floor}`, a.pipe.callsPerSec / f.pipe.callsPerSec, 1, ">="));
    }
    const b = wc("bin64k", "tcp");
    const fb = find(rows, floor, "bin64k");
    if (b && fb) out.push(bar(`tcp+msgpack 64 KiB MB/s / ${floor}`, b.mbPerSec / fb.mbPerSec, 0.8, ">="));
  }
  for (const payload of ["add", "obj", "bin64k", "bin1m"]) {
    const w = wc(payload, "ws");
    for (const [peer, target] of [["birpc", 1.3], ["capnweb", 2]]) {
      const p = find(rows, peer, payload);
      if (w && p) out.push(bar(`ws+msgpack ${payload} pipelined / ${peer}`, w.pipe.callsPerSec / p.pipe.callsPerSec, target, ">="));
    }
    const z = wc(payload, "zmq");
    const rz = find(rows, "raw-zmq", payload);
    if (z && rz) {
      out.push(bar(`zmq+msgpack ${payload} pipelined / raw-zmq`, z.pipe.callsPerSec / rz.pipe.callsPerSec, 0.9, ">="));
      out.push(bar(`zmq+msgpack ${payload} sequential / raw-zmq`, z.seq.callsPerSec / rz.seq.callsPerSec, 0.9, ">="));
    }
  }
  // Every wirecall cell beats jayson and grpc-js: both load shapes, same payload.
  for (const peer of ["jayson", "grpc"]) {
    const losers = [];
    let compared = 0;
    for (const r of rows) {
      if (!ok(r) || r.system !== "wirecall") continue;
      const p = find(rows, peer, r.payload);
      if (!p) continue;
      compared++;
      const s = r.seq.callsPerSec / p.seq.callsPerSec;
      const q = r.pipe.callsPerSec / p.pipe.callsPerSec;
      if (s < 1 || q < 1) losers.push(`${r.transport}+${r.serializer} ${r.payload} (seq ${ratio(s)}, pipe ${ratio(q)})`);
    }
    if (compared) out.push({ name: `every wirecall cell beats ${peer}`, value: compared - losers.length, target: `${compared} of ${compared}`, met: losers.length === 0, detail: losers.join("; ") });
  }
  return out;
}

/** For each wirecall cell and each peer on the same payload: pipelined ratio and p50 ratio. */
export function peerRatios(rows) {
  const peers = [...new Set(rows.filter((r) => ok(r) && r.system !== "wirecall").map((r) => r.system))];
  const table = [];
  for (const r of rows) {
    if (!ok(r) || r.system !== "wirecall") continue;
    const entry = { label: r.label, payload: r.payload, vs: {} };
    for (const peer of peers) {
      const p = find(rows, peer, r.payload);
      if (p) entry.vs[peer] = { pipe: r.pipe.callsPerSec / p.pipe.callsPerSec, p50: r.seq.p50 / p.seq.p50 };
    }
    table.push(entry);
  }
  return { peers, table };
}

/**
 * With --repeat N: each bar's value in each round (from that round's cells
 * alone), so a round in which load from elsewhere hit one side shows up.
 */
export function withRounds(list, roundLists) {
  return list.map((b) => ({ ...b, rounds: roundLists.map((l) => l.find((x) => x.name === b.name)?.value ?? null) }));
}

const shown = (b, v) => (b.unit ? `${Math.round(v)} ${b.unit}` : b.target.includes("of") ? String(v) : ratio(v));
const roundsText = (b) => (b.rounds && !b.target.includes("of") ? `rounds ${b.rounds.map((v) => (v === null ? "—" : shown(b, v))).join(" / ")}` : "");

export function barsText(list) {
  return list
    .map((b) => `${b.met === null ? "?" : b.met ? "MET " : "MISS"}  ${b.name}: ${shown(b, b.value)} (bar ${b.target})${b.detail ? `  ${b.detail}` : ""}${roundsText(b) ? `  (${roundsText(b)})` : ""}`)
    .join("\n");
}

export function barsMarkdown(list) {
  const out = ["| bar | measured | target | met |", "|---|---:|---:|:---:|"];
  for (const b of list) {
    const v = shown(b, b.value) + (roundsText(b) ? ` (${roundsText(b)})` : "");
    out.push(`| ${b.name} | ${v} | ${b.target} | ${b.met === null ? "?" : b.met ? "yes" : "**no**"} |`);
    if (b.detail && !b.met && b.target.includes("of")) out.push(`| ↳ losing cells: ${b.detail} | | | |`);
  }
  return out.join("\n");
}

export function peerRatiosMarkdown({ peers, table }) {
  const out = [`| wirecall cell | payload | ${peers.join(" | ")} |`, `|---|---|${peers.map(() => "---:").join("|")}|`];
  for (const e of table) out.push(`| ${e.label.replace(/^wirecall /, "")} | ${e.payload} | ${peers.map((p) => (e.vs[p] ? `${ratio(e.vs[p].pipe)} / ${ratio(e.vs[p].p50)}` : "—")).join(" | ")} |`);
  return out.join("\n");
}
