/**
 * `wirecall serve` as a user runs it (packed and installed:
 * test/cli-support.ts): SIGTERM drains, a default-exported RPCHandler,
 * missing optional peers, a port in use, nats://, bench without benchmarks.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { natsServerBin, startNatsServer } from "./support/nats-server.js";
import { cleanup, installed, installPackage, sh, start, wirecall } from "./cli-support.js";

before(installPackage);
after(cleanup);

describe("wirecall serve, more", () => {
  it("SIGTERM lets a call in flight finish, then exits 0", async () => {
    const server = start(["serve", "api.js"]);
    const url = await server.line(0);
    const call = wirecall(["call", url, "slow", "1500"]);
    await server.saw("slow: started");
    server.child.kill("SIGTERM");
    const r = await call;
    assert.deepEqual(r, { code: 0, stdout: '"done"\n', stderr: "" });
    assert.equal(await server.exited, 0, server.stderr());
  });

  it("serves a default-exported RPCHandler as is", async () => {
    const server = start(["serve", "handler.js", "--url", "ws://127.0.0.1:0"]);
    try {
      const url = await server.line(0);
      assert.equal((await wirecall(["call", url, "version"])).stdout, '"handler-module"\n');
    } finally {
      server.child.kill("SIGTERM");
      assert.equal(await server.exited, 0);
    }
  });

  it("a missing optional peer (zeromq) exits 5 naming the package", async () => {
    const r = await wirecall(["serve", "api.js", "--url", "zmq+tcp://127.0.0.1:0"]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /^wirecall: MISSING_DEPENDENCY: .*npm install zeromq\n$/);
    const c = await wirecall(["call", "zmq+tcp://127.0.0.1:1", "add"]);
    assert.equal(c.code, 5, c.stderr);
  });

  it("a port in use: cannot serve on it, exit 3", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await wirecall(["serve", "api.js", "--url", "ws://127.0.0.1:0", "--url", `tcp://127.0.0.1:${port}`]);
      assert.deepEqual(r, { code: 3, stdout: "", stderr: `wirecall: cannot serve on tcp://127.0.0.1:${port}: EADDRINUSE\n` });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it("nats:// without the NATS client exits 5 naming it; with it installed, serves nats:// and tcp:// at once", { skip: natsServerBin() ? false : "nats-server is not installed" }, async () => {
    const nats = await startNatsServer();
    try {
      const url = `${nats.url}/cli.api`;
      const missing = await wirecall(["serve", "api.js", "--url", url], {});
      assert.equal(missing.code, 5, missing.stderr);
      assert.match(missing.stderr, /^wirecall: MISSING_DEPENDENCY: .*npm install @nats-io\/transport-node\n$/);
      // What the error told the user to do (the npm cache first).
      await sh("npm", ["install", "@nats-io/transport-node", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], installed.dir);
      // WIRECALL_AUTHKEY is refused by nats:// (NATS has its own security), so this server runs without it.
      const server = start(["serve", "api.js", "--url", url, "--url", "tcp://127.0.0.1:0"], {});
      try {
        assert.equal(await server.line(0), url);
        const tcp = await server.line(1);
        assert.deepEqual(await wirecall(["call", url, "add", "20", "22"], {}), { code: 0, stdout: "42\n", stderr: "" });
        assert.deepEqual(await wirecall(["call", tcp, "add", "1", "1"], {}), { code: 0, stdout: "2\n", stderr: "" });
      } finally {
        server.child.kill("SIGTERM");
        assert.equal(await server.exited, 0, server.stderr());
      }
    } finally {
      await nats.kill();
    }
  });

  it("bench says where the benchmarks are when the package has none", async () => {
    const r = await wirecall(["bench", "--quick"]);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /benchmarks are not in this installation/);
  });
});
