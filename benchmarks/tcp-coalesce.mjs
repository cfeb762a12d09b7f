#!/usr/bin/env node
/**
 * Does coalescing the frames written in one tick pay off on tcp://?
 *
 * Compares the TCP transport's three write modes (transports/tcp/frame-writer.ts):
 *   gather  copy small frames + headers into one buffer, one write per tick (default)
 *   cork    socket.cork() on the first frame of a tick, uncork on the next tick (writev)
 *   none    header and payload written at once, two writes per frame
 *
 * Workloads, each on a fresh loopback connection, modes interleaved per round
 * so that machine noise hits them alike; the median of the rounds is printed:
 *   writer   FrameWriter alone on a socket pair: 200 000 frames of 32 B, 100 per tick
 *   burst    RPC: 20 x Promise.all of 500 add() calls (many frames per tick both ways)
 *   serial   RPC: 2000 add() calls, one at a time (one frame per tick: latency)
 *   big      RPC: 30 echo() calls of a 256 KiB string (big payloads, no copy wanted)
 *
 * Run after building: npx tsc -p . && node benchmarks/tcp-coalesce.mjs [rounds]
 */
import * as net from "node:net";
import { RPCHandler, connect, serve } from "../dist/src/index.js";
import { FrameWriter } from "../dist/transports/tcp/frame-writer.js";

const ROUNDS = Number(process.argv[2] ?? 5);
const MODES = ["gather", "cork", "none"];
const authkey = "bench";

const handler = new RPCHandler();
handler.register(function add(x, y) {
  return x + y;
});
handler.register("echo", (v) => v);

async function socketPair() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise((r) => server.once("connection", r));
  const client = net.connect(server.address().port, "127.0.0.1");
  await new Promise((r) => client.once("connect", r));
  const peer = await accepted;
  client.setNoDelay(true);
  return { client, peer, close: () => (client.destroy(), peer.destroy(), server.close()) };
}

async function writerBench(mode) {
  const FRAMES = 200_000;
  const PER_TICK = 100;
  const { client, peer, close } = await socketPair();
  const payload = new Uint8Array(32).fill(7);
  const total = FRAMES * (4 + payload.length);
  let received = 0;
  const done = new Promise((resolve) =>
    peer.on("data", (c) => {
      received += c.length;
      if (received >= total) resolve();
    }),
  );
  const w = new FrameWriter(client, mode);
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < FRAMES; ) {
    for (let i = 0; i < PER_TICK; i++, sent++) w.write(payload);
    if (client.writableNeedDrain) await new Promise((r) => client.once("drain", r));
    else await new Promise((r) => setImmediate(r));
  }
  await done;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  close();
  return { value: FRAMES / ms / 1000, unit: "M frames/s" };
}

async function withProxy(mode, fn) {
  const server = await serve(handler, "tcp://127.0.0.1:0", { authkey, coalesce: mode });
  const proxy = await connect(server.url, { authkey, coalesce: mode });
  try {
    for (let i = 0; i < 200; i++) await proxy.add(i, 1); // warm-up
    return await fn(proxy);
  } finally {
    await proxy.$close();
    await server.close();
  }
}

const rpc = {
  async burst(proxy) {
    const t0 = performance.now();
    for (let r = 0; r < 20; r++) await Promise.all(Array.from({ length: 500 }, (_, i) => proxy.add(i, r)));
    return { value: 10_000 / (performance.now() - t0), unit: "k calls/s" };
  },
  async serial(proxy) {
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) await proxy.add(i, 1);
    return { value: ((performance.now() - t0) * 1000) / 2000, unit: "µs/call" };
  },
  async big(proxy) {
    const s = "x".repeat(256 * 1024);
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) await proxy.echo(s);
    return { value: (30 * 2 * s.length) / 1e6 / ((performance.now() - t0) / 1000), unit: "MB/s" };
  },
};

const workloads = {
  writer: writerBench,
  burst: (m) => withProxy(m, rpc.burst),
  serial: (m) => withProxy(m, rpc.serial),
  big: (m) => withProxy(m, rpc.big),
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`node ${process.version}, ${ROUNDS} rounds, median shown\n`);
console.log(["workload".padEnd(8), ...MODES.map((m) => m.padStart(10)), "  unit"].join(" "));
for (const [name, run] of Object.entries(workloads)) {
  const results = Object.fromEntries(MODES.map((m) => [m, []]));
  let unit = "";
  for (let r = 0; r < ROUNDS; r++) {
    const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]);
    for (const mode of order) {
      const res = await run(mode);
      results[mode].push(res.value);
      unit = res.unit;
    }
  }
  console.log([name.padEnd(8), ...MODES.map((m) => median(results[m]).toFixed(2).padStart(10)), `  ${unit}`].join(" "));
}
