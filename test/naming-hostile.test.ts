/**
 * A hostile client against a name server in its own process: a flood of
 * registrations past the table's bound, over-long names and tag lists,
 * regexes built for catastrophic backtracking over names at their longest.
 * Each is refused with a code; an honest client calling alongside is served
 * throughout; the name server's memory stays bounded (RSS from /proc).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { RpcError, connect, locateNS } from "../src/index.js";
import { honestCaller, within } from "./support/hostile.js";
import "../transports/tcp/index.js";

const KEY = "naming-hostile-key";
const FIXTURE = new URL("./fixtures/naming/ns-server.js", import.meta.url);

function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(m);
  return Number(m[1]) * 1024;
}

describe("name server under a hostile client", () => {
  it("floods, oversized input and ReDoS patterns are refused with codes while an honest client is served", async () => {
    const maxNames = 2000;
    const child = spawn(process.execPath, [FIXTURE.pathname, JSON.stringify({ url: "tcp://127.0.0.1:0", authkey: KEY, limits: { maxNames } })], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const line = await within(
        new Promise<string>((resolve) => createInterface({ input: child.stdout }).once("line", resolve)),
        30_000,
        "the name server to start",
      );
      const { url } = JSON.parse(line) as { url: string };
      const honest = await connect(url, { authkey: KEY });
      const attacker = await locateNS(url, { authkey: KEY });
      const before = rss(child.pid as number);
      const calls = honestCaller(honest);
      const codes = new Map<string, number>();
      const note = (err: unknown) => {
        assert.ok(err instanceof RpcError, String(err));
        codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      };

      // 1. More names than the table holds, each as long as allowed, with a full tag list.
      const longName = (i: number) => `${String(i).padStart(8, "0")}${"a".repeat(500)}`;
      const tags = Array.from({ length: 32 }, (_, i) => `${i}`.padEnd(256, "t"));
      for (let batch = 0; batch < (maxNames + 500) / 100; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, (_, k) =>
            attacker.register(longName(batch * 100 + k), `tcp://127.0.0.1:1#${"u".repeat(1900)}`, { metadata: tags }).catch(note),
          ),
        );
      }
      assert.equal(await attacker.count(), maxNames);
      assert.ok((codes.get("NAMING_LIMIT") ?? 0) >= 500, JSON.stringify([...codes]));

      // 2. Oversized values: refused before they are stored.
      await attacker.register("x".repeat(100_000), "tcp://h:1").catch(note);
      await attacker.register("x", "tcp://h:1", { metadata: Array.from({ length: 10_000 }, String) }).catch(note);
      await attacker.list({ regex: "(a|a)*".repeat(1000) }).catch(note);

      // 3. Patterns that backtrack exponentially, over 2000 names of 508 characters.
      const t0 = performance.now();
      for (const regex of ["(a+)+$", "(a|aa)+$", "(a*)*b", "(\\d|\\w)+!", "(.*a){12}$"]) {
        await attacker.list({ regex }).then(
          () => undefined,
          (err: unknown) => note(err),
        );
      }
      const regexMs = performance.now() - t0;

      const { calls: made, failures, slowest } = await calls.stop();
      const after = rss(child.pid as number);
      assert.deepEqual(failures, [], "every honest call succeeded");
      assert.ok(made > 20, `the honest client made ${made} calls`);
      assert.ok(slowest < 10_000, `slowest honest call ${slowest} ms`);
      assert.ok(regexMs < 30_000, `five hostile regex lists took ${regexMs} ms`);
      // 2000 names at their bounds (~10 KB each with tags, ~60 MiB measured with V8 overhead) is the table's worst case.
      assert.ok(after - before < 150 * 1024 * 1024, `RSS grew by ${((after - before) / 1048576).toFixed(1)} MiB`);
      assert.ok((codes.get("NAMING_LIMIT") ?? 0) >= 503, JSON.stringify([...codes]));
      // Still serving names after all that.
      assert.equal(await attacker.lookup(longName(0)), `tcp://127.0.0.1:1#${"u".repeat(1900)}`);
      await honest.$close();
      await attacker.close();
    } finally {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  });
});
