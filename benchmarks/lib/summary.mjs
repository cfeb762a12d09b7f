/**
 * The end of a run, for a person: one line per transport, read in ten
 * seconds. For each transport, its fastest wirecall cell (pipelined calls/s)
 * on one payload, as a ratio to the floor of that transport (a hand-written
 * minimal RPC over the same socket) and to the fastest peer library on the
 * same payload. Everything else goes to the files.
 */
import { n0, n1, ratio } from "./format.mjs";

const ok = (r) => r && !r.error;
// Which floor a transport is measured against (mem and tls have none of their own: the tcp floor).
const FLOORS = { mem: ["floor-msgpack", "floor"], tcp: ["floor-msgpack", "floor"], tls: ["floor-msgpack", "floor"], ws: ["raw-ws"], wss: ["raw-ws"], zmq: ["raw-zmq"] };
const isFloor = (system) => system.startsWith("floor") || system.startsWith("raw-");

export function summaryLines(rows) {
  const good = rows.filter(ok);
  const wc = good.filter((r) => r.system === "wirecall");
  if (wc.length === 0) return ["no wirecall cell finished: see the errors in the table file"];
  const payload = wc.some((r) => r.payload === "add") ? "add" : wc[0].payload;
  const onPayload = good.filter((r) => r.payload === payload);
  const peers = onPayload.filter((r) => r.system !== "wirecall" && !isFloor(r.system));
  const bestPeer = peers.sort((a, b) => b.pipe.callsPerSec - a.pipe.callsPerSec)[0];
  const lines = [`summary (payload "${payload}", pipelined calls/s; ratio > 1: wirecall faster):`];
  const transports = [...new Set(wc.map((r) => r.transport))];
  const width = Math.max(...transports.map((t) => t.length));
  for (const t of transports) {
    const best = onPayload.filter((r) => r.system === "wirecall" && r.transport === t).sort((a, b) => b.pipe.callsPerSec - a.pipe.callsPerSec)[0];
    if (!best) continue;
    const floor = (FLOORS[t] ?? []).map((f) => onPayload.find((r) => r.system === f)).find(Boolean);
    const vsFloor = floor ? `${ratio(best.pipe.callsPerSec / floor.pipe.callsPerSec)} ${floor.label}` : "no floor measured";
    const vsPeer = bestPeer ? `${ratio(best.pipe.callsPerSec / bestPeer.pipe.callsPerSec)} best peer (${bestPeer.label})` : "no peer measured";
    lines.push(`  ${t.padEnd(width)}  ${n0(best.pipe.callsPerSec).padStart(9)}/s  p50 ${n1(best.seq.p50).padStart(6)} µs  ${`(${best.serializer})`.padEnd(11)}  ${vsFloor.padEnd(28)}  ${vsPeer}`);
  }
  const failed = rows.filter((r) => r.error).length;
  if (failed) lines.push(`  ${failed} cell${failed === 1 ? "" : "s"} failed: see the table file`);
  return lines;
}
