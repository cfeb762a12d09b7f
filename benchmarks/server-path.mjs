#!/usr/bin/env node
/**
 * CPU per call of the server's own per-call path over tcp+msgpack, with no
 * kernel in the way: the real TcpConnection (frame decoder, writer), the
 * real server opening and PeerSession, the serving half, the handler and
 * the msgpack encode, fed one framed `add(1, 2)` call per socket 'data'
 * event by a stand-in socket whose `write` only keeps the answer. What it
 * leaves out is the socket itself (the syscalls are the same for the floor).
 * Use it to compare builds; benchmarks/tcp-cpu.mjs measures the whole.
 *
 *   node benchmarks/server-path.mjs [DIST_DIR|floor ...] [--calls N] [--rounds R]
 *
 * Several DIST_DIRs (another build's dist/) are measured round by round in
 * turn (A B, B A, ...) in this one process, and the median ns per call of
 * each is printed, with the median per-round ratio to the first.
 */
import { EventEmitter } from "node:events";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  argv.splice(i, 2);
  return v;
};
const calls = opt("--calls", 200_000);
const rounds = opt("--rounds", 9);
const dists = argv.length > 0 ? argv : [new URL("../dist", import.meta.url).pathname];

class Socket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 40000;
  writableLength = 0;
  writableNeedDrain = false;
  answers = 0;
  last = undefined;
  setNoDelay() {}
  setKeepAlive() {}
  write(chunk) {
    this.answers++;
    this.last = chunk;
    return true;
  }
  cork() {}
  uncork() {}
  pause() {}
  resume() {}
  isPaused() {
    return false;
  }
  end() {}
  destroy() {}
}

function framed(bytes) {
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  out.set(bytes, 4);
  return out;
}

const tick = () => new Promise((r) => setImmediate(r));

/** The floor's server (benchmarks/systems/floor-net.mjs) on the same stand-in socket. */
async function floor() {
  const { codecs } = await import("./lib/codecs.mjs");
  const { frame, frameReader } = await import("./lib/length-prefixed.mjs");
  const { methods } = await import("./lib/workloads.mjs");
  const codec = codecs.msgpack;
  const socket = new Socket();
  socket.on(
    "data",
    frameReader((body) => {
      const [id, method, args] = codec.decode(body);
      socket.write(frame(codec.encode([id, methods[method](...args)])));
    }),
  );
  const chunks = [];
  for (let id = 1; id <= 64; id++) chunks.push(framed(codec.encode([id, "add", [1, 2]])));
  const run = async (n) => {
    for (let i = 0; i < n; i++) socket.emit("data", chunks[i & 63]);
  };
  await run(20_000);
  return { dist: "floor", run, ns: [] };
}

async function setup(dist) {
  if (dist === "floor") return floor();
  const url = (p) => pathToFileURL(resolve(dist, p)).href;
  const { RPCHandler } = await import(url("src/index.js"));
  const { msgpack } = await import(url("src/serializers/msgpack.js"));
  await (await import(url("src/serializers/index.js"))).loadSerializers();
  const { PeerSession } = await import(url("src/session.js"));
  const { serverOpening } = await import(url("src/server-opening.js"));
  const { TcpConnection } = await import(url("transports/tcp/tcp-connection.js"));
  const { ReadBudget } = await import(url("transports/read-budget.js"));
  const h = new RPCHandler();
  h.register("add", (a, b) => a + b);
  const socket = new Socket();
  const account = new ReadBudget().open(() => false, () => {});
  const conn = new TcpConnection(socket, { transport: "tcp", maxFrameSize: 64 << 20, account, highWaterMark: 1 << 20, coalesce: "gather" });
  const session = new PeerSession(conn, { role: "server", handler: h, maxInFlight: 256, firstFrameTimeout: 0 });
  session.start(serverOpening());
  await tick();
  socket.emit("data", framed(Buffer.from(JSON.stringify({ wirecall: 1, serializer: "msgpack", refs: 1, meta: 1 }))));
  for (const t0 = Date.now(); socket.answers === 0 && Date.now() - t0 < 10_000; ) await tick();
  if (socket.answers === 0) throw new Error(`${dist}: no answer to the hello`);
  // Each call its own chunk, as a sequential caller's frames arrive.
  const chunks = [];
  for (let id = 1; id <= 64; id++) chunks.push(framed(msgpack.encode([0, id, "add", [1, 2]])));
  const expect = Buffer.from(msgpack.encode([1, 1, 3])).toString("hex");
  const run = async (n) => {
    const before = socket.answers;
    for (let i = 0; i < n; i++) socket.emit("data", chunks[i & 63]);
    // Answers leave synchronously: one write per read.
    if (socket.answers - before !== n) throw new Error(`${dist}: ${socket.answers - before} answers to ${n} calls`);
  };
  // The first call loads the serving half; the calls after it are answered at once.
  const before = socket.answers;
  socket.emit("data", chunks[0]);
  for (const t0 = Date.now(); socket.answers === before && Date.now() - t0 < 10_000; ) await tick();
  await run(20_000);
  for (let i = 0; i < 5; i++) await tick();
  socket.emit("data", chunks[0]);
  const got = Buffer.from(socket.last).subarray(4).toString("hex");
  if (got !== expect) throw new Error(`${dist}: answer ${got}, expected ${expect}`);
  return { dist, run, ns: [] };
}

const systems = [];
for (const d of dists) systems.push(await setup(d));
for (let r = 0; r < rounds; r++) {
  for (const s of r % 2 ? [...systems].reverse() : systems) {
    const c0 = process.cpuUsage();
    await s.run(calls);
    const c = process.cpuUsage(c0);
    s.ns.push(((c.user + c.system) * 1000) / calls);
    await tick();
  }
}
const med = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
for (const s of systems) console.log(`${s.dist}: ${med(s.ns).toFixed(0)} ns CPU per call (median of ${rounds} rounds of ${calls})`);
for (let i = 1; i < systems.length; i++) {
  const [a, b] = [systems[0], systems[i]];
  console.log(`${a.dist} / ${b.dist}: ${med(a.ns.map((x, j) => x / b.ns[j])).toFixed(3)} (median of per-round ratios)`);
}
