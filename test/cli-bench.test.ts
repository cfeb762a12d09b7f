/** `wirecall bench` from a source checkout: runs benchmarks/run.mjs and passes its options through. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ROOT, children, envWith } from "./cli-support.js";
import { runToEnd } from "./support/run.js";

const dir = mkdtempSync(join(tmpdir(), "wirecall-cli-bench-"));
after(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("wirecall bench in a source checkout", () => {
  it("runs benchmarks/run.mjs with its options and prints where the results are", async () => {
    const out = join(dir, "bench", "run.json");
    const r = await runToEnd(process.execPath, [join(ROOT, "dist/cli/wirecall.js"), "bench", "--quick", "--transports", "tcp", "--serializers", "json", "--payloads", "add", "--peers", "floor", "--seconds", "0.1", "--warmup-calls", "100", "--out", out], { cwd: ROOT, env: envWith(), timeoutMs: 120_000, children });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /\[1\/2\] wirecall tcp\+json add: /);
    // One summary line per transport with its ratio to the floor; the full table in files beside the results.
    assert.match(r.stdout, /^ +tcp +[\d,]+\/s .*floor net\+json/m);
    assert.ok(r.stdout.includes(`results: ${out}`), r.stdout);
    assert.ok(existsSync(out), `${out} written`);
    if (!existsSync(join(ROOT, "benchmarks/node_modules/.package-lock.json"))) assert.match(r.stderr, /benchmark peers .* are not installed/);
  });
});
