#!/usr/bin/env node
/**
 * Microbenchmarks of the hot functions, with tinybench:
 *   - envelope encode / decode (+ validateEnvelope) per serializer, for a
 *     call of add(1, 2), a reply carrying the ~1 KiB object, and a reply
 *     carrying 64 KiB of bytes;
 *   - the TCP frame decoder (transports/tcp) on many small frames per chunk
 *     and on one 64 KiB frame split across chunks, when it is built.
 * Run: `npm run bench -- --micro` or `node benchmarks/micro.mjs [--time ms] [--filter text]`.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { depsInstalled, installDeps } from "./lib/deps.mjs";
import { n0, n1 } from "./lib/format.mjs";
import { WORKLOADS } from "./lib/workloads.mjs";

if (!depsInstalled()) installDeps();
const { Bench } = await import("tinybench");
const wirecall = { ...(await import("../dist/src/index.js")), ...(await import("../dist/src/transport-sdk.js")) };

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const time = Number(arg("--time", 300));
const filter = arg("--filter", "");

const bench = new Bench({ time, warmupTime: 100 });
const add = (name, fn) => {
  if (name.includes(filter)) bench.add(name, fn);
};

const obj = WORKLOADS.obj.make()[0];
const bin = WORKLOADS.bin64k.make()[0];
for (const name of ["json", "superjson", "msgpack"]) {
  const s = wirecall.getSerializer(name);
  const envelopes = {
    "call add(1,2)": [0, 12345, "add", [1, 2]],
    "reply 1 KiB obj": [1, 12345, obj],
    "reply 64 KiB bin": [1, 12345, bin],
  };
  for (const [label, env] of Object.entries(envelopes)) {
    const frame = s.encode(env);
    add(`${name} encode ${label}`, () => s.encode(env));
    add(`${name} decode+validate ${label}`, () => wirecall.validateEnvelope(s.decode(frame)));
  }
}

const decoderPath = fileURLToPath(new URL("../dist/transports/tcp/frame-decoder.js", import.meta.url));
if (existsSync(decoderPath)) {
  const { FrameDecoder } = await import(decoderPath);
  const msgpack = wirecall.getSerializer("msgpack");
  const small = msgpack.encode([1, 12345, 3]);
  // 64 small frames back to back in one chunk, as a pipelined reader sees them.
  const many = Buffer.alloc(64 * (4 + small.length));
  for (let i = 0; i < 64; i++) {
    many.writeUInt32BE(small.length, i * (4 + small.length));
    many.set(small, i * (4 + small.length) + 4);
  }
  const bigBody = msgpack.encode([1, 12345, bin]);
  const big = Buffer.alloc(4 + bigBody.length);
  big.writeUInt32BE(bigBody.length, 0);
  big.set(bigBody, 4);
  const pieces = [0, 1, 2, 3].map((i) => big.subarray((i * big.length) >> 2, ((i + 1) * big.length) >> 2));
  add("tcp FrameDecoder 64 small frames in one chunk", () => {
    const d = new FrameDecoder(1 << 26);
    d.push(many);
    let n = 0;
    while (d.next()) n++;
    if (n !== 64) throw new Error(`decoded ${n}`);
  });
  add("tcp FrameDecoder 64 KiB frame in 4 chunks", () => {
    const d = new FrameDecoder(1 << 26);
    for (const p of pieces) d.push(p);
    if (!d.next()) throw new Error("no frame");
  });
} else {
  process.stderr.write("note: dist/transports/tcp not built, frame decoder skipped\n");
}

await bench.run();
const rows = bench.tasks.map((t) => [t.name, n0(t.result.throughput.mean), n1(t.result.latency.mean * 1000), n1(t.result.latency.p99 * 1000), `±${t.result.latency.rme.toFixed(1)}%`]);
const head = ["task", "ops/s", "mean µs", "p99 µs", "rme"];
const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ");
process.stdout.write(`${line(head)}\n${width.map((w) => "-".repeat(w)).join("  ")}\n${rows.map(line).join("\n")}\n`);
