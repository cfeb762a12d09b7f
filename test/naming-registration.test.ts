/**
 * The name server's client reaches `connect` and `serve` through a
 * registration (src/naming/register.ts into src/url-resolvers.ts), not an
 * import from the core. These tests check that the registration holds
 * where users import from: a Node program that imports only `wirecall/ws`,
 * and a page bundled from `import { connect } from "wirecall/ws"` by
 * esbuild with code splitting (the PYRONAME: code in a lazy chunk, the
 * registration kept by package.json "sideEffects"), run against a real
 * name server and a real server on loopback.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { RPCHandler, serve, startNameServer } from "../src/index.js";
import { root, splitPage } from "./support/page-bundle.js";
import { runToEnd } from "./support/run.js";
import "../transports/ws/index.js";


/** Run `node args` in `cwd`; resolves with its stdout, rejects past `ms` or on a non-zero exit. */
async function run(args: string[], cwd: string, ms: number): Promise<string> {
  const r = await runToEnd(process.execPath, args, { cwd, timeoutMs: ms });
  if (r.code !== 0) throw new Error(`node ${args.join(" ")} exited with ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** A name server and a greeter registered with it as "greeter" (tagged "greeting"), both on ws://. */
async function world(): Promise<{ nsUrl: string; close(): Promise<void> }> {
  const ns = await startNameServer("ws://127.0.0.1:0/ns");
  const handler = new RPCHandler();
  handler.registerInstance({ welcome: (who: string) => `hello ${who}` }, "greeter");
  const server = await serve(handler, "ws://127.0.0.1:0/rpc");
  await server.publish("greeter", { nameserver: ns.url, metadata: ["greeting"] });
  return {
    nsUrl: ns.url,
    async close() {
      await server.close();
      await ns.close();
    },
  };
}

describe("the name server's registration", () => {
  it("a Node program importing only wirecall/ws resolves PYRONAME:/PYROMETA: and publishes", async () => {
    const w = await world();
    try {
      // A child process, so that nothing this test file imported registers anything for it.
      const program = `
        import { RPCHandler, connect, locateNS, serve } from "wirecall/ws";
        const nsUrl = process.argv[1];
        const byName = await connect("PYRONAME:greeter@" + nsUrl);
        const byMeta = await connect("PYROMETA:greeting@" + nsUrl);
        const h = new RPCHandler();
        h.register(function twice(x) { return 2 * x; });
        const server = await serve(h, "ws://127.0.0.1:0/mine");
        await server.publish("mine", { nameserver: nsUrl, object: null });
        const mine = await connect("PYRONAME:mine@" + nsUrl);
        const ns = await locateNS(nsUrl);
        const out = [await byName.welcome("node"), await byMeta.welcome("meta"), await mine.twice(21)];
        await Promise.all([byName.$close(), byMeta.$close(), mine.$close()]);
        await server.close();
        out.push(Object.keys(await ns.list()).sort());
        await ns.close();
        console.log(JSON.stringify(out));
      `;
      const out = await run(["--input-type=module", "-e", program, w.nsUrl], root, 60_000);
      // "mine" was published, then removed by server.close().
      assert.deepEqual(JSON.parse(out), ["hello node", "hello meta", 42, ["Pyro.NameServer", "greeter"]]);
    } finally {
      await w.close();
    }
  });

  it("a bundled page (connect from wirecall/ws, code splitting) loads PYRONAME: from a lazy chunk and resolves", async () => {
    const page = `import { connect } from "wirecall/ws";
const api = await connect("PYRONAME:greeter@" + globalThis.NAMESERVER);
globalThis.RESULT = await api.welcome("page");
await api.$close();
`;
    const dir = mkdtempSync(join(tmpdir(), "wirecall-naming-bundle-"));
    try {
      const { eager, lazy } = await splitPage(page, dir, true);
      assert.ok(eager.includes("dist/src/naming/register.js"), `the registration was dropped from the page: ${eager.join(", ")}`);
      assert.ok(lazy.includes("dist/src/naming/resolve.js"), `PYRONAME: is in no lazy chunk: ${lazy.join(", ")}`);
      assert.ok(!eager.includes("dist/src/naming/resolve.js"), "PYRONAME: is in the page's first chunk");

      // Run the page in Node with `ws` as the page's global WebSocket.
      const w = await world();
      try {
        const ws = pathToFileURL(createRequire(import.meta.url).resolve("ws")).href;
        const runner = join(dir, "run.mjs");
        writeFileSync(
          runner,
          `const ws = await import(${JSON.stringify(ws)});
globalThis.WebSocket = ws.default.WebSocket ?? ws.default;
globalThis.NAMESERVER = process.argv[2];
await import(${JSON.stringify(pathToFileURL(join(dir, "stdin.js")).href)});
console.log(JSON.stringify(globalThis.RESULT));
`,
        );
        const out = await run([runner, w.nsUrl], dir, 60_000);
        assert.equal(JSON.parse(out), "hello page");
      } finally {
        await w.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
