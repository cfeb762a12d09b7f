/**
 * Memory per idle connection: a server (child process) holding N idle,
 * authenticated tcp:// connections, against a raw node:net server holding N
 * idle sockets (the floor: what the kernel socket and Node's handle cost
 * anyway). Each server is measured alone, after a forced GC, before and after
 * the N connections are up; the clients live in this process.
 *
 *   npm run build && node benchmarks/idle-connections.mjs [--connections 10000]
 *
 * `--heap-snapshot PREFIX` also writes PREFIX-{raw,wirecall}-{before,after}.heapsnapshot
 * (after the figures were taken), to see which objects a connection holds.
 *
 * Memory is counted, not timed, so the figures hold on a loaded machine.
 */
import { fork } from "node:child_process";
import net from "node:net";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "10000" },
    serve: { type: "string" },
    // Write a heap snapshot of each server before and after its connections are up (child: the file's prefix).
    "heap-snapshot": { type: "string" },
  },
});
const AUTHKEY = "idle-connections-bench";

function snapshot() {
  globalThis.gc?.();
  globalThis.gc?.();
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const mem = process.memoryUsage();
  return { rss: kib("VmRSS") * 1024, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external + mem.arrayBuffers };
}

// ---- child: one server, answering snapshot requests -------------------------
if (values.serve) {
  let close;
  let url;
  if (values.serve === "raw") {
    const sockets = new Set();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    url = `tcp://127.0.0.1:${server.address().port}`;
    close = () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    };
  } else {
    const { RPCHandler, serve } = await import("../dist/src/index.js");
    await import("../dist/transports/tcp/index.js");
    const handler = new RPCHandler();
    handler.register("add", (a, b) => a + b);
    const server = await serve(handler, "tcp://127.0.0.1:0", { authkey: AUTHKEY });
    url = server.url;
    close = () => server.close();
  }
  process.on("message", async (msg) => {
    if (msg.type !== "snap") return;
    const snap = snapshot();
    if (values["heap-snapshot"]) {
      const v8 = await import("node:v8");
      v8.writeHeapSnapshot(`${values["heap-snapshot"]}-${values.serve}-${msg.label}.heapsnapshot`);
    }
    process.send({ type: "snap", ...snap });
  });
  process.on("disconnect", () => {
    Promise.race([close(), new Promise((r) => setTimeout(r, 1000))]).finally(() => process.exit(0));
  });
  process.send({ type: "ready", url });
} else {
  await main(Number(values.connections));
}

async function main(n) {
  const { connect } = await import("../dist/src/index.js");
  await import("../dist/transports/tcp/index.js");
  const rows = [];
  for (const kind of ["raw", "wirecall"]) {
    const snapArgs = values["heap-snapshot"] ? ["--heap-snapshot", values["heap-snapshot"]] : [];
    const child = fork(fileURLToPath(import.meta.url), ["--serve", kind, ...snapArgs], {
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const next = (type) =>
      new Promise((resolve, reject) => {
        const onMsg = (m) => {
          if (m.type === type) {
            child.off("message", onMsg);
            resolve(m);
          }
        };
        child.on("message", onMsg);
        child.once("exit", (code) => reject(new Error(`${kind} server exited (${code})`)));
      });
    const { url } = await next("ready");
    const snap = async (label) => {
      const p = next("snap");
      child.send({ type: "snap", label });
      return p;
    };
    const before = await snap("before");
    const started = performance.now();
    const clients = [];
    // A bounded number of handshakes at once: the point is the idle cost, not a connect storm.
    const CONCURRENCY = 200;
    let opened = 0;
    async function worker() {
      while (opened < n) {
        opened++;
        if (kind === "raw") {
          const { port } = new URL(url);
          const s = net.connect(Number(port), "127.0.0.1");
          await new Promise((resolve, reject) => {
            s.once("connect", resolve);
            s.once("error", reject);
          });
          clients.push({ close: () => s.destroy() });
        } else {
          const p = await connect(url, { authkey: AUTHKEY });
          // One call each, so every connection has finished the handshake and the hello both ways.
          if ((await p.add(1, 2)) !== 3) throw new Error("wrong answer");
          clients.push({ close: () => p.$close() });
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const openMs = performance.now() - started;
    const after = await snap("after");
    rows.push({
      kind,
      n,
      openMs,
      rssPerConn: (after.rss - before.rss) / n,
      heapPerConn: (after.heapUsed - before.heapUsed) / n,
      // The heap's pages, used or not (what of RSS the JS heap accounts for).
      committedPerConn: (after.heapTotal - before.heapTotal) / n,
      externalPerConn: (after.external - before.external) / n,
      rssBefore: before.rss,
      rssAfter: after.rss,
    });
    await Promise.all(clients.map((c) => c.close()));
    child.disconnect();
    await new Promise((r) => child.once("exit", r));
  }
  const kb = (x) => (x / 1024).toFixed(1);
  console.log(`idle connections: ${n} per server, server measured after a forced GC`);
  console.log("server    | RSS before | RSS after | RSS/conn | heap/conn | heap committed/conn | external/conn | open time");
  for (const r of rows) {
    console.log(
      `${r.kind.padEnd(9)} | ${(r.rssBefore / 2 ** 20).toFixed(1).padStart(7)} MiB | ${(r.rssAfter / 2 ** 20).toFixed(1).padStart(6)} MiB | ${kb(r.rssPerConn).padStart(5)} KiB | ${kb(r.heapPerConn).padStart(6)} KiB | ${kb(r.committedPerConn).padStart(15)} KiB | ${kb(r.externalPerConn).padStart(9)} KiB | ${(r.openMs / 1000).toFixed(1)} s`,
    );
  }
  const [raw, wc] = rows;
  console.log(`wirecall above the raw socket floor: ${kb(wc.rssPerConn - raw.rssPerConn)} KiB RSS per connection`);
}
