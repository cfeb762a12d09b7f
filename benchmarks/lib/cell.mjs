/**
 * Runs one cell: forks the server child (unless the system is in-process),
 * puts the byte-counting proxy in front of it, forks the client child, relays
 * snapshots, and turns the raw counters into the per-cell figures.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startWireCounter } from "./wire-counter.mjs";
import { WORKLOADS } from "./workloads.mjs";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

function waitFor(child, type) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (m.type === type) {
        child.off("message", onMsg);
        child.off("exit", onExit);
        resolve(m);
      }
    };
    const onExit = (code) => reject(new Error(`${type}: child exited with code ${code}`));
    child.on("message", onMsg);
    child.once("exit", onExit);
  });
}

function withPort(url, port) {
  const u = new URL(url);
  u.port = String(port);
  return u.href;
}

/**
 * Ends a child: closing the IPC channel lets it exit on its own (so
 * --cpu-prof profiles get written); SIGKILL if it has not gone in 3 s.
 */
function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.disconnect();
    else child.kill("SIGKILL");
  });
}

/**
 * @param spec    the system spec (module, transport, serializer, ...)
 * @param payload a key of WORKLOADS
 * @param opts    { budget, timeoutMs, execArgv }
 */
/**
 * fork() options that run the child on one CPU (Linux `taskset`), or plain
 * ones when `cpu` is undefined. fork() starts `execPath ...execArgv script`,
 * so taskset takes node's place and execs it with the IPC channel intact.
 */
function forkOptions(execArgv, cpu) {
  const stdio = ["ignore", "inherit", "inherit", "ipc"];
  if (cpu === undefined) return { execArgv, stdio };
  return { execPath: "taskset", execArgv: ["-c", String(cpu), process.execPath, ...execArgv], stdio };
}

/** CPUs for [server, client] under `--pin`: "same" puts both on CPU 0, "split" on 0 and 1. */
function pinCpus(pin) {
  if (pin === "same") return [0, 0];
  if (pin === "split") return [0, 1];
  return [undefined, undefined];
}

export async function runCell(spec, payload, { budget, timeoutMs, execArgv = [], pin }) {
  const [serverCpu, clientCpu] = pinCpus(pin);
  let server;
  let client;
  let counter;
  let timer;
  try {
    const serverSnaps = {};
    const wireSnaps = {};
    let url;
    if (!spec.inProcess) {
      server = fork(here("../server-child.mjs"), [JSON.stringify(spec)], forkOptions(execArgv, serverCpu));
      ({ url } = await waitFor(server, "ready"));
      counter = await startWireCounter(Number(new URL(url).port));
    }
    client = fork(
      here("../client-child.mjs"),
      [JSON.stringify({ spec, url, proxyUrl: counter && withPort(url, counter.port), payload, budget })],
      forkOptions(execArgv, clientCpu),
    );
    client.on("message", async (m) => {
      if (m.type !== "snap") return;
      if (server) {
        const p = waitFor(server, "snap");
        server.send({ type: "snap", tag: m.tag });
        serverSnaps[m.tag] = await p;
      }
      if (counter) wireSnaps[m.tag] = counter.snapshot();
      client.send({ type: "snap-ok" });
    });
    const outcome = Promise.race([
      new Promise((resolve, reject) => {
        client.on("message", (m) => {
          if (m.type === "result") resolve(m.result);
          if (m.type === "error") reject(new Error(m.message));
        });
        client.once("exit", (code) => setTimeout(() => reject(new Error(`client exited with code ${code}`)), 100));
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`cell timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const raw = await outcome;
    if (server) {
      const p = waitFor(server, "snap");
      server.send({ type: "snap", tag: "end" });
      serverSnaps.end = await p;
    }
    return figures(raw, payload, serverSnaps, wireSnaps);
  } finally {
    clearTimeout(timer);
    await Promise.all([stop(client), stop(server), counter?.close()]);
  }
}

function serverCpuMs(snaps, from, to) {
  const a = snaps[from]?.cpu;
  const b = snaps[to]?.cpu;
  return a && b ? (b.user - a.user + b.system - a.system) / 1000 : undefined;
}

function figures(raw, payload, serverSnaps, wireSnaps) {
  const { seq, pipe } = raw;
  const binary = WORKLOADS[payload].binary;
  const perCallUs = (ms, calls) => (ms === undefined || !calls ? null : (ms * 1000) / calls);
  const sCpuSeq = serverCpuMs(serverSnaps, "seq-start", "seq-end");
  const sCpuPipe = serverCpuMs(serverSnaps, "pipe-start", "pipe-end");
  let wireBytesPerCall = null;
  let wireUpPerCall = null;
  if (raw.wire && wireSnaps["wire-start"] && wireSnaps["wire-end"]) {
    const a = wireSnaps["wire-start"];
    const b = wireSnaps["wire-end"];
    wireUpPerCall = (b.up - a.up) / raw.wire.calls;
    wireBytesPerCall = (b.up - a.up + b.down - a.down) / raw.wire.calls;
  }
  return {
    warmup: raw.warmup,
    seq: { callsPerSec: seq.callsPerSec, calls: seq.calls, ...seq.latencyUs },
    pipe: { callsPerSec: pipe.callsPerSec, calls: pipe.calls, depth: pipe.depth },
    // Payload bytes carried per second, one way (the echo carries as much back).
    mbPerSec: binary ? (pipe.callsPerSec * binary) / 1e6 : null,
    wireBytesPerCall,
    wireUpPerCall,
    cpuUsPerCall: {
      clientSeq: perCallUs(seq.clientCpuMs, seq.calls),
      serverSeq: perCallUs(sCpuSeq, seq.calls),
      clientPipe: perCallUs(pipe.clientCpuMs, pipe.calls),
      serverPipe: perCallUs(sCpuPipe, pipe.calls),
    },
    maxRssMB: {
      client: raw.clientMaxRSS / 1024,
      server: serverSnaps.end ? serverSnaps.end.maxRSS / 1024 : null,
    },
    histogram: raw.histogram,
  };
}

function median(xs) {
  const v = xs.filter((x) => typeof x === "number" && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return xs.find((x) => x !== undefined) ?? null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Each numeric figure (nested one level) as the median over repetitions of one cell. */
export function medianFigures(list) {
  const out = {};
  for (const [k, v] of Object.entries(list[0])) {
    if (v !== null && typeof v === "object") {
      out[k] = {};
      for (const kk of Object.keys(v)) out[k][kk] = median(list.map((f) => f[k]?.[kk]));
    } else {
      out[k] = typeof v === "number" ? median(list.map((f) => f[k])) : v;
    }
  }
  return out;
}
