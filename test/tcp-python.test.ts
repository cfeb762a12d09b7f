/**
 * Interop with real Python processes: every Python that `pyenv versions`
 * lists runs `multiprocessing.connection.Client` against a wirecall server
 * and `Listener` for a wirecall client, with the same authkey and a wrong one.
 * Python <= 3.11 speaks the legacy HMAC-MD5 form, 3.12+ the {sha256} form.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type Server } from "../src/index.js";
import { findPythons, killAll, runPython, startPython, type Python } from "./python-procs.js";
// Registers the Python recipe: tcp:// servers answer recipe clients, `profile: "python"` calls recipe servers.
import "../protocols/python/index.js";
import { skipInterop } from "./support/interop.js";

const fixtures = fileURLToPath(new URL("../../test/fixtures/tcp/", import.meta.url));
const authkey = "python-interop-secret";

const pythons = findPythons();

/** Speaks the {sha256} form (3.12+); older ones only HMAC-MD5. */
function modern(py: Python): boolean {
  return py.major > 3 || (py.major === 3 && py.minor >= 12);
}

/** The first line a finished script printed. */
function firstLine(stdout: string): string {
  return stdout.split("\n", 1)[0] as string;
}

function adder(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  return h;
}

after(killAll);

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
    if (skipInterop(t, "the tcp Python interop tests", pythons.length === 0 && "pyenv is not installed here")) return;
    const have = pythons.map((p) => p.version);
    for (const want of ["2.7", "3.11", "3.12", "3.13"]) assert.ok(have.some((v) => v.startsWith(`${want}.`)), `python ${want} in ${have.join(", ")}`);
  });

  for (const py of pythons) {
    const port = (s: Server) => new URL(s.url).port;

    it(`Python ${py.version} Client -> wirecall server`, async () => {
      const r = await runPython(py.bin, `${fixtures}py_client.py`, [port(server), authkey]);
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(firstLine(r.stdout)) as { hello: unknown; reply: unknown };
      assert.deepEqual(result.hello, { wirecall: 1, serializer: "json" });
      assert.deepEqual(result.reply, [1, 1, 5]);
    });

    it(`Python ${py.version} Client with a wrong key: AuthenticationError there, AUTH_FAILED here`, async () => {
      const before = rejected.length;
      const r = await runPython(py.bin, `${fixtures}py_client.py`, [port(server), "wrong-key"]);
      assert.equal(firstLine(r.stdout), "AUTH_FAILED");
      assert.equal(r.code, 3, r.stderr);
      // The server reports the failure once it has sent #FAILURE#, which is before Python reads it.
      assert.ok(rejected.length > before && rejected.every((e) => e.code === "AUTH_FAILED"));
    });

    it(`Python ${py.version} Listener <- wirecall client`, async () => {
      const r = await startPython(py.bin, `${fixtures}py_listener.py`, [authkey]);
      const { port: p } = JSON.parse(r.firstLine) as { port: number };
      const proxy = await connect(`tcp://127.0.0.1:${p}`, { authkey, timeout: 10_000 });
      assert.equal(await proxy.add(2, 3), 5);
      await proxy.$close();
      const seen = JSON.parse(await r.nextLine()) as { hello: unknown; call: unknown };
      assert.equal(await r.exited, 0, r.stderr());
      // The client offers streams, references and call headers; this listener's answer does not take them, and plain calls go on.
      assert.deepEqual(seen.hello, { wirecall: 1, serializer: "json", refs: 1, meta: 1 });
      assert.deepEqual(seen.call, [0, 1, "add", [2, 3]]);
    });

    it(`Python ${py.version} Listener with a wrong key: AUTH_FAILED here, AuthenticationError there`, async () => {
      const r = await startPython(py.bin, `${fixtures}py_listener.py`, [authkey]);
      const { port: p } = JSON.parse(r.firstLine) as { port: number };
      await assert.rejects(connect(`tcp://127.0.0.1:${p}`, { authkey: "wrong-key" }), { code: "AUTH_FAILED" });
      assert.equal(await r.nextLine(), "AUTH_FAILED");
      assert.equal(await r.exited, 3, r.stderr());
    });

    it(`Python ${py.version} with refuseLegacyMd5: ${modern(py) ? "accepted" : "refused"}`, async () => {
      const r = await runPython(py.bin, `${fixtures}py_client.py`, [port(strict), authkey]);
      const first = firstLine(r.stdout);
      if (modern(py)) {
        assert.deepEqual((JSON.parse(first) as { reply: unknown }).reply, [1, 1, 5]);
        assert.equal(r.code, 0, r.stderr);
      } else {
        assert.equal(first, "AUTH_FAILED");
        assert.equal(r.code, 3);
        assert.ok(strictRejected.some((e) => e.code === "AUTH_FAILED"));
        // And as a client against that Python's own Listener.
        const l = await startPython(py.bin, `${fixtures}py_listener.py`, [authkey]);
        const { port: p } = JSON.parse(l.firstLine) as { port: number };
        await assert.rejects(connect(`tcp://127.0.0.1:${p}`, { authkey, refuseLegacyMd5: true }), { code: "AUTH_FAILED" });
        await l.exited;
      }
    });
  }
});
