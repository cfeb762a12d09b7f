/**
 * The design contract (DESIGN.md), black-box through the public package
 * API, over every framed transport (mem, tcp, tls, ws, zmq): values,
 * kwargs, instances, errors, introspection, context, calls both ways,
 * concurrency, payloads, timeouts, cancellation, close and drain, hostile
 * names, serializers. Shared helpers: test/support/contract.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import {
  RemoteError,
  RpcError,
  connect,
  kw,
  listSerializers,
  registerError,
  registerSerializer,
  serve,
  unregisterError,
  type AnyRemote,
  type Remote,
  type Server,
} from "wirecall";
import {
  BOUND,
  within,
  code,
  invalidParam,
  Probe,
  token,
  assertNoPollution,
  type Api,
  Greeter,
  QuotaError,
  BareError,
  SECRET,
  makeHandler,
  customCalls,
  contractBin,
  TARGETS,
  withoutKey,
} from "./support/contract.js";

// ---------------------------------------------------------------- typing (compile time only)

/** Never run: `tsc` checks that `connect<Api>` accepts the DESIGN.md calls and rejects wrong ones. */
async function typeChecks(url: string): Promise<void> {
  const proxy: Remote<Api> = await connect<Api>(url, { authkey: "peekaboo", serializer: "msgpack" });
  const five: number = await proxy.add(2, 3);
  const d: { a: number; b: number; z: number } = await proxy.describe(1, 2, kw({ z: 3 }));
  const names: string[] = await proxy.system.listMethods();
  const w: string = await proxy.greeter.welcome("Ada");
  const r: unknown = await proxy.$call("add", [1, 2], { x: 1 }, { timeout: 1, signal: AbortSignal.abort() });
  const later: Promise<number> = proxy.later(1);
  const laterKw: number = await proxy.later(kw({ x: 1 }));
  void [later, laterKw];
  await proxy.$notify("add", 1, 2);
  // @ts-expect-error: add takes numbers
  await proxy.add("2", 3);
  // @ts-expect-error: not part of Api
  await proxy.nope();
  // @ts-expect-error: add resolves to a number
  const s: string = await proxy.add(1, 2);
  await proxy[Symbol.asyncDispose]();
  await proxy.$close();
  const loose: AnyRemote = await connect(url);
  await loose.anything.goes(1, kw({ a: 1 }));
  void [five, d, names, w, r, s];
}
void typeChecks;

// ================================================================ per transport

for (const t of TARGETS) {
  describe(`contract over ${t.name}`, () => {
    const probe = new Probe();
    let server: Server;
    const opened: { $close(): Promise<void> }[] = [];
    const open = async (extra: Record<string, unknown> = {}, url?: string): Promise<AnyRemote> => {
      const p = await connect(url ?? server.url, { ...t.client(), ...extra });
      opened.push(p);
      return p;
    };

    before(async () => {
      server = await serve(makeHandler(probe), t.listen, t.server());
    });
    after(async () => {
      for (const p of opened) await p.$close().catch(() => {});
      await server?.close();
      assertNoPollution();
    });

    it("runs the DESIGN.md Public API snippet; server.url has the real port", async () => {
      const url = new URL(server.url);
      assert.equal(url.protocol, new URL(t.listen).protocol);
      if (t.name !== "mem") assert.ok(Number(url.port) > 0, `server.url ${server.url} has no real port`);
      if (t.name === "ws") assert.equal(url.pathname, "/rpc");
      const proxy = await connect<Api>(server.url, { ...t.client(), serializer: "msgpack" });
      opened.push(proxy);
      assert.equal(await proxy.add(2, 3), 5);
      assert.equal(await proxy.get_power(2, 10), 1024);
      assert.deepEqual(await proxy.describe(1, 2, kw({ z: 3 })), { a: 1, b: 2, z: 3 });
      assert.equal(await proxy.greeter.welcome("Ada"), "Welcome, Ada!");
      const names = await proxy.system.listMethods();
      for (const n of ["add", "get_power", "describe", "greeter.welcome", "math.square"]) assert.ok(names.includes(n), `${n} in listMethods`);
      const loose = proxy as unknown as AnyRemote;
      assert.equal(await loose.math.square(7), 49);
      await proxy.$close();
    });

    it("$call, $notify, `then` not forwarded, Symbol.asyncDispose, $close", async () => {
      const proxy = await open();
      assert.equal(await proxy.$call("add", [2, 3]), 5);
      assert.deepEqual(await proxy.$call("describe", [1], { b: 2, z: 3 }), { a: 1, b: 2, z: 3 });
      assert.equal(await proxy.$call("add", [1, 1], undefined, { timeout: BOUND }), 2);

      const tok = token();
      await proxy.$notify("log", tok, "one-way");
      assert.equal(await probe.wait(`log:${tok}`), "one-way");
      const tokKw = token();
      await proxy.$notify("log_kw", tokKw, kw({ value: "by name" }));
      assert.equal(await probe.wait(`log:${tokKw}`), "by name");

      assert.equal(Reflect.get(proxy, "then"), undefined);
      const awaited = await within((async () => await proxy)(), BOUND, "await proxy");
      assert.equal(awaited, proxy);
      assert.equal(await proxy.$call("then"), "then-called", "a method named then is still reachable with $call");

      let disposed: AnyRemote | undefined;
      {
        await using p = await connect(server.url, t.client());
        disposed = p;
        assert.equal(await p.add(1, 2), 3);
      }
      await assert.rejects(disposed.add(1, 1), code("CONNECTION_CLOSED"));

      const held = token();
      const pending = proxy.$call("slow", [held]);
      await probe.wait(`start:${held}`);
      await proxy.$close();
      await assert.rejects(within(pending, BOUND, "the pending call"), code("CONNECTION_CLOSED"));
      probe.hit(`release:${held}`);
      await assert.rejects(proxy.add(1, 2), code("CONNECTION_CLOSED"));
      await assert.rejects(proxy.$call("add", [1, 2]), code("CONNECTION_CLOSED"));
      await assert.rejects(proxy.greeter.welcome("x"), code("CONNECTION_CLOSED"));
      await assert.rejects(proxy.$notify("log", token(), 1), code("CONNECTION_CLOSED"));
      await proxy.$close(); // idempotent

      if (t.name !== "mem") {
        const reconnecting = await open({ reconnect: true });
        assert.equal(await reconnecting.add(1, 1), 2);
        await reconnecting.$close();
        await assert.rejects(within(reconnecting.add(1, 2), BOUND, "a call after $close with reconnect on"), code("CONNECTION_CLOSED"));
      }
    });

    it("per-call and per-proxy timeout and signal: clear RpcErrors; the handler sees its AbortSignal abort", async () => {
      const proxy = await open();
      let tok = token();
      await assert.rejects(within(proxy.$call("slow", [tok], undefined, { timeout: 250 }), BOUND, "a timeout"), code("TIMEOUT"));
      assert.equal(await probe.wait(`start:${tok}`), true, "the handler got an AbortSignal");
      assert.equal(await probe.wait(`abort:${tok}`), true, "the server was told to cancel");

      tok = token();
      await assert.rejects(within(proxy.$with({ timeout: 250 }).slow(tok), BOUND, "a timeout"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);

      const timed = await open({ timeout: 250 });
      tok = token();
      await assert.rejects(within(timed.slow(tok), BOUND, "a timeout"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);
      assert.equal(await timed.$call("add", [1, 2], undefined, { timeout: BOUND }), 3);

      const ac = new AbortController();
      tok = token();
      const cancelled = proxy.$call("slow", [tok], undefined, { signal: ac.signal });
      await probe.wait(`start:${tok}`);
      ac.abort();
      await assert.rejects(within(cancelled, BOUND, "a cancel"), code("CANCELLED"));
      assert.equal(await probe.wait(`abort:${tok}`), true);

      await assert.rejects(proxy.$call("add", [1, 2], undefined, { signal: AbortSignal.abort() }), code("CANCELLED"));

      const pac = new AbortController();
      const guarded = await open({ signal: pac.signal });
      tok = token();
      const viaProxy = guarded.slow(tok);
      await probe.wait(`start:${tok}`);
      pac.abort();
      await assert.rejects(within(viaProxy, BOUND, "a cancel"), code("CANCELLED"));
      await probe.wait(`abort:${tok}`);

      // Per-call options override only what they name; the defaults stay.
      const unused = new AbortController();
      tok = token();
      await assert.rejects(within(timed.$call("slow", [tok], undefined, { signal: unused.signal }), BOUND, "the proxy's default timeout"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);
      tok = token();
      await assert.rejects(within(proxy.$with({ timeout: 250 }).$call("slow", [tok], undefined, { signal: unused.signal }), BOUND, "$with's default timeout"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);

      assert.equal(await proxy.add(20, 22), 42, "the connection survives timeouts and cancels");
    });

    it("kwargs bind like Python; unknown, duplicated and missing names are INVALID_PARAMS naming the parameter", async () => {
      for (const serializer of ["json", "msgpack"]) {
        const proxy = await open({ serializer });
        assert.deepEqual(await proxy.describe(1, 2, kw({ z: 3 })), { a: 1, b: 2, z: 3 });
        assert.deepEqual(await proxy.$call("describe", [], { b: 2, a: 1 }), { a: 1, b: 2, z: 0 });
        assert.deepEqual(await proxy.bind_check(1, kw({ third: 3, second: 2 })), [1, 2, 3]);
        await assert.rejects(proxy.bind_check(1, kw({ unknown_kw: 1, second: 2 })), invalidParam("unknown_kw"));
        await assert.rejects(proxy.bind_check(1, 2, kw({ first: 1 })), invalidParam("first"));
        await assert.rejects(proxy.bind_check(1), invalidParam("second"));
        await assert.rejects(proxy.bind_check(kw({ second: 2 })), invalidParam("first"));
        await assert.rejects(proxy.bind_check(1, 2, 3, 4), code("INVALID_PARAMS"));
        // names declared at registration
        assert.deepEqual(await proxy.declared(kw({ p2: "b", p1: "a" })), ["a", "b"]);
        await assert.rejects(proxy.declared(kw({ p1: 1, p3: 1 })), invalidParam("p3"));
        await assert.rejects(proxy.declared(kw({ p2: 1 })), invalidParam("p1"));
        // instance methods and rest parameters
        assert.equal(await proxy.greeter.welcome(kw({ punctuation: "?", name: "Ada" })), "Welcome, Ada?");
        assert.deepEqual(await proxy.gather(1, 2, 3), [1, [2, 3]]);
        // parameters named like Object.prototype members bind only from the call
        await assert.rejects(proxy.weird(), invalidParam("toString"));
        assert.deepEqual(await proxy.weird(kw({ toString: 1, constructor: 2 })), ["number", "number"]);
        // kwargs named like Object.prototype members are unknown names, and pollute nothing
        for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "prototype"]) {
          const kwargs = JSON.parse(`{"a": 1, "b": 2, ${JSON.stringify(name)}: {"polluted": "yes"}}`) as Record<string, unknown>;
          await assert.rejects(proxy.$call("describe", [], kwargs), code("INVALID_PARAMS"), `kwarg ${name}`);
        }
        assertNoPollution();
      }
    });

    it("registerInstance exposes own and inherited methods, never Object.prototype's; `_` names are private", async () => {
      const proxy = await open();
      const names = (await proxy.system.listMethods()) as string[];
      for (const n of ["greeter.welcome", "greeter.inherited", "greeter.own", "lit.hello"]) assert.ok(names.includes(n), `${n} listed`);
      const objectNames = new Set([...Object.getOwnPropertyNames(Object.prototype), "prototype"]);
      for (const n of names) {
        for (const part of n.split(".")) {
          assert.ok(!part.startsWith("_"), `${n} is private`);
          assert.ok(!objectNames.has(part), `${n} comes from Object.prototype`);
        }
      }
      assert.equal(await proxy.greeter.inherited(), "inherited");
      assert.equal(await proxy.greeter.own(), "own");
      assert.equal(await proxy.lit.hello(), "hi");
      for (const n of ["greeter._secret", "greeter._baseSecret", "_secret", "greeter.__secret", "greeter.count"]) {
        await assert.rejects(proxy.$call(n, []), code("METHOD_NOT_FOUND"), n);
      }
    });

    it("nothing reachable from a request touches __proto__, constructor or prototype", async () => {
      const hostile = [
        "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf",
        "__defineGetter__", "__lookupGetter__", "constructor.constructor", "__proto__.toString",
        "greeter.constructor", "greeter.__proto__", "greeter.__proto__.x", "greeter.__proto__.welcome",
        "greeter.prototype", "greeter.constructor.name", "greeter.toString", "greeter.hasOwnProperty",
        "greeter.welcome.constructor", "greeter.welcome.call", "greeter.welcome.apply", "greeter.welcome.bind",
        "greeter.inherited.constructor", "add.call", "add.constructor", "add.prototype", "add.__proto__",
        "lit.toString", "lit.constructor", "lit.__proto__", "lit.hello.constructor",
        "system.constructor", "system.__proto__", "system.listMethods.constructor", "math.constructor", "math.__proto__",
      ];
      for (const serializer of ["json", "msgpack", "superjson"]) {
        const proxy = await open({ serializer });
        for (const name of hostile) {
          await assert.rejects(proxy.$call(name, ["return globalThis"]), code("METHOD_NOT_FOUND"), `${name} (${serializer})`);
        }
        for (const name of ["", ".", "greeter.", ".add", "greeter..welcome"]) {
          await assert.rejects(proxy.$call(name, []), (e: unknown) => e instanceof RpcError && ["METHOD_NOT_FOUND", "PROTOCOL_ERROR"].includes(e.code), `name ${JSON.stringify(name)}`);
        }
        // Hostile data is only data: echoed or refused, never merged into a prototype.
        const hostileValue = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"x": 1}}, "ok": 1}') as unknown;
        await proxy.echo(hostileValue).catch((e: unknown) => assert.ok(e instanceof RpcError, inspect(e)));
        await proxy.$call("echo", [], JSON.parse('{"__proto__": {"polluted": "yes"}}') as Record<string, unknown>).catch((e: unknown) => assert.ok(e instanceof RpcError));
        assert.equal(await proxy.add(1, 1), 2);
        assertNoPollution();
      }
      assert.deepEqual(
        Object.getOwnPropertyNames(Greeter.prototype).sort(),
        ["_secret", "constructor", "welcome"],
        "Greeter.prototype untouched",
      );
    });

    it("introspection is on by default (methodHelp from doc) and off by option", async () => {
      const proxy = await open();
      assert.equal(await proxy.system.methodHelp("power"), "n to the m-th power");
      await proxy.system.methodSignature("power");
      assert.ok(((await proxy.system.listMethods()) as string[]).includes("power"));
      const quiet = await serve(makeHandler(probe, { introspection: false }), t.listen, t.server());
      try {
        const q = await connect(quiet.url, t.client());
        try {
          for (const m of ["system.listMethods", "system.methodHelp", "system.methodSignature"]) {
            await assert.rejects(q.$call(m, m === "system.listMethods" ? [] : ["power"]), code("METHOD_NOT_FOUND"), m);
          }
          assert.equal(await q.add(1, 2), 3);
        } finally {
          await q.$close();
        }
      } finally {
        await quiet.close();
      }
    });

    it("remote errors: RemoteError with the remote name, message, own code, data and cause; registerError gives instanceof", async () => {
      registerError(QuotaError);
      try {
        for (const serializer of ["json", "msgpack", "superjson"]) {
          const proxy = await open({ serializer });
          const e1 = (await proxy.fail_code().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e1 instanceof RemoteError && e1 instanceof RpcError && e1 instanceof Error, inspect(e1));
          assert.equal(e1.name, "RangeError");
          assert.equal(e1.message, "division by zero");
          assert.equal(e1.code, "EDIVZERO");
          assert.deepEqual(e1.data, { a: 1, list: [1, 2] });
          assert.equal((e1 as RemoteError & { errno?: number }).errno, 28, "other own properties kept (README)");

          const e2 = (await proxy.fail_plain().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e2 instanceof RemoteError);
          assert.equal(e2.name, "TypeError");
          assert.equal(e2.message, "not a number");
          assert.equal(e2.code, "REMOTE_ERROR");

          const e3 = (await proxy.fail_zde().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e3 instanceof RemoteError);
          assert.equal(e3.name, "ZeroDivisionError");

          const e4 = (await proxy.fail_cause().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e4 instanceof RemoteError);
          assert.equal(e4.message, "outer");
          const cause = e4.cause as { name: string; message: string; code: string };
          assert.ok(cause, "cause kept");
          assert.equal(cause.name, "TypeError");
          assert.equal(cause.message, "inner");
          assert.equal(cause.code, "EINNER");

          const e5 = await proxy.fail_quota().catch((e: unknown) => e);
          assert.ok(e5 instanceof QuotaError, inspect(e5));
          assert.equal(e5.message, "quota exceeded");
          assert.equal((e5.cause as Error).message, "disk 97% full");

          const e6 = (await proxy.fail_rpc().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e6 instanceof RemoteError, "a handler's RpcError comes back as a RemoteError");
          assert.equal(e6.code, "CUSTOM_CODE");
          assert.deepEqual(e6.data, { x: 1 });

          for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "prototype", "valueOf", "Object", "Function"]) {
            const e = (await proxy.fail_named(name).catch((x: unknown) => x)) as RemoteError;
            assert.ok(e instanceof RemoteError, `error named ${name}: ${inspect(e)}`);
            assert.equal(e.name, name);
            assert.equal(e.message, "hostile");
          }
          await assert.rejects(proxy.nope(), code("METHOD_NOT_FOUND"));
          assertNoPollution();
        }
      } finally {
        unregisterError("QuotaError");
      }
    });

    it("remote errors: registerError(MyError) works for a plain `class MyError extends Error {}`; a thrown non-Error is a RemoteError", async () => {
      const proxy = await open();
      const unregistered = (await proxy.fail_bare().catch((e: unknown) => e)) as RemoteError;
      assert.ok(unregistered instanceof RemoteError && !(unregistered instanceof BareError));
      assert.equal(unregistered.name, "BareError", "the remote class name");
      registerError(BareError);
      try {
        const bare = await proxy.fail_bare().catch((e: unknown) => e);
        assert.ok(bare instanceof BareError, `registerError(BareError) -> instanceof: ${inspect(bare)}`);
        assert.equal(bare.message, "bare");
      } finally {
        unregisterError("BareError");
      }
      const str = await proxy.fail_string().catch((e: unknown) => e);
      assert.ok(str instanceof RemoteError, inspect(str));
      assert.equal(str.code, "REMOTE_ERROR");
    });

    it("serializers: the server accepts every registered one; json default; superjson and msgpack values; custom ones", async () => {
      const names = listSerializers();
      for (const n of ["json", "superjson", "msgpack", "contract-bin", "contract-text", "contract-bytes"]) assert.ok(names.includes(n), `${n} registered`);
      for (const serializer of names) {
        const p = await open({ serializer });
        assert.deepEqual(await p.echo({ a: [1, "x", null, true], b: { c: 1.5 } }), { a: [1, "x", null, true], b: { c: 1.5 } }, serializer);
        assert.equal(await p.add(2, 3), 5);
        await p.$close();
      }

      // json is the default: bytes travel as base64 text, dates as ISO strings.
      const plain = await open();
      assert.equal(await plain.echo(new Uint8Array([1, 2, 3])), "AQID");
      assert.equal(await plain.echo(new Date(0)), "1970-01-01T00:00:00.000Z");
      await assert.rejects(plain.echo(10n), code("SERIALIZE_ERROR"));
      await assert.rejects(plain.big(), code("SERIALIZE_ERROR"));
      assert.equal(await plain.add(1, 1), 2, "the connection survives serialize errors");

      const sj = await open({ serializer: "superjson" });
      const v = (await sj.echo({
        date: new Date(1234),
        big: 2n ** 64n,
        map: new Map<string, number>([["k", 1]]),
        set: new Set(["a"]),
        re: /a+b/gi,
        undef: undefined,
        url: new URL("https://example.com/x?y=1"),
        list: [undefined, 1],
      })) as Record<string, unknown>;
      assert.ok(v.date instanceof Date && v.date.getTime() === 1234);
      assert.equal(v.big, 2n ** 64n);
      assert.ok(v.map instanceof Map && v.map.get("k") === 1);
      assert.ok(v.set instanceof Set && v.set.has("a"));
      assert.ok(v.re instanceof RegExp && v.re.source === "a+b" && v.re.flags === "gi");
      assert.ok("undef" in v && v.undef === undefined);
      assert.ok(v.url instanceof URL && v.url.href === "https://example.com/x?y=1");
      assert.deepEqual(v.list, [undefined, 1]);

      const mp = await open({ serializer: "msgpack" });
      const b = (await mp.echo(new Uint8Array([0, 255, 1]))) as Uint8Array;
      assert.ok(b instanceof Uint8Array, "msgpack keeps Uint8Array");
      assert.deepEqual([...b], [0, 255, 1]);
      const large = (await mp.bytes(70_000)) as Uint8Array;
      assert.ok(large instanceof Uint8Array && large.length === 70_000 && large[69_999] === 69_999 % 256);

      const before = { ...customCalls };
      const cb = await open({ serializer: "contract-bin" });
      assert.deepEqual(await cb.describe(1, 2, kw({ z: 3 })), { a: 1, b: 2, z: 3 });
      await assert.rejects(cb.fail_zde(), (e: unknown) => e instanceof RemoteError && e.name === "ZeroDivisionError");
      assert.ok(customCalls.encode >= before.encode + 4 && customCalls.decode >= before.decode + 4, "the custom serializer was used on both ends");

      // registered after the server started
      registerSerializer({ ...contractBin, name: `contract-late-${t.name}` });
      const late = await open({ serializer: `contract-late-${t.name}` });
      assert.equal(await late.add(40, 2), 42);
    });

    it("query-string options (?serializer=msgpack&timeout=5000); explicit options win", async () => {
      const u = new URL(server.url);
      u.searchParams.set("serializer", "msgpack");
      u.searchParams.set("timeout", "5000");
      const q = await open({}, u.href);
      assert.ok((await q.echo(new Uint8Array([1, 2]))) instanceof Uint8Array, "serializer=msgpack from the query");
      const explicit = await open({ serializer: "json" }, u.href);
      assert.equal(await explicit.echo(new Uint8Array([1, 2, 3])), "AQID", "the explicit option wins");

      const tu = new URL(server.url);
      tu.searchParams.set("timeout", "200");
      const timed = await open({}, tu.href);
      const tok = token();
      await assert.rejects(within(timed.slow(tok), BOUND, "a timeout from the query"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);
    });

    it("server.close() stops accepting, drains in-flight calls, then closes", async () => {
      const s = await serve(makeHandler(probe), t.listen, t.server());
      const p = await connect(s.url, t.client());
      try {
        const tok = token();
        const call = p.$call("slow", [tok]);
        await probe.wait(`start:${tok}`);
        const closing = s.close();
        await assert.rejects(connect(s.url, { ...t.client(), handshakeTimeout: 1000 }), (e: unknown) => e instanceof RpcError, "no new connections");
        probe.hit(`release:${tok}`);
        assert.equal(await within(call, BOUND, "the in-flight call"), "released", "the in-flight call finished");
        await within(closing, BOUND, "server.close()");
      } finally {
        await p.$close();
        await s.close();
      }
    });

    if (t.auth) {
      it("bad input: wrong or missing authkey is AUTH_FAILED; unknown and private names; everyone else keeps being served", async () => {
        const good = await open();
        const tok = token();
        const inflight = good.$call("slow", [tok]);
        await probe.wait(`start:${tok}`);
        await assert.rejects(connect(server.url, { ...t.client(), authkey: "wrong" }), code("AUTH_FAILED"));
        await assert.rejects(connect(server.url, withoutKey(t.client())), code("AUTH_FAILED"));
        await assert.rejects(good.$call("nope", []), code("METHOD_NOT_FOUND"));
        await assert.rejects(good.$call("greeter._secret", []), code("METHOD_NOT_FOUND"));
        probe.hit(`release:${tok}`);
        assert.equal(await within(inflight, BOUND, "the in-flight call"), "released", "nothing the server held was lost");
        const again = await open();
        assert.equal(await again.add(1, 1), 2);
      });

      it("the authkey may come from WIRECALL_AUTHKEY", async () => {
        const saved = process.env.WIRECALL_AUTHKEY;
        process.env.WIRECALL_AUTHKEY = SECRET;
        try {
          const s = await serve(makeHandler(probe), t.listen, withoutKey(t.server()));
          try {
            const p = await connect(s.url, withoutKey(t.client()));
            assert.equal(await p.add(1, 2), 3, "both keys from the environment");
            await p.$close();
            const explicit = await connect(s.url, { ...withoutKey(t.client()), authkey: SECRET });
            assert.equal(await explicit.add(1, 2), 3);
            await explicit.$close();
            await assert.rejects(connect(s.url, { ...withoutKey(t.client()), authkey: "not-the-env-key" }), code("AUTH_FAILED"));
            delete process.env.WIRECALL_AUTHKEY;
            await assert.rejects(connect(s.url, { ...withoutKey(t.client()), handshakeTimeout: 2000 }), code("AUTH_FAILED"), "the server really uses the env key");
          } finally {
            await s.close();
          }
        } finally {
          if (saved === undefined) delete process.env.WIRECALL_AUTHKEY;
          else process.env.WIRECALL_AUTHKEY = saved;
        }
      });

      it("secrets: an authkey in the URL is refused (INVALID_URL); keys never appear in logs or errors", async () => {
        const output: string[] = [];
        const restore: (() => void)[] = [];
        for (const stream of [process.stdout, process.stderr]) {
          const original = stream.write;
          stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
            output.push(String(chunk));
            return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
          } as typeof stream.write;
          restore.push(() => (stream.write = original));
        }
        for (const m of ["log", "error", "warn", "info", "debug", "trace"] as const) {
          const original = console[m];
          console[m] = (...args: unknown[]) => {
            output.push(args.map((a) => inspect(a, { depth: 10 })).join(" "));
            original(...args);
          };
          restore.push(() => (console[m] = original));
        }
        const reported: unknown[] = [];
        const errors: unknown[] = [];
        const WRONG = "wrong-client-key-ALSO-SECRET";
        try {
          const u = new URL(server.url);
          u.searchParams.set("authkey", SECRET);
          errors.push(await connect(u.href, t.client()).then(() => assert.fail("connected with a key in the URL"), (e: unknown) => e));
          const listen = new URL(t.listen);
          listen.searchParams.set("authkey", SECRET);
          errors.push(await serve(makeHandler(probe), listen.href, t.server()).then(() => assert.fail("served with a key in the URL"), (e: unknown) => e));
          for (const e of errors) code("INVALID_URL")(e);

          const s = await serve(makeHandler(probe), t.listen, { ...t.server(), authkey: SECRET, onHandshakeError: (err: unknown) => reported.push(err) });
          try {
            errors.push(await connect(s.url, { ...t.client(), authkey: WRONG }).then(() => assert.fail("wrong key accepted"), (e: unknown) => e));
            code("AUTH_FAILED")(errors[errors.length - 1]);
          } finally {
            await s.close();
          }
        } finally {
          for (const r of restore) r();
        }
        for (const e of [...errors, ...reported]) {
          const text = `${inspect(e, { depth: 20, showHidden: true })} ${JSON.stringify(e)} ${String(e)}`;
          assert.ok(!text.includes(SECRET) && !text.includes(WRONG), `a key leaked into an error: ${text}`);
        }
        const logged = output.join("");
        assert.ok(!logged.includes(SECRET) && !logged.includes(WRONG), "a key was logged");
      });
    }
  });
}
