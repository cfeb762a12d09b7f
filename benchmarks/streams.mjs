/**
 * The stream workload: a server streams N items to one client, which reads
 * them all; items/s and MB/s for wirecall (msgpack) over ws and tcp, against
 * raw floors written the same way in the same run: raw ws and raw TCP
 * (length-prefixed) peers that send `[sid, item]` MessagePack frames as fast
 * as the socket takes them (its own backpressure, no credit, no handshake).
 * Small items are integers; chunks are 64 KiB Uint8Arrays. Server and
 * client share this process (the RPC matrix in run.mjs uses child
 * processes); each cell is the best of three runs.
 *
 *   node benchmarks/streams.mjs [--small 50000] [--chunks 400] [--window 64]
 */
import net from "node:net";
import { parseArgs } from "node:util";
import { RPCHandler, connect, serve } from "../dist/src/index.js";
import { codecs } from "./lib/codecs.mjs";
import { frame, frameReader } from "./lib/length-prefixed.mjs";
import { listenWs, openWs } from "./lib/ws-peer.mjs";

const { values } = parseArgs({ options: { small: { type: "string", default: "50000" }, chunks: { type: "string", default: "400" }, window: { type: "string", default: "64" } } });
const SMALL = Number(values.small);
const CHUNKS = Number(values.chunks);
const WINDOW = Number(values.window);
const CHUNK = new Uint8Array(65536).fill(7);
const codec = codecs.msgpack;

function item(kind, i) {
  return kind === "small" ? i : CHUNK;
}
const bytesOf = (kind, n) => (kind === "small" ? 0 : n * CHUNK.byteLength);

// ---- wirecall ----------------------------------------------------------------
async function wirecallRun(url, kind, n) {
  const proxy = await connect(url, { serializer: "msgpack", streamWindow: WINDOW });
  try {
    const t0 = performance.now();
    let got = 0;
    for await (const _ of await proxy.items(kind, n)) got++;
    const ms = performance.now() - t0;
    if (got !== n) throw new Error(`got ${got} of ${n}`);
    return ms;
  } finally {
    await proxy.$close();
  }
}

async function wirecallServer(url) {
  const h = new RPCHandler();
  h.register("items", async function* (kind, n) {
    for (let i = 0; i < n; i++) yield item(kind, i);
  });
  return serve(h, url);
}

// ---- raw floors ----------------------------------------------------------------
async function sendAll(write, waitDrain, kind, n) {
  for (let i = 0; i < n; i++) if (!write(codec.encode([1, item(kind, i)]))) await waitDrain();
  write(codec.encode([1, null, true]));
}

async function rawTcpServer() {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on("data", frameReader((body) => {
      const [kind, n] = codec.decode(body);
      void sendAll((b) => sock.write(frame(b)), () => new Promise((r) => sock.once("drain", r)), kind, n);
    }));
    sock.on("error", () => sock.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `tcp://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(() => r())) };
}

async function rawTcpRun(url, kind, n) {
  const u = new URL(url);
  const sock = net.connect({ host: u.hostname, port: Number(u.port), noDelay: true });
  await new Promise((resolve, reject) => sock.once("connect", resolve).once("error", reject));
  const t0 = performance.now();
  let got = 0;
  await new Promise((resolve) => {
    sock.on("data", frameReader((body) => {
      const [, , end] = codec.decode(body);
      if (end) resolve();
      else got++;
    }));
    sock.write(frame(codec.encode([kind, n])));
  });
  const ms = performance.now() - t0;
  sock.destroy();
  if (got !== n) throw new Error(`got ${got} of ${n}`);
  return ms;
}

async function rawWsServer() {
  const s = await listenWs((ws) => {
    ws.on("message", (data) => {
      const [kind, n] = codec.decode(data);
      const sock = ws._socket;
      void sendAll(
        (b) => {
          ws.send(b);
          return ws.bufferedAmount < 1 << 20;
        },
        () => new Promise((r) => sock.once("drain", r)),
        kind,
        n,
      );
    });
  });
  return s;
}

async function rawWsRun(url, kind, n) {
  const ws = await openWs(url);
  const t0 = performance.now();
  let got = 0;
  await new Promise((resolve) => {
    ws.on("message", (data) => {
      const [, , end] = codec.decode(data);
      if (end) resolve();
      else got++;
    });
    ws.send(codec.encode([kind, n]));
  });
  const ms = performance.now() - t0;
  ws.close();
  if (got !== n) throw new Error(`got ${got} of ${n}`);
  return ms;
}

// ---- the table -------------------------------------------------------------------
const systems = [
  { name: "raw TCP (floor)", start: rawTcpServer, run: rawTcpRun },
  { name: "wirecall tcp", start: () => wirecallServer("tcp://127.0.0.1:0"), run: wirecallRun },
  { name: "raw ws (floor)", start: rawWsServer, run: rawWsRun },
  { name: "wirecall ws", start: () => wirecallServer("ws://127.0.0.1:0/"), run: wirecallRun },
];

const rows = [];
for (const [kind, n] of [["small", SMALL], ["chunks", CHUNKS]]) {
  for (const sys of systems) {
    const server = await sys.start();
    let best = Infinity;
    try {
      for (let r = 0; r < 3; r++) best = Math.min(best, await sys.run(server.url, kind, n));
    } finally {
      await server.close();
    }
    const itemsPerS = n / (best / 1000);
    const mbPerS = bytesOf(kind, n) / 1e6 / (best / 1000);
    rows.push({ workload: kind === "small" ? `${n} small items` : `${n} x 64 KiB`, system: sys.name, ms: best.toFixed(0), "items/s": Math.round(itemsPerS).toLocaleString("en"), "MB/s": kind === "small" ? "" : mbPerS.toFixed(0) });
  }
}
console.log(`stream window ${WINDOW}, msgpack, node ${process.version}`);
console.table(rows);
