/**
 * The name server on `pyro://` answers Python's unchanged Pyro4 (Debian's
 * python3-pyro4): `Pyro4.locateNS(host, port)`, register with the URI
 * object a Pyro4 daemon returns, lookup (URI objects back), list with every
 * filter, safe, set_metadata, remove, and Python's own `PYRONAME:` and
 * `PYROMETA:` proxies resolved through it to a Python daemon. In the other
 * direction, wirecall's `PYRONAME:` resolves to a `PYRO:` URL.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { RPCHandler, connect, serve, startNameServer } from "../src/index.js";
import { PyroURI } from "../protocols/pyro4/index.js";
import "../transports/tcp/index.js";
import { PYTHON, pyro4Skip } from "./fixtures/pyro4/pyro4-python.js";
import { killAll, runPython } from "./python-procs.js";

const KEY = "naming-pyro4-key";
const SCRIPT = fileURLToPath(new URL("../../test/fixtures/naming/pyro4_ns_client.py", import.meta.url));
const skip = pyro4Skip();
const pyroUris = (u: string): unknown => (/^PYRO:/i.test(u) ? PyroURI.parse(u) : u);

describe("the name server for Python's Pyro4", { skip }, () => {
  after(killAll);

  it("Pyro4.locateNS, register(uri object), lookup, list, safe, remove, PYRONAME: and PYROMETA: from Python", async () => {
    const ns = await startNameServer("pyro://127.0.0.1:0", { authkey: KEY, uriValue: pyroUris });
    try {
      const { hostname, port } = new URL(ns.url);
      const run = await runPython(PYTHON, SCRIPT, [hostname, port, KEY]);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout) as Record<string, unknown>;
      assert.equal(out.ping, null);
      assert.equal(out.count0, 1);
      assert.equal(out.self, `PYRO:Pyro.NameServer@127.0.0.1:${port}`);
      assert.equal(out.self_is_uri, true, "lookup returns a Pyro4 URI object");
      assert.match(String(out.lookup), /^PYRO:py\.greeter@127\.0\.0\.1:\d+$/);
      assert.deepEqual(out.lookup_meta, [out.lookup, ["greeter", "python"]]);
      assert.deepEqual(out.list_prefix, { "example.greeter": out.lookup, "example.other": "PYRO:other@127.0.0.1:1" });
      assert.deepEqual(out.list_regex, ["example.greeter"]);
      assert.deepEqual(out.list_all, ["example.greeter"]);
      assert.deepEqual(out.list_any, ["example.greeter"]);
      assert.deepEqual(out.other_meta, ["x"]);
      assert.match(JSON.stringify(out.safe), /name already registered: example\.other/);
      assert.match(JSON.stringify(out.unknown), /unknown name: nobody/);
      assert.equal(out.pyroname, "python greets Ada");
      assert.equal(out.pyrometa, "python greets Bo");
      assert.equal(out.removed, 2);
      assert.equal(out.count1, 1);
    } finally {
      await ns.close();
    }
  });

  it("wirecall's PYRONAME: resolves to a PYRO: URL and calls the daemon there", async () => {
    const ns = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
    const handler = new RPCHandler();
    handler.registerInstance({ hello: (n: string) => `pyro daemon greets ${n}` }, "example.greeting");
    const daemon = await serve(handler, "pyro://127.0.0.1:0", { authkey: KEY });
    try {
      const uri = daemon.urlOf("example.greeting");
      assert.match(uri, /^PYRO:example\.greeting@127\.0\.0\.1:\d+$/);
      await ns.registry.register("greeting", uri);
      const p = await connect(`PYRONAME:greeting@${new URL(ns.url).host}`, { authkey: KEY });
      assert.equal(await p.hello("Cy"), "pyro daemon greets Cy");
      await p.$close();
    } finally {
      await daemon.close();
      await ns.close();
    }
  });
});
