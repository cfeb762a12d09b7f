/**
 * Interop with real Python processes: every Python that `pyenv versions`
 * lists runs `multiprocessing.connection.Client` against a wirecall server
 * and `Listener` for a wirecall client, with the same authkey and a wrong one.
 * Python <= 3.11 speaks the legacy HMAC-MD5 form, 3.12+ the {sha256} form.
 */
import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type Server } from "../src/index.js";

const fixtures = fileURLToPath(new URL("../../test/fixtures/tcp/", import.meta.url));
const authkey = "python-interop-secret";
const CHILD_TIMEOUT = 20_000;

interface Python {
  version: string;
  bin: string;
  /** Speaks the {sha256} form (3.12+); older ones only HMAC-MD5. */
  modern: boolean;
}

function findPythons(): Python[] {
  let root = process.env.PYENV_ROOT;
  try {
    root = execFileSync("pyenv", ["root"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    // no pyenv on PATH: fall back to PYENV_ROOT
  }
  if (!root || !existsSync(join(root, "versions"))) return [];
  const out: Python[] = [];
  for (const version of readdirSync(join(root, "versions"))) {
    const bin = join(root, "versions", version, "bin", "python");
    const m = /^(\d+)\.(\d+)/.exec(version);
    if (!m || !existsSync(bin)) continue;
    const [major, minor] = [Number(m[1]), Number(m[2])];
    out.push({ version, bin, modern: major > 3 || (major === 3 && minor >= 12) });
  }
  return out.sort((a, b) => a.version.localeCompare(b.version, undefined, { numeric: true }));
}

const pythons = findPythons();
const children = new Set<ChildProcess>();

interface Run {
  child: ChildProcess;
  /** Resolves with each stdout line in turn. */
  line(): Promise<string>;
  /** Resolves with the exit code (null when killed). */
  exit: Promise<number | null>;
  stderr(): string;
}

function run(bin: string, script: string, args: string[]): Run {
  const child = spawn(bin, [join(fixtures, script), ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: CHILD_TIMEOUT, killSignal: "SIGKILL" });
  children.add(child);
  let out = "";
  let err = "";
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    let nl: number;
    while ((nl = out.indexOf("\n")) >= 0) {
      const l = out.slice(0, nl);
      out = out.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    exit,
    stderr: () => err,
    line: () => {
      const l = lines.shift();
      if (l !== undefined) return Promise.resolve(l);
      return Promise.race([
        new Promise<string>((resolve) => waiting.push(resolve)),
        exit.then((code) => Promise.reject(new Error(`python exited (${code}) before printing a line: ${err}`))),
      ]);
    },
  };
}

function adder(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  return h;
}

after(() => {
  for (const c of children) c.kill("SIGKILL");
});

describe("tcp: Python interop", { concurrency: 4, timeout: 90_000 }, () => {
  let server: Server;
  let strict: Server;
  const rejected: RpcError[] = [];
  const strictRejected: RpcError[] = [];

  before(async () => {
    server = await serve(adder(), "tcp://127.0.0.1:0", { authkey, onHandshakeError: (e: RpcError) => rejected.push(e) });
    strict = await serve(adder(), "tcp://127.0.0.1:0", { authkey, refuseLegacyMd5: true, onHandshakeError: (e: RpcError) => strictRejected.push(e) });
  });
  after(async () => {
    await server?.close();
    await strict?.close();
  });

  it("finds Python 2.7, 3.11, 3.12 and 3.13 through pyenv", (t) => {
    if (pythons.length === 0) return t.skip("pyenv is not installed here");
    const have = pythons.map((p) => p.version);
    for (const want of ["2.7", "3.11", "3.12", "3.13"]) assert.ok(have.some((v) => v.startsWith(`${want}.`)), `python ${want} in ${have.join(", ")}`);
  });

  for (const py of pythons) {
    const port = (s: Server) => new URL(s.url).port;

    it(`Python ${py.version} Client -> wirecall server`, async () => {
      const r = run(py.bin, "py_client.py", [port(server), authkey]);
      const result = JSON.parse(await r.line()) as { hello: unknown; reply: unknown };
      assert.equal(await r.exit, 0, r.stderr());
      assert.deepEqual(result.hello, { wirecall: 1, serializer: "json" });
      assert.deepEqual(result.reply, [1, 1, 5]);
    });

    it(`Python ${py.version} Client with a wrong key: AuthenticationError there, AUTH_FAILED here`, async () => {
      const before = rejected.length;
      const r = run(py.bin, "py_client.py", [port(server), "wrong-key"]);
      assert.equal(await r.line(), "AUTH_FAILED");
      assert.equal(await r.exit, 3, r.stderr());
      // The server reports the failure once it has sent #FAILURE#, which is before Python reads it.
      assert.ok(rejected.length > before && rejected.every((e) => e.code === "AUTH_FAILED"));
    });

    it(`Python ${py.version} Listener <- wirecall client`, async () => {
      const r = run(py.bin, "py_listener.py", [authkey]);
      const { port: p } = JSON.parse(await r.line()) as { port: number };
      const proxy = await connect(`tcp://127.0.0.1:${p}`, { authkey, timeout: 10_000 });
      assert.equal(await proxy.add(2, 3), 5);
      await proxy.$close();
      const seen = JSON.parse(await r.line()) as { hello: unknown; call: unknown };
      assert.equal(await r.exit, 0, r.stderr());
      assert.deepEqual(seen.hello, { wirecall: 1, serializer: "json" });
      assert.deepEqual(seen.call, [0, 1, "add", [2, 3]]);
    });

    it(`Python ${py.version} Listener with a wrong key: AUTH_FAILED here, AuthenticationError there`, async () => {
      const r = run(py.bin, "py_listener.py", [authkey]);
      const { port: p } = JSON.parse(await r.line()) as { port: number };
      await assert.rejects(connect(`tcp://127.0.0.1:${p}`, { authkey: "wrong-key" }), { code: "AUTH_FAILED" });
      assert.equal(await r.line(), "AUTH_FAILED");
      assert.equal(await r.exit, 3, r.stderr());
    });

    it(`Python ${py.version} with refuseLegacyMd5: ${py.modern ? "accepted" : "refused"}`, async () => {
      const r = run(py.bin, "py_client.py", [port(strict), authkey]);
      const first = await r.line();
      if (py.modern) {
        assert.deepEqual((JSON.parse(first) as { reply: unknown }).reply, [1, 1, 5]);
        assert.equal(await r.exit, 0, r.stderr());
      } else {
        assert.equal(first, "AUTH_FAILED");
        assert.equal(await r.exit, 3);
        assert.ok(strictRejected.some((e) => e.code === "AUTH_FAILED"));
        // And as a client against that Python's own Listener.
        const l = run(py.bin, "py_listener.py", [authkey]);
        const { port: p } = JSON.parse(await l.line()) as { port: number };
        await assert.rejects(connect(`tcp://127.0.0.1:${p}`, { authkey, refuseLegacyMd5: true }), { code: "AUTH_FAILED" });
        await l.exit;
      }
    });
  }
});
