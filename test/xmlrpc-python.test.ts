/**
 * Interop with real Python processes, both ways:
 * - Python's `xmlrpc.client.ServerProxy` (and `xmlrpclib` on 2.7) calling a
 *   wirecall server: test/fixtures/xmlrpc/client_check.py;
 * - wirecall's proxy calling Python's threaded `SimpleXMLRPCServer`:
 *   test/fixtures/xmlrpc/python_server.py.
 * Interpreters come from pyenv (see findPython); a missing version is skipped
 * by name, but at least one Python 3 must be there.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { RemoteError, RpcError, connect, kw, serve, type AnyRemote, type Server } from "../src/index.js";
import { multicall } from "../transports/xmlrpc/index.js";
import { interopHandler, pattern, run, script, startWithPort, fixtures, type PortChild } from "./fixtures/xmlrpc/support.js";
import { findPython } from "./python-procs.js";
import { interopSkip } from "./support/interop.js";

const VERSIONS = ["3.11", "3.12", "3.13", "2.7"] as const;
const EXPECTED_CHECKS = [
  "add", "alias", "instance", "introspection", "binary_upload", "binary_download", "binary_echo",
  "datetime", "none", "values", "fault", "multicall", "concurrency",
];
const PY_TIMEOUT = 60_000;
const MiB = 1 << 20;

const available = VERSIONS.map((v) => ({ version: v, python: findPython(v) }));

it("at least one Python 3 interpreter is available for the interop tests", () => {
  assert.ok(available.some((a) => a.python && !a.version.startsWith("2")), `none of ${VERSIONS.join(", ")} found under pyenv`);
});

function parseChecks(stdout: string): Map<string, { ok: boolean; detail: unknown }> {
  const out = new Map<string, { ok: boolean; detail: unknown }>();
  for (const line of stdout.split("\n")) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { check: string; ok: boolean; detail: unknown };
    out.set(r.check, { ok: r.ok, detail: r.detail });
  }
  return out;
}

async function pythonClient(python: string, url: string, extra: string[] = []): Promise<void> {
  const r = await run(python, [script("client_check.py"), url, ...extra], PY_TIMEOUT);
  assert.equal(r.signal, null, `Python was killed (timeout?): ${r.stderr}`);
  const checks = parseChecks(r.stdout);
  for (const name of EXPECTED_CHECKS) {
    const c = checks.get(name);
    assert.ok(c, `check '${name}' did not run; stderr: ${r.stderr}`);
    assert.ok(c.ok, `check '${name}' failed:\n${String(c.detail)}`);
  }
  assert.equal(r.code, 0, r.stderr);
}

describe("Python clients -> wirecall XML-RPC server", { concurrency: true }, () => {
  let server: Server;
  before(async () => {
    server = await serve(interopHandler(), "xmlrpc+http://127.0.0.1:0");
  });
  after(() => server.close());

  for (const { version, python } of available) {
    const lib = version.startsWith("2") ? "xmlrpclib" : "xmlrpc.client";
    it(`${lib} under Python ${version}`, { skip: interopSkip("the XML-RPC Python interop tests", !python && `Python ${version} is not installed`) }, async () => {
      await pythonClient(python as string, server.url.replace(/^xmlrpc\+/, ""));
    });
  }
});

describe("Python client over HTTPS -> wirecall XML-RPC server", () => {
  const python = available.find((a) => a.python && a.version === "3.13")?.python ?? available.find((a) => a.python && !a.version.startsWith("2"))?.python;
  let server: Server;
  before(async () => {
    server = await serve(interopHandler(), "xmlrpc+https://127.0.0.1:0/api/xmlrpc", {
      cert: readFileSync(`${fixtures}/cert.pem`),
      key: readFileSync(`${fixtures}/key.pem`),
    });
  });
  after(() => server.close());

  it("xmlrpc.client with a CA file, every check", { skip: interopSkip("the XML-RPC Python interop tests", !python && "no Python 3") }, async () => {
    assert.match(server.url, /^xmlrpc\+https:\/\/127\.0\.0\.1:\d+\/api\/xmlrpc$/);
    await pythonClient(python as string, server.url.replace(/^xmlrpc\+/, ""), [`${fixtures}/cert.pem`]);
  });
});

for (const { version, python } of available) {
  describe(`wirecall client -> Python ${version} SimpleXMLRPCServer (ThreadingMixIn)`, { skip: interopSkip("the XML-RPC Python interop tests", !python && `Python ${version} is not installed`) }, () => {
    let py: PortChild;
    let proxy: AnyRemote;
    before(async () => {
      py = await startWithPort(python as string, [script("python_server.py")], 20_000);
      proxy = await connect(`xmlrpc+http://127.0.0.1:${py.port}/RPC2`, { timeout: 30_000 });
    });
    after(async () => {
      await proxy?.$close();
      await py?.stop();
    });

    it("calls functions, an alias and an instance's methods", async () => {
      assert.equal(await proxy.add(2, 3), 5);
      assert.equal(await proxy.add("wire", "call"), "wirecall");
      assert.equal(await proxy.get_power(2, 10), 1024);
      assert.equal(await proxy.welcome("Ann"), "Hello, Ann!");
      assert.equal(await proxy.mul(6, 7), 42);
    });

    it("introspection", async () => {
      const names = (await proxy.system.listMethods()) as string[];
      for (const n of ["add", "get_power", "welcome", "mul", "system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall"]) {
        assert.ok(names.includes(n), `${n} missing from ${names.join(", ")}`);
      }
      assert.ok(!names.includes("_secret"));
      assert.equal(await proxy.system.methodHelp("add"), "Add two numbers.");
      assert.equal(await proxy.system.methodSignature("add"), "signatures not supported");
    });

    it("uploads and downloads 1 MiB of binary", async () => {
      const data = randomBytes(MiB);
      assert.equal(await proxy.sha256(new Uint8Array(data)), createHash("sha256").update(data).digest("hex"));
      const got = (await proxy.blob(MiB)) as Uint8Array;
      assert.ok(got instanceof Uint8Array);
      assert.deepEqual(got, pattern(MiB));
    });

    it("dates and None", async () => {
      const d = (await proxy.add_days(new Date(Date.UTC(2024, 1, 28, 23, 59, 59)), 1)) as Date;
      assert.ok(d instanceof Date);
      assert.equal(d.toISOString(), "2024-02-29T23:59:59.000Z");
      assert.equal(await proxy.echo(null), null);
      assert.equal(await proxy.nothing(), null);
      assert.deepEqual(await proxy.echo([1, null, { k: null, s: "é ✓ <&>" }, true, 2.5]), [1, null, { k: null, s: "é ✓ <&>" }, true, 2.5]);
    });

    it("a Python exception becomes a RemoteError with its name, message and faultCode", async () => {
      const err = (await proxy.fail("boom").then(() => assert.fail("no error"), (e: unknown) => e)) as RemoteError & { faultCode: number };
      assert.ok(err instanceof RemoteError);
      assert.equal(err.name, "ValueError");
      assert.equal(err.message, "boom");
      assert.equal(err.code, "REMOTE_ERROR");
      assert.equal(err.faultCode, 1);
      const missing = (await proxy.no_such_method().then(() => assert.fail("no error"), (e: unknown) => e)) as RemoteError & { faultCode: number };
      assert.equal(missing.name, "Exception");
      assert.equal(missing.faultCode, 1);
    });

    it("keyword arguments are refused on the client with INVALID_PARAMS", async () => {
      await assert.rejects(proxy.add(1, kw({ y: 2 })), (e: RpcError) => e.code === "INVALID_PARAMS");
    });

    it("system.multicall, raw and through multicall()", async () => {
      const raw = (await proxy.system.multicall([
        { methodName: "add", params: [1, 2] },
        { methodName: "fail", params: ["x"] },
      ])) as unknown[];
      assert.deepEqual(raw[0], [3]);
      assert.equal((raw[1] as { faultCode: number }).faultCode, 1);
      const settled = await multicall(proxy, [["add", 1, 2], ["fail", "x"], ["get_power", 2, 3]]);
      assert.deepEqual(settled[0], { status: "fulfilled", value: 3 });
      assert.equal(settled[1]?.status, "rejected");
      const reason = (settled[1] as PromiseRejectedResult).reason as RemoteError;
      assert.equal(reason.name, "ValueError");
      assert.equal(reason.message, "x");
      assert.deepEqual(settled[2], { status: "fulfilled", value: 8 });
    });

    it("20 concurrent calls are in flight at once (the server's barrier needs all 20)", async () => {
      const key = `node-${version}-${process.pid}`;
      const results = await Promise.all(Array.from({ length: 20 }, () => proxy.barrier(key, 20)));
      assert.deepEqual(results, Array(20).fill(20));
    });
  });
}
