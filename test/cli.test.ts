/**
 * The `wirecall` command line as a user runs it: the package is packed
 * (`npm pack`), installed into a fresh folder, and its installed bin is run
 * against modules in that folder. Real servers on 127.0.0.1 port 0, real
 * child processes; every child is killed in `after`.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { natsServerBin, startNatsServer } from "./support/nats-server.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/cli/", import.meta.url));
const AUTHKEY = "cli-test-key";

let dir = "";
let bin = "";
const children = new Set<ChildProcess>();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], cwd: string, timeout = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

/** The environment a command runs in: no inherited WIRECALL_* variables unless given. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.WIRECALL_AUTHKEY;
  delete env.WIRECALL_NS;
  return { ...env, ...extra };
}

/** Run the installed `wirecall` to completion. */
function wirecall(args: string[], extra: Record<string, string> = { WIRECALL_AUTHKEY: AUTHKEY }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: dir, env: envWith(extra), stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Running {
  child: ChildProcess;
  /** The lines printed on stdout so far. */
  lines: string[];
  stderr: () => string;
  /** Resolves with stdout's next line past `count` lines. */
  line: (n: number) => Promise<string>;
  /** Resolves once stderr contains `text`. */
  saw: (text: string) => Promise<void>;
  exited: Promise<number | null>;
}

/** Start a long-running `wirecall` (serve, ns). */
function start(args: string[], extra: Record<string, string> = { WIRECALL_AUTHKEY: AUTHKEY }): Running {
  const child = spawn(bin, args, { cwd: dir, env: envWith(extra), stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let err = "";
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on("data", (d: Buffer) => {
    out += d;
    wake();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d;
    wake();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      children.delete(child);
      wake();
      resolve(code);
    }),
  );
  let closed = false;
  void exited.then(() => (closed = true));
  const until = (ok: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stdout: ${out}; stderr: ${err}`)), 60_000);
      const check = (): void => {
        if (ok()) {
          clearTimeout(timer);
          resolve();
        } else if (closed) {
          clearTimeout(timer);
          reject(new Error(`wirecall ${args.join(" ")} exited before ${what}; stdout: ${out}; stderr: ${err}`));
        } else waiters.push(check);
      };
      check();
    });
  const lines = (): string[] => out.split("\n").slice(0, -1);
  return {
    child,
    get lines() {
      return lines();
    },
    stderr: () => err,
    line: async (n) => {
      await until(() => lines().length > n, `line ${n + 1} of stdout`);
      return lines()[n] as string;
    },
    saw: (text) => until(() => err.includes(text), JSON.stringify(text)),
    exited,
  };
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "wirecall-cli-"));
  const packDir = join(dir, "pack");
  mkdirSync(packDir);
  await sh("npm", ["pack", "--ignore-scripts", "--pack-destination", packDir], ROOT);
  const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith(".tgz")) as string);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "cli-user", private: true, type: "module" }));
  // The npm cache first; the registry only for what it lacks. zeromq, an optional peer, stays out.
  await sh("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], dir);
  bin = join(dir, "node_modules", ".bin", "wirecall");
  copyFileSync(join(FIXTURES, "api.js"), join(dir, "api.js"));
  copyFileSync(join(FIXTURES, "handler.js"), join(dir, "handler.js"));
});

after(() => {
  for (const c of children) c.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

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

  it("usage errors exit 2; every command has --help", async () => {
    for (const args of [["bogus"], ["call", tcp], ["call", tcp, "add", "--nope"], ["serve"], ["ls"], ["ns", "frobnicate"], ["call", "not a url", "x"]]) {
      const r = await wirecall(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.split("\n").length, 2, `one line: ${r.stderr}`);
    }
    for (const cmd of ["serve", "call", "ls", "ns", "bench"]) {
      const r = await wirecall([cmd, "--help"]);
      assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Usage: wirecall ${cmd}`));
      assert.match(r.stdout, /Exit codes:/);
    }
    const top = await wirecall(["--help"]);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /serve MODULE/);
  });
});

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
      await sh("npm", ["install", "@nats-io/transport-node", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], dir);
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

describe("wirecall bench in a source checkout", () => {
  it("runs benchmarks/run.mjs with its options and prints where the results are", async () => {
    const out = join(dir, "bench", "run.json");
    const r = await new Promise<Result>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, "dist/cli/wirecall.js"), "bench", "--quick", "--transports", "tcp", "--serializers", "json", "--payloads", "add", "--peers", "floor", "--seconds", "0.1", "--warmup-calls", "100", "--out", out], { cwd: ROOT, env: envWith(), stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
      children.add(child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d));
      child.stderr.on("data", (d: Buffer) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => {
        children.delete(child);
        resolve({ code, stdout, stderr });
      });
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /\[1\/2\] wirecall tcp\+json add: /);
    // One summary line per transport with its ratio to the floor; the full table in files beside the results.
    assert.match(r.stdout, /^ +tcp +[\d,]+\/s .*floor net\+json/m);
    assert.ok(r.stdout.includes(`results: ${out}`), r.stdout);
    assert.ok(existsSync(out), `${out} written`);
    if (!existsSync(join(ROOT, "benchmarks/node_modules/.package-lock.json"))) assert.match(r.stderr, /benchmark peers .* are not installed/);
    const help = await wirecall(["bench", "--help"]);
    assert.match(help.stdout, /Usage: wirecall bench/);
  });
});

describe("wirecall ns", () => {
  it("runs a name server; serve --publish; list, lookup, register, remove, PYRONAME:", async () => {
    const storage = join(dir, "names.json");
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
