#!/usr/bin/env node
/**
 * `npm run bench:pyro4`: Python's own Pyro4 daemon against wirecall's Pyro4
 * daemon (`serve(handler, "pyro://...")`), each called by the same Python
 * Pyro4 client (benchmarks/pyro4/py_client.py: sequential calls, as a
 * Pyro4 proxy makes them), in the same run, each daemon in its own
 * process. Rounds alternate the two daemons so load drifts hit both.
 * Needs Debian's python3-pyro4 (or WIRECALL_PYRO4_PYTHON) and a built dist/.
 *
 *   node benchmarks/pyro4.mjs [--seconds 3] [--rounds 2] [--serializers serpent,marshal,json] [--payloads add,1024]
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "2" },
    serializers: { type: "string", default: "serpent,marshal,json" },
    payloads: { type: "string", default: "add,1024" },
  },
});
const PYTHON = process.env.WIRECALL_PYRO4_PYTHON ?? "/usr/bin/python3";
const dir = fileURLToPath(new URL("./pyro4/", import.meta.url));

/** Start a daemon process; resolves with its URI and a stop(). */
function daemon(cmd, args) {
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve({ uri: line.trim(), stop: () => new Promise((r) => (child.once("exit", r), child.stdin.end())) });
    });
    child.once("exit", (code) => reject(new Error(`${args[0]} exited (${code}) before printing its URI`)));
  });
}

function client(uri, serializer, payload) {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [`${dir}py_client.py`, uri, serializer, values.seconds, payload], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`py_client.py exited ${code}`))));
  });
}

const systems = {
  "Python Pyro4 daemon": await daemon(PYTHON, [`${dir}py_daemon.py`]),
  "wirecall pyro:// daemon": await daemon(process.execPath, [`${dir}wirecall_daemon.mjs`]),
};
const rows = [];
try {
  for (const serializer of values.serializers.split(",")) {
    for (const payload of values.payloads.split(",")) {
      const runs = Object.fromEntries(Object.keys(systems).map((k) => [k, []]));
      for (let r = 0; r < Number(values.rounds); r++) {
        for (const [name, d] of Object.entries(systems)) runs[name].push(await client(d.uri, serializer, payload));
      }
      for (const [name, list] of Object.entries(runs)) {
        const best = list.reduce((a, b) => (b.calls_per_s > a.calls_per_s ? b : a));
        rows.push({ serializer, payload: payload === "add" ? "add(i, 1)" : `echo ${payload} B str`, system: name, ...best, all: list.map((x) => Math.round(x.calls_per_s)) });
      }
    }
  }
} finally {
  for (const d of Object.values(systems)) await d.stop();
}
console.log("| serializer | call | daemon | calls/s (best of rounds) | p50 µs | p99 µs | every round, calls/s |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.serializer} | ${r.payload} | ${r.system} | ${Math.round(r.calls_per_s)} | ${Math.round(r.p50_us)} | ${Math.round(r.p99_us)} | ${r.all.join(", ")} |`);
}
