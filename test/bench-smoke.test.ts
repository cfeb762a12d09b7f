/**
 * Keeps `npm run bench` from rotting: one quick cell (tcp + msgpack + add, no
 * peers) through the real command, with its server and client processes.
 * No timing assertions: only that it runs and writes the expected fields.
 * It needs nothing from benchmarks/node_modules (`--no-install`, no peers).
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runToEnd, type Result } from "./support/run.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** `npm run bench -- ...args`, as its own process group, so a timeout kills npm, the runner and its children together. */
function run(args: string[], timeoutMs: number): Promise<Result> {
  return runToEnd("npm", ["run", "--silent", "bench", "--", ...args], { cwd: root, timeoutMs, group: true });
}

test("npm run bench -- --quick runs one cell and writes table, JSON and SVG", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wirecall-bench-smoke-"));
  try {
    const out = join(dir, "smoke.json");
    const args = ["--quick", "--transports", "tcp", "--serializers", "msgpack", "--payloads", "add", "--peers", "none"];
    const { code, stdout, stderr } = await run([...args, "--no-install", "--seconds", "0.1", "--warmup", "0.05", "--out", out], 60_000);
    assert.equal(code, 0, `bench exited with ${code}\n${stdout}\n${stderr}`);
    // The terminal gets a summary line per transport; the full table is in the .txt file.
    assert.match(stdout, /summary \(payload "add"/);
    assert.match(stdout, /^ {2}tcp\s+[\d,]+\/s\s+p50\s+[\d.,]+ µs\s+\(msgpack\)/m);
    assert.ok(stdout.split("\n").length < 15, `the terminal output should be short:\n${stdout}`);
    const table = readFileSync(out.replace(/\.json$/, ".txt"), "utf8");
    for (const column of ["seq calls/s", "p50 µs", "p99 µs", "p99.9 µs", "pipe calls/s", "wire B/call", "cli CPU µs/call", "srv CPU µs/call", "RSS cli/srv MB"]) {
      assert.ok(table.includes(column), `table lacks column '${column}'`);
    }
    assert.match(table, /wirecall tcp\+msgpack\s+add\s+[\d,]+/);
    assert.match(stderr, /\[1\/1\] wirecall tcp\+msgpack add/, "progress line");

    const result = JSON.parse(readFileSync(out, "utf8"));
    assert.equal(result.rows.length, 1);
    const row = result.rows[0];
    assert.equal(row.error, undefined, String(row.error));
    assert.deepEqual([row.system, row.transport, row.serializer, row.payload], ["wirecall", "tcp", "msgpack", "add"]);
    assert.ok(row.seq.callsPerSec > 0 && row.seq.calls > 0);
    for (const k of ["p50", "p99", "p999"]) assert.equal(typeof row.seq[k], "number", `seq.${k}`);
    assert.ok(row.pipe.callsPerSec > 0);
    assert.equal(row.pipe.depth, 128);
    assert.ok(row.wireBytesPerCall > 0, "bytes on the wire counted");
    for (const k of ["clientSeq", "serverSeq", "clientPipe", "serverPipe"]) assert.equal(typeof row.cpuUsPerCall[k], "number", `cpuUsPerCall.${k}`);
    assert.ok(row.maxRssMB.client > 0 && row.maxRssMB.server > 0);
    assert.ok(Array.isArray(result.bars));
    assert.ok(result.machine.cpus > 0);

    const svg = readFileSync(out.replace(/\.json$/, ".svg"), "utf8");
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.includes("wirecall tcp+msgpack"));
    assert.ok(existsSync(out.replace(/\.json$/, ".md")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
