/**
 * Python's RPCHandler/RPCProxy recipe against wirecall, unchanged, on real
 * sockets with real Pythons (every pyenv version, 2.7 included), in each of
 * the four idioms and both directions: the recipe client (docs/python.md's
 * rpc_client.py) calls a wirecall tcp:// server, and a wirecall client with
 * `profile: "python"` calls the recipe server (rpc_server.py). Values,
 * exceptions (isinstance on the Python side, RemoteError here) and a wrong
 * authkey are checked.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RemoteError, RpcError, connect, kw, serve, type Server } from "../src/index.js";
import type { Idiom } from "../protocols/python/idioms.js";
import { findPythons, killAll, pool, runPython, startPython, type Finished, type Python } from "./python-procs.js";
// Registers the Python recipe: tcp:// servers answer recipe clients, `profile: "python"` calls recipe servers.
import "../protocols/python/index.js";
import { interopSkip } from "./support/interop.js";

const pythons = findPythons();
const IDIOMS: readonly Idiom[] = [1, 2, 3, 4];
const AUTHKEY = "recipe-secret";
const PARALLEL = 4;

class ZeroDivisionError extends Error {
  override name = "ZeroDivisionError";
}

/** The same functions rpc_server.py registers, served by wirecall. */
function recipeHandler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  h.register("describe", (a: unknown, b: unknown, z: unknown = 0) => ({ a, b, z }), { params: ["a", "b", "z?"] });
  h.register(function echo(value: unknown) {
    return value;
  });
  h.register(function divide(a: number, b: number) {
    if (b === 0) throw new ZeroDivisionError("division by zero");
    return a / b;
  });
  h.register(function fail(kind: string, message: string) {
    throw Object.assign(new Error(message), { name: kind });
  });
  return h;
}

/** What rpc_client.py prints when every call behaves. */
const CLIENT_OUTPUT = [
  "add 5",
  'describe {"a": 1, "b": 2, "z": 3}',
  'echo {"list": [1, 2.5, null, true], "text": "h\\u00e9llo"}',
  "raised ZeroDivisionError True",
  "raised ValueError True",
  "raised KeyError True",
  "raised AttributeError True",
].join("\n");

describe("the recipe client calls a wirecall server", { skip: interopSkip("the Python recipe interop tests", pythons.length === 0 && "no pyenv Pythons") }, () => {
  let server: Server;
  let port: string;
  const runs = new Map<string, Finished>();
  const wrongKey = new Map<string, Finished>();

  before(async () => {
    server = await serve(recipeHandler(), "tcp://127.0.0.1:0", { authkey: AUTHKEY });
    port = new URL(server.url).port;
    const jobs = pythons.flatMap((py) => IDIOMS.map((idiom) => ({ py, idiom })));
    const results = await pool(
      PARALLEL,
      [
        ...jobs.map(({ py, idiom }) => () => runPython(py.bin, "rpc_client.py", ["127.0.0.1", port, String(idiom)], { env: { RPC_AUTHKEY: AUTHKEY } })),
        ...pythons.map((py) => () => runPython(py.bin, "rpc_client.py", ["127.0.0.1", port, "2"], { env: { RPC_AUTHKEY: "not-the-key" } })),
      ],
    );
    jobs.forEach(({ py, idiom }, i) => runs.set(`${py.version}/${idiom}`, results[i] as Finished));
    pythons.forEach((py, i) => wrongKey.set(py.version, results[jobs.length + i] as Finished));
  });

  after(async () => {
    killAll();
    await server?.close();
  });

  for (const py of pythons) {
    for (const idiom of IDIOMS) {
      it(`Python ${py.version}, idiom ${idiom}: values and exceptions`, () => {
        const r = runs.get(`${py.version}/${idiom}`);
        assert.ok(r);
        assert.equal(r.stdout.trim(), CLIENT_OUTPUT, r.stderr);
        assert.equal(r.code, 0, r.stderr);
      });
    }
    it(`Python ${py.version}: a wrong authkey fails with AuthenticationError`, () => {
      const r = wrongKey.get(py.version);
      assert.ok(r);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /AuthenticationError/);
      assert.equal(r.stdout, "");
    });
  }

  it("keeps serving after refused clients", async () => {
    const py = pythons.at(-1) as Python;
    const r = await runPython(py.bin, "rpc_client.py", ["127.0.0.1", port, "3"], { env: { RPC_AUTHKEY: AUTHKEY } });
    assert.equal(r.stdout.trim(), CLIENT_OUTPUT, r.stderr);
  });
});

/** Echo values per idiom family; Python 2 turns ASCII bytes into text, so bytes here are not UTF-8. */
function echoCases(idiom: Idiom): [unknown, unknown][] {
  const common: [unknown, unknown][] = [
    [{ list: [1, 2.5, null, true], text: "h\u00e9llo \u{1f600}" }, { list: [1, 2.5, null, true], text: "h\u00e9llo \u{1f600}" }],
    [2n ** 70n, 2n ** 70n],
    [-(2 ** 40), -(2 ** 40)],
    [[], []],
  ];
  if (idiom === 1 || idiom === 4) return common;
  return [
    ...common,
    [new Uint8Array([0, 0xff, 0x80]), new Uint8Array([0, 0xff, 0x80])],
    [new Set([1, 2]), new Set([1, 2])],
    [new Map([[1, "x"]]), new Map([[1, "x"]])],
    [-(2n ** 100n), -(2n ** 100n)],
  ];
}

/** One recipe server in one idiom, called by a wirecall client; throws on the first wrong answer. */
async function callRecipeServer(py: Python, idiom: Idiom): Promise<void> {
  const srv = await startPython(py.bin, "rpc_server.py", ["0", String(idiom)], { RPC_AUTHKEY: AUTHKEY });
  try {
    const port = srv.firstLine.split(":").pop() as string;
    const url = `tcp://127.0.0.1:${port}?profile=python&idiom=${idiom}`;
    // First, so the server is also shown to survive a refused client.
    await assert.rejects(connect(url, { authkey: "not-the-key" }), (e: unknown) => e instanceof RpcError && e.code === "AUTH_FAILED");
    const proxy = await connect(url, { authkey: AUTHKEY, timeout: 10_000 });
    try {
      assert.equal(await proxy.add(2, 3), 5);
      assert.deepEqual(await proxy.describe(1, 2, kw({ z: 3 })), { a: 1, b: 2, z: 3 });
      for (const [sent, back] of echoCases(idiom)) assert.deepStrictEqual(await proxy.echo(sent), back);
      await assert.rejects(proxy.divide(1, 0), (e: unknown) => e instanceof RemoteError && e.name === "ZeroDivisionError" && e.code === "REMOTE_ERROR");
      await assert.rejects(proxy.fail("ValueError", "bad value"), (e: unknown) => e instanceof RemoteError && e.name === "ValueError" && e.message === "bad value");
      await assert.rejects(proxy.fail("KeyError", "k"), (e: unknown) => e instanceof RemoteError && e.name === "KeyError");
      await assert.rejects(proxy.no_such_function(), (e: unknown) => e instanceof RemoteError && e.name === "AttributeError");
      // Calls made at once go one at a time and each gets its own reply.
      assert.deepEqual(await Promise.all([proxy.add(1, 1), proxy.add(2, 2), proxy.add(3, 3)]), [2, 4, 6]);
    } finally {
      await proxy.$close();
    }
    await assert.rejects(proxy.add(1, 2), (e: unknown) => e instanceof RpcError && e.code === "CONNECTION_CLOSED");
  } finally {
    await srv.stop();
  }
}

describe("a wirecall client calls the recipe server", { skip: interopSkip("the Python recipe interop tests", pythons.length === 0 && "no pyenv Pythons") }, () => {
  const outcomes = new Map<string, unknown>();

  before(async () => {
    const jobs = pythons.flatMap((py) => IDIOMS.map((idiom) => ({ py, idiom })));
    await pool(
      PARALLEL,
      jobs.map(({ py, idiom }) => () => callRecipeServer(py, idiom).then(() => outcomes.set(`${py.version}/${idiom}`, "ok"), (err: unknown) => outcomes.set(`${py.version}/${idiom}`, err))),
    );
  });
  after(killAll);

  for (const py of pythons) {
    for (const idiom of IDIOMS) {
      it(`Python ${py.version}, idiom ${idiom}: values, exceptions as RemoteError, a wrong authkey`, () => {
        const outcome = outcomes.get(`${py.version}/${idiom}`);
        if (outcome !== "ok") throw outcome;
      });
    }
  }
});
