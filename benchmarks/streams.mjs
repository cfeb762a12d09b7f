/**
 * The stream workload, part of `npm run bench` (run.mjs calls
 * {@link streamBench}) and runnable alone (`npm run bench:streams`): a
 * server streams N items to one client, which reads them all; items/s and
 * MB/s for wirecall (msgpack) over tcp and ws, against raw floors written
 * the same way in the same run: raw TCP (length-prefixed) and raw ws
 * servers that send `[sid, item]` MessagePack frames as fast as the socket
 * takes them, batching writes as wirecall's transports do (cork, up to 256
 * frames, uncork), with the socket's own backpressure and no credit,
 * handshake or validation. Small items are integers; chunks are 64 KiB
 * Uint8Arrays. Each server runs in a child process (as run.mjs's cells
 * do), the client in this one; each cell is the best of `rounds` runs.
 *
 *   node benchmarks/streams.mjs [--small 50000] [--chunks 400] [--window 64] [--rounds 3]
 */
import { fork } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { codecs } from "./lib/codecs.mjs";
import { frame, frameReader } from "./lib/length-prefixed.mjs";
import { listenWs, openWs } from "./lib/ws-peer.mjs";

const CHUNK = new Uint8Array(65536).fill(7);
const codec = codecs.msgpack;
/** Frames written between cork and uncork: one writev per batch, as a coalescing transport does. */
const BATCH = 256;

const item = (kind, i) => (kind === "small" ? i : CHUNK);
const wirecall = () => import("../dist/src/index.js");

// ---- servers (in the child) ----------------------------------------------------

async function wirecallServer(url) {
  const { RPCHandler, serve } = await wirecall();
  const h = new RPCHandler();
  h.register("items", async function* (kind, n) {
    for (let i = 0; i < n; i++) yield item(kind, i);
  });
  return serve(h, url);
}

/** Send n items and an end marker through `write` (false: wait for `drain`), corked in batches. */
async function sendAll(sock, write, kind, n) {
  let i = 0;
  while (i < n) {
    sock.cork();
    let ok = true;
    for (let k = 0; k < BATCH && i < n && ok; k++, i++) ok = write(codec.encode([1, item(kind, i)]));
    sock.uncork();
    if (!ok) await new Promise((r) => sock.once("drain", r));
  }
  write(codec.encode([1, null, true]));
}

async function rawTcpServer() {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on(
      "data",
      frameReader((body) => {
        const [kind, n] = codec.decode(body);
        void sendAll(sock, (b) => sock.write(frame(b)), kind, n);
      }),
    );
    sock.on("error", () => sock.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `tcp://127.0.0.1:${server.address().port}` };
}

async function rawWsServer() {
  return listenWs((ws) => {
    ws.on("message", (data) => {
      const [kind, n] = codec.decode(data);
      const sock = ws._socket;
      // ws writes each message to the socket; its buffered amount is the socket's backpressure.
      void sendAll(
        sock,
        (b) => {
          ws.send(b);
          return sock.writableLength < 1 << 20;
        },
        kind,
        n,
      );
    });
  });
}

const SERVERS = {
  "raw-tcp": rawTcpServer,
  "wirecall-tcp": () => wirecallServer("tcp://127.0.0.1:0"),
  "raw-ws": rawWsServer,
  "wirecall-ws": () => wirecallServer("ws://127.0.0.1:0/"),
};

// ---- clients (in this process) ------------------------------------------------------

async function wirecallRun(url, kind, n, window) {
  const { connect } = await wirecall();
  const proxy = await connect(url, { serializer: "msgpack", streamWindow: window });
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

async function rawTcpRun(url, kind, n) {
  const u = new URL(url);
  const sock = net.connect({ host: u.hostname, port: Number(u.port), noDelay: true });
  await new Promise((resolve, reject) => sock.once("connect", resolve).once("error", reject));
  const t0 = performance.now();
  let got = 0;
  await new Promise((resolve) => {
    sock.on(
      "data",
      frameReader((body) => {
        const [, , end] = codec.decode(body);
        if (end) resolve();
        else got++;
      }),
    );
    sock.write(frame(codec.encode([kind, n])));
  });
  const ms = performance.now() - t0;
  sock.destroy();
  if (got !== n) throw new Error(`got ${got} of ${n}`);
  return ms;
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

export const STREAM_SYSTEMS = [
  { name: "raw TCP (floor)", transport: "tcp", server: "raw-tcp", run: rawTcpRun },
  { name: "wirecall tcp", transport: "tcp", server: "wirecall-tcp", run: wirecallRun },
  { name: "raw ws (floor)", transport: "ws", server: "raw-ws", run: rawWsRun },
  { name: "wirecall ws", transport: "ws", server: "wirecall-ws", run: wirecallRun },
];

/** Fork this file as the server `name`; resolves with its URL and a stop function. */
function startServer(name) {
  const child = fork(fileURLToPath(import.meta.url), ["--serve", name], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (m) => resolve({ url: m.url, stop: () => stopChild(child) }));
    child.once("exit", (code) => reject(new Error(`stream server ${name} exited (${code}) before listening`)));
  });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.disconnect();
  });
}

/**
 * Run the stream workload: every system on small items and on 64 KiB
 * chunks. Returns one row per cell: items/s, and MB/s for chunks.
 */
export async function streamBench({ small = 50_000, chunks = 400, window = 64, rounds = 3, transports = ["tcp", "ws"], progress } = {}) {
  const rows = [];
  const systems = STREAM_SYSTEMS.filter((s) => transports.includes(s.transport));
  for (const [kind, n] of [["small", small], ["chunks", chunks]]) {
    for (const sys of systems) {
      progress?.start(`stream ${sys.name}: ${kind === "small" ? `${n} small items` : `${n} x 64 KiB`}`);
      const server = await startServer(sys.server);
      let best = Infinity;
      let error;
      try {
        for (let r = 0; r < rounds; r++) best = Math.min(best, await sys.run(server.url, kind, n, window));
      } catch (err) {
        error = String(err?.message ?? err);
      } finally {
        await server.stop();
      }
      const bytes = kind === "small" ? 0 : n * CHUNK.byteLength;
      progress?.done(error ? `error: ${error}` : `${Math.round(n / (best / 1000))} items/s`);
      rows.push({
        workload: kind === "small" ? `${n} small items` : `${n} x 64 KiB`,
        system: sys.name,
        ...(error
          ? { error }
          : { ms: Math.round(best), itemsPerSec: Math.round(n / (best / 1000)), mbPerSec: kind === "small" ? undefined : Math.round(bytes / 1e6 / (best / 1000)) }),
      });
    }
  }
  return { window, rounds, serializer: "msgpack", small, chunks, rows };
}

/** A Markdown table of {@link streamBench}'s rows. */
export function streamMarkdown(result) {
  const lines = ["| workload | system | ms | items/s | MB/s |", "|---|---|---|---|---|"];
  let last = "";
  for (const r of result.rows) {
    const w = r.workload === last ? "" : r.workload;
    last = r.workload;
    lines.push(r.error ? `| ${w} | ${r.system} | error: ${r.error} | | |` : `| ${w} | ${r.system} | ${r.ms} | ${r.itemsPerSec.toLocaleString("en")} | ${r.mbPerSec ?? ""} |`);
  }
  return lines.join("\n");
}

/** One terminal line per transport: wirecall against its floor, small items and chunks. */
export function streamSummary(result) {
  const lines = ["streams (wirecall / raw floor, same run):"];
  for (const t of ["tcp", "ws"]) {
    const cell = (kind, system) => result.rows.find((r) => r.system === system && r.workload.includes(kind === "small" ? "small" : "64 KiB"));
    const floor = t === "tcp" ? "raw TCP (floor)" : "raw ws (floor)";
    const ours = `wirecall ${t}`;
    const parts = [];
    for (const kind of ["small", "chunks"]) {
      const a = cell(kind, ours);
      const b = cell(kind, floor);
      if (!a || !b) continue;
      if (a.error || b.error) {
        parts.push(`${kind}: error`);
        continue;
      }
      const [x, y, unit] = kind === "small" ? [a.itemsPerSec, b.itemsPerSec, "items/s"] : [a.mbPerSec, b.mbPerSec, "MB/s"];
      parts.push(`${kind === "small" ? "small" : "64 KiB"} ${x.toLocaleString("en")} / ${y.toLocaleString("en")} ${unit} (${(x / y).toFixed(2)}x)`);
    }
    if (parts.length) lines.push(`  ${t.padEnd(4)} ${parts.join("   ")}`);
  }
  return lines;
}

// ---- as a script ----------------------------------------------------------------------

const main = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (main && process.argv[2] === "--serve") {
  const s = await SERVERS[process.argv[3]]();
  process.send({ url: s.url });
  // Exits when the parent disconnects.
  process.on("disconnect", () => process.exit(0));
} else if (main) {
  const { values } = parseArgs({
    options: { small: { type: "string", default: "50000" }, chunks: { type: "string", default: "400" }, window: { type: "string", default: "64" }, rounds: { type: "string", default: "3" } },
  });
  const result = await streamBench({ small: Number(values.small), chunks: Number(values.chunks), window: Number(values.window), rounds: Number(values.rounds) });
  console.log(`stream window ${result.window}, msgpack, node ${process.version}, best of ${result.rounds}`);
  console.log(streamMarkdown(result));
}
