/**
 * `connect("PYRO:obj@host:port")` against Python's own Pyro4 4.82 daemon
 * (test/fixtures/pyro4/greeting_daemon.py, HMAC key set), with each
 * serializer: args and kwargs, results, Python exceptions as RemoteErrors,
 * one-way by the daemon's metadata, a 1,000-item generator, values both
 * ways, timeouts, HMAC right, wrong and missing. And the wirecall client
 * against the wirecall daemon in every URL form.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RemoteError, kw, serve, connect, type AnyRemote } from "../src/index.js";
import { PyTuple, Pyro4RemoteError } from "../protocols/pyro4/index.js";
import { PYRO4_FIXTURES, PYTHON, pyro4Skip } from "./fixtures/pyro4/pyro4-python.js";
import { killAll, startPython, type Started } from "./python-procs.js";

const skip = pyro4Skip();
const KEY = "client s\u00e9cret";

describe("wirecall's Pyro4 client against Python's Pyro4 daemon", { skip }, () => {
  let daemon: Started;
  let uri = "";

  before(async () => {
    daemon = await startPython(PYTHON, `${PYRO4_FIXTURES}greeting_daemon.py`, [KEY]);
    uri = daemon.firstLine;
    assert.match(uri, /^PYRO:example\.greeting@127\.0\.0\.1:\d+$/);
  });
  after(async () => {
    await daemon?.stop();
    killAll();
  });

  for (const serializer of ["serpent", "json", "marshal"] as const) {
    it(`${serializer}: calls, kwargs, exceptions, one-way, a 1,000-item generator`, async () => {
      const p = await connect(uri, { authkey: KEY, serializer } as Record<string, unknown>);
      try {
        assert.match(String(await p.get_fortune("Ada")), /^Hello, Ada\. Here is your fortune message:\nBehold the warranty/);
        assert.deepEqual(await p.describe(1, kw({ c: 5 })), [1, 2, 5]);
        assert.deepEqual(await p.describe(kw({ a: "x" })), ["x", 2, 3]);

        await assert.rejects(p.divide(1, 0), (e: unknown) => {
          assert.ok(e instanceof RemoteError && e instanceof Pyro4RemoteError, String(e));
          assert.equal(e.name, "ZeroDivisionError");
          assert.equal(e.pythonClass, "builtins.ZeroDivisionError");
          assert.equal(e.message, "division by zero");
          assert.match(e.remoteTraceback ?? "", /Traceback[\s\S]*in divide[\s\S]*ZeroDivisionError: division by zero/);
          // The caller's own frames are appended to the stack, as for every wirecall call.
          assert.match(e.stack ?? "", /pyro4-client\.test/);
          return true;
        });
        await assert.rejects(p.lookup("nope"), { name: "KeyError", message: "nope" });
        await assert.rejects(p.no_such_method(), { name: "AttributeError" });

        // note is @Pyro4.oneway: the metadata says so, the client sends it without waiting for an answer.
        const text = `one-way via ${serializer}`;
        assert.equal(await p.note(text), undefined);
        assert.ok(((await p.notes_so_far()) as string[]).includes(text));
        await p.$notify("note", `${text} (notify)`);
        assert.ok(((await p.notes_so_far()) as string[]).includes(`${text} (notify)`));

        const stream = (await p.count(1000)) as AsyncIterable<number>;
        let n = 0;
        for await (const x of stream) {
          assert.equal(x, n);
          n++;
        }
        assert.equal(n, 1000);
        // break closes the stream on the daemon; the connection stays in step.
        for await (const x of (await p.count(1000)) as AsyncIterable<number>) if (x === 3) break;
        assert.equal(await p.echo("still in step"), "still in step");
      } finally {
        await p.$close();
      }
    });
  }

  it("serpent values both ways", async () => {
    const p = await connect(uri, { authkey: KEY });
    try {
      const cases: [unknown, string][] = [
        ["h\u00e9llo \u{1f600}", "str"],
        [new Uint8Array([0, 1, 255]), "bytes"],
        [2n ** 100n + 1n, "int"],
        [-(2n ** 70n), "int"],
        [42, "int"],
        [1.5, "float"],
        [new PyTuple([1, "a"]), "tuple"],
        [[1, [2]], "list"],
        [{ a: 1, b: [true, null] }, "dict"],
        [new Set([1, 2, 3]), "set"],
        [null, "NoneType"],
        [true, "bool"],
      ];
      for (const [v, pyType] of cases) {
        assert.equal(await p.type_of(v), pyType, `type of ${String(v)}`);
        const back = await p.echo(v);
        assert.deepStrictEqual(back, v instanceof PyTuple ? v.items : v);
      }
      assert.equal(await p.type_of(new Date(Date.UTC(2024, 0, 2))), "str"); // a Date goes as its ISO text
      const made = (await p.make_values()) as Record<string, unknown>;
      assert.deepStrictEqual(made, {
        datetime: "2024-05-17T13:45:30.123456",
        decimal: "3.14159265358979323846264338327950288",
        tuple: [1, "a"],
        bytes: new Uint8Array([0, 0x70, 0x79, 0xff]),
        set: new Set([1, 2]),
        big: 2n ** 100n,
        float: 0.1,
        none: null,
      });
    } finally {
      await p.$close();
    }
  });

  it("a timed-out call rejects with TIMEOUT; its late answer is dropped and the next call gets its own", async () => {
    const p = await connect(uri, { authkey: KEY });
    try {
      await assert.rejects(p.$call("sleep", [0.5], undefined, { timeout: 50 }), { code: "TIMEOUT" });
      assert.equal(await p.echo("after"), "after");
    } finally {
      await p.$close();
    }
    await assert.rejects(p.echo(1), { code: "CONNECTION_CLOSED" });
  });

  it("a wrong or missing HMAC key fails connect() with AUTH_FAILED; an unknown object with CONNECT_FAILED", async () => {
    await assert.rejects(connect(uri, { authkey: "wrong" }), { code: "AUTH_FAILED" });
    await assert.rejects(connect(uri, { authkey: false }), { code: "AUTH_FAILED" });
    await assert.rejects(connect(uri.replace("example.greeting", "nobody"), { authkey: KEY }), { code: "CONNECT_FAILED", message: /unknown object/ });
  });
});

describe("wirecall's Pyro4 client against wirecall's Pyro4 daemon", () => {
  it("PYRO:obj@host:port, pyro://host:port with dotted names, pyro://host:port#obj, and plain functions", async () => {
    const handler = new RPCHandler();
    handler.registerInstance({ welcome: (n: string) => `welcome ${n}` }, "greeter");
    handler.register(function add(x: number, y: number) {
      return x + y;
    });
    const server = await serve(handler, "pyro://127.0.0.1:0", { authkey: "k" } as Record<string, unknown>);
    const proxies: AnyRemote[] = [];
    try {
      const byUri = await connect(server.urlOf("greeter"), { authkey: "k" });
      const byDaemon = await connect(server.url, { authkey: "k" });
      const byFragment = await connect(`${server.url}#greeter`, { authkey: "k" });
      proxies.push(byUri, byDaemon, byFragment);
      assert.equal(await byUri.welcome("a"), "welcome a");
      assert.equal(await byDaemon.greeter.welcome("b"), "welcome b");
      assert.equal(await byFragment.welcome("c"), "welcome c");
      assert.equal(await byDaemon.functions.add(2, 3), 5);
      assert.deepEqual(await byDaemon.system.listMethods(), ["add", "greeter.welcome", "system.listMethods", "system.methodHelp", "system.methodSignature"]);
      await assert.rejects(byUri.nope(), { name: "AttributeError", code: "METHOD_NOT_FOUND" });
      await assert.rejects(connect(server.url, { authkey: "other" }), { code: "AUTH_FAILED" });
      // Options are declared: a framed transport's option, a typo or a bad value is refused, not dropped.
      await assert.rejects(connect(server.url, { authkey: "k", reconnect: true } as Record<string, unknown>), { code: "INVALID_OPTION" });
      await assert.rejects(connect(`${server.urlOf("greeter")}?serializer=pickle`, { authkey: "k" }), { code: "INVALID_OPTION" });
      await assert.rejects(serve(handler, "pyro://127.0.0.1:0", { authkey: "k", onewy: [] } as Record<string, unknown>), { code: "INVALID_OPTION", message: /onewy/ });
      await assert.rejects(serve(handler, "pyro://127.0.0.1:0", { authkey: "k", broadcast: true } as Record<string, unknown>), { code: "INVALID_OPTION", message: /no name server/ });
    } finally {
      for (const p of proxies) await p.$close();
      await server.close();
    }
  });
});
