/**
 * Name servers across the two systems, with Debian's Python Pyro4 4.82 and
 * the seed programs unchanged apart from addresses:
 * - the seed server registering in wirecall's name server (served on
 *   pyro://) and the seed client finding it through `Pyro4.locateNS()`,
 *   by UDP broadcast discovery to 127.0.0.1 (PYRO_BROADCAST_ADDRS);
 * - the seed server with Python's `python -m Pyro4.naming`, called from
 *   wirecall by `PYRONAME:`;
 * - a wirecall daemon registered in `python -m Pyro4.naming`, called by the
 *   seed client through `PYRONAME:`.
 */
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { RPCHandler, connect, kw, locateNS, serve, startNameServer } from "../src/index.js";
import { PYRO4_FIXTURES, PYTHON, pyro4Skip } from "./fixtures/pyro4/pyro4-python.js";
import { killAll, runPython, startPython } from "./python-procs.js";

const skip = pyro4Skip();
const KEY = "naming s\u00e9cret";

/** A port nothing listens on (bound and released), so Pyro4's direct NS lookup fails and it broadcasts. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function steps(stdout: string): Record<string, unknown> {
  return Object.fromEntries(stdout.trim().split("\n").map((l) => {
    const { step, value } = JSON.parse(l) as { step: string; value: unknown };
    return [step, value];
  }));
}

/** `python -m Pyro4.naming` (test/fixtures/pyro4/python_naming.py runs its main) on a free port, no broadcast server. */
async function pythonNameServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const started = await startPython(PYTHON, `${PYRO4_FIXTURES}python_naming.py`, ["-n", "127.0.0.1", "-p", "0", "-x", "-k", KEY], { PYTHONUNBUFFERED: "1" });
  let line = started.firstLine;
  for (let i = 0; i < 5 && !/NS running on/.test(line); i++) line = await started.nextLine();
  const m = /NS running on 127\.0\.0\.1:(\d+)/.exec(line);
  assert.ok(m, `python -m Pyro4.naming printed ${line}`);
  return { port: Number(m[1]), stop: () => started.stop() };
}

describe("Pyro4 name servers both ways", { skip }, () => {
  after(() => killAll());

  it("the seed server registers in wirecall's name server and the seed client finds it by Pyro4.locateNS() broadcast", async () => {
    const ns = await startNameServer("pyro://127.0.0.1:0", { authkey: KEY, broadcast: { port: 0 } } as Record<string, unknown>);
    const bcport = (ns as unknown as { broadcastPort: number }).broadcastPort;
    assert.ok(bcport > 0);
    const env = { PYRO_BROADCAST_ADDRS: "127.0.0.1", PYRO_NS_BCPORT: String(bcport), PYRO_NS_HOST: "127.0.0.1", PYRO_NS_PORT: String(await closedPort()) };
    const server = await startPython(PYTHON, `${PYRO4_FIXTURES}ns_greeting_daemon.py`, [KEY, "example.greeting"], env);
    try {
      assert.match(server.firstLine, /^PYRO:obj_[0-9a-f]+@127\.0\.0\.1:\d+$/);
      // wirecall's registry holds the URI the Python daemon registered.
      assert.equal(ns.registry.lookup("example.greeting").url, server.firstLine);
      const r = await runPython(PYTHON, `${PYRO4_FIXTURES}greeting_client.py`, ["PYRONAME:example.greeting", KEY, "serpent"], { env });
      assert.equal(r.code, 0, r.stderr);
      const s = steps(r.stdout);
      assert.match(String(s.fortune), /^Hello, Ada\. Here is your fortune message:\nBehold the warranty/);
      assert.deepEqual(s.kwargs, [1, 2, 5]);
      assert.equal((s.exception as string[])[0], "ZeroDivisionError");
      assert.ok((s.oneway as string[]).includes("sent one-way"));
      assert.equal(s.done, true);
      // A wirecall client reaches the same Python object by name through the same name server.
      const p = await connect(`PYRONAME:example.greeting`, { authkey: KEY, nameserver: ns.url } as Record<string, unknown>);
      assert.deepEqual(await p.describe(7, kw({ b: 8 })), [7, 8, 3]);
      await p.$close();
    } finally {
      await server.stop();
      await ns.close();
    }
  });

  it("the seed server with python -m Pyro4.naming, called from wirecall by PYRONAME:", async () => {
    const pyNs = await pythonNameServer();
    const env = { PYRO_NS_HOST: "127.0.0.1", PYRO_NS_PORT: String(pyNs.port) };
    const server = await startPython(PYTHON, `${PYRO4_FIXTURES}ns_greeting_daemon.py`, [KEY, "py.greeting"], env);
    try {
      const nameserver = `pyro://127.0.0.1:${pyNs.port}`;
      const p = await connect("PYRONAME:py.greeting", { authkey: KEY, nameserver } as Record<string, unknown>);
      assert.match(String(await p.get_fortune("Ada")), /^Hello, Ada\./);
      await assert.rejects(p.divide(1, 0), { name: "ZeroDivisionError" });
      await p.$close();
      // locateNS on Python's name server: lookup gives the URL text, list and count work.
      const ns = await locateNS(nameserver, { authkey: KEY });
      assert.equal(await ns.lookup("py.greeting"), server.firstLine);
      assert.deepEqual(Object.keys(await ns.list({ prefix: "py." })), ["py.greeting"]);
      assert.equal(await ns.count(), 2);
      await ns.close();
    } finally {
      await server.stop();
      await pyNs.stop();
    }
  });

  it("a wirecall daemon registered in python -m Pyro4.naming, called by the seed client via PYRONAME:", async () => {
    const pyNs = await pythonNameServer();
    const handler = new RPCHandler();
    const notes: string[] = [];
    handler.registerInstance(
      {
        get_fortune: (name: string) => `Hello, ${name}. Here is your fortune message:\nwirecall says hi.`,
        describe: (a: unknown, b: unknown = 2, c: unknown = 3) => [a, b, c],
        divide: (a: number, b: number) => {
          if (b === 0) throw Object.assign(new Error("division by zero"), { name: "ZeroDivisionError" });
          return a / b;
        },
        echo: (v: unknown) => v,
        note: (t: string) => void notes.push(t),
        notes_so_far: () => [...notes],
      },
      "example.greeting",
    );
    const daemon = await serve(handler, "pyro://127.0.0.1:0", { authkey: KEY, oneway: ["example.greeting.note"] } as Record<string, unknown>);
    try {
      const ns = await locateNS(`pyro://127.0.0.1:${pyNs.port}`, { authkey: KEY });
      await ns.register("wc.greeting", daemon.urlOf("example.greeting"));
      await ns.close();
      const env = { PYRO_NS_HOST: "127.0.0.1", PYRO_NS_PORT: String(pyNs.port) };
      const r = await runPython(PYTHON, `${PYRO4_FIXTURES}greeting_client.py`, ["PYRONAME:wc.greeting", KEY, "serpent"], { env });
      assert.equal(r.code, 0, r.stderr);
      const s = steps(r.stdout);
      assert.equal(s.fortune, "Hello, Ada. Here is your fortune message:\nwirecall says hi.");
      assert.deepEqual(s.kwargs, [1, 2, 5]);
      assert.equal((s.exception as string[])[0], "ZeroDivisionError");
      assert.ok((s.oneway as string[]).includes("sent one-way"));
      assert.equal(s.wide, true);
    } finally {
      await daemon.close();
      await pyNs.stop();
    }
  });
});
