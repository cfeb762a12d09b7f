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

/** The bars of issue 6, each compared with the peers it names. */
export function bars(rows) {
  const out = [];
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

const roundsText = (b) => (b.rounds && !b.target.includes("of") ? `rounds ${b.rounds.map((v) => (v === null ? "—" : ratio(v))).join(" / ")}` : "");

export function barsText(list) {
  return list
    .map((b) => `${b.met === null ? "?" : b.met ? "MET " : "MISS"}  ${b.name}: ${typeof b.value === "number" && b.target.includes("of") ? b.value : ratio(b.value)} (bar ${b.target})${b.detail ? `  ${b.detail}` : ""}${roundsText(b) ? `  (${roundsText(b)})` : ""}`)
    .join("\n");
}

export function barsMarkdown(list) {
  const out = ["| bar | measured | target | met |", "|---|---:|---:|:---:|"];
  for (const b of list) {
    const v = (b.target.includes("of") ? String(b.value) : ratio(b.value)) + (roundsText(b) ? ` (${roundsText(b)})` : "");
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
