/** `wirecall ns`, usage errors and --help, as a user runs them (packed and installed: test/cli-support.ts). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AUTHKEY, cleanup, installed, installPackage, start, wirecall } from "./cli-support.js";

before(installPackage);
after(cleanup);

describe("wirecall ns", () => {
  it("runs a name server; serve --publish; list, lookup, register, remove, PYRONAME:", async () => {
    const storage = join(installed.dir, "names.json");
    let ns = start(["ns", "--url", "tcp://127.0.0.1:0", "--storage", storage]);
    const nsUrl = await ns.line(0);
    const at = new URL(nsUrl).host;
    const server = start(["serve", "api.js", "--url", "ws://127.0.0.1:0/api", "--publish", "example.api", "--publish", "example.greeter=greeter", "--ns", nsUrl]);
    const apiUrl = await server.line(0);
    try {
      const list = await wirecall(["ns", "list", "--url", nsUrl, "--prefix", "example."]);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout), { "example.api": apiUrl, "example.greeter": `${apiUrl}#greeter` });
      assert.deepEqual(await wirecall(["ns", "lookup", "example.api", "--url", at]), { code: 0, stdout: `${apiUrl}\n`, stderr: "" });
      assert.equal((await wirecall(["call", `PYRONAME:example.api@${at}`, "add", "1", "2"])).stdout, "3\n");
      // WIRECALL_NS is the default name server of the ns commands and of PYRONAME: without @.
      const env = { WIRECALL_AUTHKEY: AUTHKEY, WIRECALL_NS: nsUrl };
      assert.equal((await wirecall(["call", "PYRONAME:example.greeter", "hello", "Bo"], env)).stdout, '"hello Bo"\n');

      const reg = await wirecall(["ns", "register", "keep.me", "tcp://127.0.0.1:1", "--tag", "blue"], env);
      assert.equal(reg.code, 0, reg.stderr);
      const taken = await wirecall(["ns", "register", "keep.me", "tcp://127.0.0.1:2", "--safe"], env);
      assert.equal(taken.code, 1);
      assert.match(taken.stderr, /\[NAME_TAKEN\]/);
      const tagged = await wirecall(["ns", "list", "--tag", "blue", "--metadata"], env);
      assert.deepEqual(JSON.parse(tagged.stdout), { "keep.me": { url: "tcp://127.0.0.1:1", metadata: ["blue"] } });
      assert.deepEqual(await wirecall(["ns", "register", "gone.soon", "tcp://127.0.0.1:3"], env), { code: 0, stdout: "", stderr: "" });
      assert.equal((await wirecall(["ns", "remove", "--prefix", "gone."], env)).stdout, "1\n");
      const notFound = await wirecall(["ns", "lookup", "gone.soon"], env);
      assert.equal(notFound.code, 1);
      assert.match(notFound.stderr, /^wirecall: remote NamingError \[NAME_NOT_FOUND\]: .*\n$/);
      assert.equal((await wirecall(["ns", "ping"], env)).code, 0);
    } finally {
      server.child.kill("SIGTERM");
    }
    assert.equal(await server.exited, 0, server.stderr());
    // Closing the server removed its names.
    const afterClose = await wirecall(["ns", "list", "--url", nsUrl, "--prefix", "example."]);
    assert.deepEqual(JSON.parse(afterClose.stdout), {});

    // The storage file keeps registrations across a restart.
    ns.child.kill("SIGTERM");
    assert.equal(await ns.exited, 0, ns.stderr());
    ns = start(["ns", "--url", "tcp://127.0.0.1:0", "--storage", storage]);
    const again = await ns.line(0);
    try {
      assert.deepEqual(await wirecall(["ns", "lookup", "keep.me", "--url", again]), { code: 0, stdout: "tcp://127.0.0.1:1\n", stderr: "" });
    } finally {
      ns.child.kill("SIGTERM");
      assert.equal(await ns.exited, 0, ns.stderr());
    }
  });
});

describe("wirecall usage", () => {
  it("usage errors exit 2 with one line; every command has --help", async () => {
    const usage = [["bogus"], ["call", "tcp://127.0.0.1:1"], ["call", "tcp://127.0.0.1:1", "add", "--nope"], ["serve"], ["ls"], ["ns", "frobnicate"], ["call", "not a url", "x"]];
    const results = await Promise.all(usage.map((args) => wirecall(args)));
    results.forEach((r, i) => {
      const args = usage[i] as string[];
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.split("\n").length, 2, `one line: ${r.stderr}`);
    });
    const commands = ["serve", "call", "ls", "ns", "bench"];
    const helps = await Promise.all(commands.map((cmd) => wirecall([cmd, "--help"])));
    helps.forEach((r, i) => {
      const cmd = commands[i] as string;
      assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Usage: wirecall ${cmd}`));
      assert.match(r.stdout, /Exit codes:/);
    });
    const top = await wirecall(["--help"]);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /serve MODULE/);
  });
});
