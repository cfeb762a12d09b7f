/**
 * The design contract: URLs select the transport (schemes, port 0,
 * query-string options, secrets refused, a missing optional peer named).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import { RemoteError, RpcError, connect, serve } from "wirecall";
import {
  code,
  Probe,
  SECRET,
  KEY,
  makeHandler,
  portOf,
  tls,
} from "./support/contract.js";

// ================================================================ URLs

describe("contract: URLs select the transport", () => {
  const h = makeHandler(new Probe());
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "wirecall-contract-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("every scheme of the table serves on port 0 and server.url has the real port", async () => {
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ["mem://contract-named", {}, {}],
      ["mem://0", {}, {}],
      ["tcp://127.0.0.1:0", { authkey: KEY }, { authkey: KEY }],
      ["tls://127.0.0.1:0", { cert: tls().server.cert, key: tls().server.key }, { ca: tls().server.cert }],
      ["ws://127.0.0.1:0/rpc", {}, {}],
      ["wss://127.0.0.1:0/rpc", { cert: tls().server.cert, key: tls().server.key }, { ca: tls().server.cert }],
      ["zmq+tcp://127.0.0.1:0", {}, {}],
      [`zmq+ipc://${dir}/contract.sock`, {}, {}],
    ];
    for (const [listen, sopts, copts] of cases) {
      const s = await serve(h, listen, sopts);
      try {
        const url = new URL(s.url);
        const asked = new URL(listen);
        assert.equal(url.protocol, asked.protocol, listen);
        if (["tcp:", "tls:", "ws:", "wss:", "zmq+tcp:"].includes(asked.protocol)) {
          assert.ok(Number(url.port) > 0, `${listen} -> ${s.url}`);
          assert.equal(url.hostname, "127.0.0.1");
        }
        if (asked.protocol.startsWith("ws")) assert.equal(url.pathname, "/rpc");
        if (listen.startsWith("zmq+ipc:")) assert.equal(s.url, listen);
        if (listen === "mem://contract-named") assert.equal(s.url, listen);
        if (listen === "mem://0") assert.notEqual(s.url, listen);
        const p = await connect(s.url, copts);
        assert.equal(await p.add(2, 3), 5, listen);
        await p.$close();
      } finally {
        await s.close();
      }
    }
    const a = await serve(h, "mem://0");
    const b = await serve(h, "mem://0");
    assert.notEqual(a.url, b.url, "mem://0 picks a fresh name each time");
    await a.close();
    await b.close();
  });

  it("bad URLs are INVALID_URL; an unreachable endpoint is CONNECT_FAILED", async () => {
    await assert.rejects(connect("nosuch://127.0.0.1:1"), code("INVALID_URL"));
    await assert.rejects(connect("not a url"), code("INVALID_URL"));
    await assert.rejects(serve(h, "nosuch://127.0.0.1:0"), code("INVALID_URL"));
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen(0, "127.0.0.1", resolve));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    await assert.rejects(connect(`tcp://127.0.0.1:${port}`), code("CONNECT_FAILED"));
    await assert.rejects(connect(`ws://127.0.0.1:${port}/rpc`), code("CONNECT_FAILED"));
    await assert.rejects(connect("mem://contract-nobody-serves-this"), (e: unknown) => e instanceof RpcError && ["CONNECT_FAILED", "INVALID_URL"].includes(e.code));
  });

  // DESIGN.md/README: an authkey in the URL is refused. A password in the
  // userinfo is a secret in a URL as well (only XML-RPC uses it, for HTTP Basic auth, as Python's ServerProxy does).
  it("a password in the URL's userinfo is refused too", async () => {
    const s = await serve(h, "tcp://127.0.0.1:0", { authkey: KEY });
    try {
      const u = new URL(s.url);
      u.username = "user";
      u.password = SECRET;
      const err = await connect(u.href, { authkey: KEY }).then(
        async (p) => {
          await p.$close();
          return undefined;
        },
        (e: unknown) => e,
      );
      code("INVALID_URL")(err);
      assert.ok(!inspect(err, { depth: 20 }).includes(SECRET), "the refusal does not repeat the secret");
    } finally {
      await s.close();
    }
  });

  it("every transport has its subpath export", async () => {
    const subpaths: [string, string][] = [
      ["wirecall/tcp", "tcp"],
      ["wirecall/ws", "ws"],
      ["wirecall/zmq", "zmq+tcp"],
      ["wirecall/xmlrpc", "xmlrpc+http"],
    ];
    for (const [spec, scheme] of subpaths) {
      const mod = (await import(spec)) as { transport?: { schemes: readonly string[] } };
      assert.ok(mod.transport?.schemes.includes(scheme), `${spec} exports a transport for ${scheme}`);
    }
  });

  it("xmlrpc+http:// serves the same handler (README)", async () => {
    const s = await serve(h, "xmlrpc+http://127.0.0.1:0");
    try {
      assert.ok(portOf(s.url.replace(/^xmlrpc\+/, "")) > 0);
      const p = await connect(s.url);
      assert.equal(await p.add(2, 3), 5);
      assert.equal(await p.system.methodHelp("power"), "n to the m-th power");
      await assert.rejects(p.fail_zde(), (e: unknown) => e instanceof RemoteError && e.name === "ZeroDivisionError");
      await p.$close();
    } finally {
      await s.close();
    }
  });

  it("a zmq+ URL without the zeromq package is MISSING_DEPENDENCY naming the package", async () => {
    const fixture = fileURLToPath(new URL("../../test/fixtures/zmq/without-zeromq.mjs", import.meta.url));
    const { code: exit, stdout, stderr } = await runNode(fixture);
    assert.equal(exit, 0, stderr);
    const out = JSON.parse(stdout) as Record<string, { code: string; message: string }>;
    for (const name of ["connect", "serve"]) {
      assert.equal(out[name]?.code, "MISSING_DEPENDENCY");
      assert.match(out[name]?.message ?? "", /\bzeromq\b/);
    }
  });
});

function runNode(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (c) => resolve({ code: c, stdout, stderr }));
  });
}
