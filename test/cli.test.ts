/**
 * The `wirecall` command line as a user runs it (packed, installed into a
 * fresh folder: test/cli-support.ts): serve a module on two URLs and call
 * it, kwargs, remote errors and exit codes, streams, ls, --help.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup, closedPort, installPackage, type Running, start, wirecall } from "./cli-support.js";

before(installPackage);
after(cleanup);

describe("wirecall serve and call", () => {
  let server: Running;
  let tcp = "";
  let ws = "";

  before(async () => {
    server = start(["serve", "api.js", "--url", "tcp://127.0.0.1:0", "--url", "ws://127.0.0.1:0/rpc"]);
    tcp = await server.line(0);
    ws = await server.line(1);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0, server.stderr());
  });

  it("serves one module on two URLs at once and prints each", async () => {
    assert.match(tcp, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.match(ws, /^ws:\/\/127\.0\.0\.1:\d+\/rpc$/);
    for (const url of [tcp, ws]) {
      const r = await wirecall(["call", url, "add", "2", "3"]);
      assert.deepEqual(r, { code: 0, stdout: "5\n", stderr: "" }, url);
    }
  });

  it("passes keyword arguments; arguments are JSON when JSON, else strings", async () => {
    const r = await wirecall(["call", ws, "describe", "1", "two", "--kw", 'z={"deep":[1,null]}']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { a: 1, b: "two", z: { deep: [1, null] } });
    // Past 2^53 a number goes as a BigInt, which JSON cannot carry: refused rather than rounded.
    const big = await wirecall(["call", tcp, "echo", "12345678901234567890"]);
    assert.equal(big.code, 1);
    assert.match(big.stderr, /^wirecall: SERIALIZE_ERROR: .*\n$/);
    const ok = await wirecall(["call", tcp, "echo", '"2"', "true", "--", "-1.5", "--kw"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), ["2", true, -1.5, "--kw"]);
  });

  it("reaches objects by dotted name and by URL#object", async () => {
    assert.equal((await wirecall(["call", tcp, "greeter.hello", "Ada"])).stdout, '"hello Ada"\n');
    assert.equal((await wirecall(["call", `${ws}#greeter`, "hello", "Ada"])).stdout, '"hello Ada"\n');
  });

  it("a remote error: name, code and message on stderr in one line, exit 1", async () => {
    const r = await wirecall(["call", tcp, "divide", "1", "0"]);
    assert.deepEqual(r, { code: 1, stdout: "", stderr: "wirecall: remote ZeroDivisionError [REMOTE_ERROR]: division by zero\n" });
    const missing = await wirecall(["call", tcp, "nope"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^wirecall: remote \w+ \[METHOD_NOT_FOUND\]: .*nope.*\n$/);
    const verbose = await wirecall(["call", tcp, "divide", "1", "0", "--verbose"]);
    assert.equal(verbose.code, 1);
    assert.ok(verbose.stderr.split("\n").length > 3, `--verbose shows the stack: ${verbose.stderr}`);
  });

  it("connect and auth failures exit 3 with one line", async () => {
    const port = await closedPort();
    const refused = await wirecall(["call", `tcp://127.0.0.1:${port}`, "add", "1", "2"]);
    assert.deepEqual(refused, { code: 3, stdout: "", stderr: `wirecall: cannot connect to tcp://127.0.0.1:${port}: ECONNREFUSED\n` });
    const noKey = await wirecall(["call", tcp, "add", "1", "2"], {});
    assert.equal(noKey.code, 3);
    assert.match(noKey.stderr, /^wirecall: AUTH_FAILED: .*\n$/);
    const wrongKey = await wirecall(["call", ws, "add", "1", "2"], { WIRECALL_AUTHKEY: "not-the-key" });
    assert.equal(wrongKey.code, 3, wrongKey.stderr);
  });

  it("a timeout exits 4", async () => {
    const r = await wirecall(["call", tcp, "slow", "5000", "--timeout", "50"]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^wirecall: TIMEOUT: /);
  });

  it("prints a stream item by item as items arrive", async () => {
    const stream = start(["call", tcp, "gated"]);
    // Item 1 is printed while the producer is still waiting for release().
    assert.equal(await stream.line(0), "1");
    const released = await wirecall(["call", tcp, "release"]);
    assert.equal(released.stdout, "true\n");
    assert.equal(await stream.exited, 0, stream.stderr());
    assert.deepEqual(stream.lines, ["1", "2", "3"]);
  });

  it("SIGINT while a stream prints exits 130", async () => {
    const stream = start(["call", tcp, "gated"]);
    assert.equal(await stream.line(0), "1");
    stream.child.kill("SIGINT");
    assert.equal(await stream.exited, 130, stream.stderr());
    // The server is still fine; the gate it left waiting is released.
    assert.equal((await wirecall(["call", tcp, "add", "1", "1"])).stdout, "2\n");
    await wirecall(["call", tcp, "release"]);
  });

  it("ls lists methods with signatures and help as a tree", async () => {
    const r = await wirecall(["ls", tcp]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.match(lines.find((l) => l.startsWith("add(")) ?? "", /^add\(x, y\)\s+Add two numbers\.$/);
    const g = lines.indexOf("greeter");
    assert.ok(g >= 0, r.stdout);
    assert.equal(lines[g + 1], "  hello(who)");
    assert.ok(lines.includes("describe(a, b, z?)"), r.stdout);
    assert.ok(!r.stdout.includes("NotServed") && !r.stdout.includes("system."), r.stdout);
    const json = await wirecall(["ls", `${ws}#greeter`, "--json"]);
    assert.deepEqual(JSON.parse(json.stdout), [{ name: "greeter.hello", signature: "greeter.hello(who)", help: "" }]);
  });
});
