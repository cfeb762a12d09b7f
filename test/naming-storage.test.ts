/**
 * A name server started with a storage file keeps its registrations across
 * a restart; each change is on disk before the call that made it returns;
 * the file is replaced atomically (no temporary files left); a corrupt or
 * hostile file is refused with NAMING_STORAGE_FAILED / NAMING_LIMIT.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { locateNS, startNameServer } from "../src/index.js";
import { fileStore } from "../naming/index.js";
import "../transports/tcp/index.js";
import { coded } from "./support/errors.js";

const KEY = "naming-storage-key";
const NS_FIXTURE = new URL("./fixtures/naming/ns-server.js", import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "wirecall-ns-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("name server storage", () => {
  it("a restart with the same storage file keeps registrations; each change is saved before its call returns", async () => {
    const file = join(dir, "ns.json");
    let ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY, storage: file });
    let client = await locateNS(ns.url, { authkey: KEY });
    try {
      await client.register("a.one", "tcp://127.0.0.1:1#one", { metadata: ["x", "y"] });
      await client.register("a.two", "ws://127.0.0.1:2/rpc#two");
      await client.register("leased", "tcp://127.0.0.1:3#l", { ttl: 60_000 });
      // On disk already, before any close.
      const onDisk = JSON.parse(readFileSync(file, "utf8")) as { names: [string][] };
      assert.deepEqual(onDisk.names.map((r) => r[0]).sort(), ["Pyro.NameServer", "a.one", "a.two", "leased"]);
      assert.equal(await client.remove("a.two"), 1);
      const afterRemove = JSON.parse(readFileSync(file, "utf8")) as { names: [string][] };
      assert.ok(!afterRemove.names.some((r) => r[0] === "a.two"));
      await client.setMetadata("a.one", ["z"]);
    } finally {
      await client.close();
      await ns.close();
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [], "no temporary file left");

    ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY, storage: file });
    client = await locateNS(ns.url, { authkey: KEY });
    try {
      assert.deepEqual(await client.lookup("a.one", { metadata: true }), { url: "tcp://127.0.0.1:1#one", metadata: ["z"] });
      assert.equal(await client.lookup("leased"), "tcp://127.0.0.1:3#l");
      await assert.rejects(client.lookup("a.two"), coded("NAME_NOT_FOUND"));
      assert.equal(await client.lookup("Pyro.NameServer"), ns.nsUrl, "the self-registration is the running server's, not the file's");
      assert.equal(await client.count(), 3);
    } finally {
      await client.close();
      await ns.close();
    }
  });

  it("leases past their end in the file are dropped on load", async () => {
    const file = join(dir, "leases.json");
    const now = Date.now();
    writeFileSync(file, JSON.stringify({ version: 1, names: [["old", "tcp://h:1#o", [], now - 1000], ["live", "tcp://h:1#l", ["t"], now + 60_000], ["forever", "tcp://h:1#f", [], null]] }));
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY, storage: fileStore(file) });
    try {
      assert.deepEqual(ns.registry.list().map(([n]) => n).sort(), ["Pyro.NameServer", "forever", "live"]);
    } finally {
      await ns.close();
    }
  });

  it("a corrupt or hostile storage file is refused with a code, naming the file", async () => {
    const cases: [string, string, string][] = [
      ["not-json.json", "{ nope", "NAMING_STORAGE_FAILED"],
      ["wrong-shape.json", JSON.stringify({ version: 2, names: [] }), "NAMING_STORAGE_FAILED"],
      ["bad-row.json", JSON.stringify({ version: 1, names: [["a"]] }), "NAMING_STORAGE_FAILED"],
      ["long-name.json", JSON.stringify({ version: 1, names: [["n".repeat(10_000), "tcp://h:1", [], null]] }), "NAMING_LIMIT"],
      ["bad-url.json", JSON.stringify({ version: 1, names: [["n", "PYRONAME:loop", [], null]] }), "INVALID_PARAMS"],
    ];
    for (const [name, text, code] of cases) {
      const file = join(dir, name);
      writeFileSync(file, text);
      await assert.rejects(startNameServer("tcp://127.0.0.1:0", { authkey: KEY, storage: file }), coded(code), name);
    }
    const many = join(dir, "many.json");
    writeFileSync(many, JSON.stringify({ version: 1, names: Array.from({ length: 30 }, (_, i) => [`n${i}`, "tcp://h:1", [], null]) }));
    await assert.rejects(startNameServer("tcp://127.0.0.1:0", { authkey: KEY, storage: many, limits: { maxNames: 10 } }), coded("NAMING_LIMIT"));
  });

  it("a storage file that cannot be written fails the change with NAMING_STORAGE_FAILED; the name server keeps serving", async () => {
    const file = join(dir, "no-such-dir", "ns.json");
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY, storage: file });
    const client = await locateNS(ns.url, { authkey: KEY });
    try {
      await assert.rejects(client.register("a", "tcp://h:1"), (e: unknown) => coded("NAMING_STORAGE_FAILED")(e) && /no-such-dir/.test((e as Error).message));
      await client.ping();
      assert.equal(await client.lookup("Pyro.NameServer"), ns.nsUrl);
    } finally {
      await client.close();
      await ns.close().catch(() => undefined);
    }
  });

  it("a name server SIGKILLed while saving restarts from a whole file holding every acknowledged change", async () => {
    const file = join(dir, "crash.json");
    const child = spawn(process.execPath, [NS_FIXTURE.pathname, JSON.stringify({ url: "tcp://127.0.0.1:0", authkey: KEY, storage: file })], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const acknowledged: string[] = [];
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the name server did not start within 30 s")), 30_000);
        createInterface({ input: child.stdout }).once("line", (l) => {
          clearTimeout(timer);
          resolve(l);
        });
      });
      const { url } = JSON.parse(line) as { url: string };
      const client = await locateNS(url, { authkey: KEY, reconnect: false });
      let n = 0;
      let killed = false;
      // Four writers back to back; the kill lands while saves are in flight.
      const writers = Array.from({ length: 4 }, async () => {
        while (!killed) {
          const name = `svc.${n++}`;
          try {
            await client.register(name, `tcp://127.0.0.1:1#${name}`, { metadata: ["m"] });
            acknowledged.push(name);
          } catch {
            return; // the connection died with the process
          }
          if (acknowledged.length === 150) {
            killed = true;
            child.kill("SIGKILL");
          }
        }
      });
      await Promise.all(writers);
      await exited;
      await client.close().catch(() => undefined);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    assert.ok(acknowledged.length >= 150);
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY, storage: file });
    try {
      const held = new Set(ns.registry.list().map(([n]) => n));
      const lost = acknowledged.filter((n) => !held.has(n));
      assert.deepEqual(lost, [], "every acknowledged registration survived the crash");
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(".crash.json.")), [], "a crashed writer's temporary file is gone after the restart");
    } finally {
      await ns.close();
    }
  });
});
