/**
 * One rule for every option: an unknown name or a wrong value is an
 * `INVALID_OPTION` RpcError naming it (and the option meant, for a near
 * miss), from explicit options and the query string alike, on tcp and ws.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type Server } from "../src/index.js";
import { nearestName } from "../src/option-errors.js";
import "../transports/memory/index.js";
import "../transports/tcp/index.js";
import "../transports/ws/index.js";
import "../transports/xmlrpc/index.js";
// Options are checked before the transport runs: this loads no zeromq.
import "../transports/zmq/index.js";

function invalidOption(option: string, hint?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof RpcError, `not an RpcError: ${String(e)}`);
    assert.equal(e.code, "INVALID_OPTION", e.message);
    assert.match(e.message, new RegExp(`'${option}'`));
    assert.deepEqual(e.data, { option });
    if (hint) assert.match(e.message, hint);
    return true;
  };
}

describe("options", () => {
  const servers: Server[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  it("connect(url, { timout }) names timout and suggests timeout, on tcp and ws", async () => {
    const h = new RPCHandler();
    const tcp = await serve(h, "tcp://127.0.0.1:0");
    const ws = await serve(h, "ws://127.0.0.1:0");
    servers.push(tcp, ws);
    for (const url of [tcp.url, ws.url]) {
      const bad: Record<string, unknown> = { timout: 500 };
      await assert.rejects(connect(url, bad), invalidOption("timout", /did you mean 'timeout'\?/));
    }
    // The literal form is refused by the compiler as well.
    await assert.rejects(
      // @ts-expect-error `timout` is not an option of tcp:// connections
      connect("tcp://127.0.0.1:1", { timout: 500 }),
      invalidOption("timout", /did you mean 'timeout'\?/),
    );
    await assert.rejects(
      // @ts-expect-error `highWaterMarc` is not an option of ws:// servers
      serve(h, "ws://127.0.0.1:0", { highWaterMarc: 10 }),
      invalidOption("highWaterMarc", /did you mean 'highWaterMark'\?/),
    );
  });

  it("?highWaterMark=abc is refused the same way on tcp and ws, client and server", async () => {
    const h = new RPCHandler();
    for (const scheme of ["tcp", "ws"]) {
      await assert.rejects(serve(h, `${scheme}://127.0.0.1:0?highWaterMark=abc`), invalidOption("highWaterMark", /non-negative number, got 'abc'/));
      await assert.rejects(connect(`${scheme}://127.0.0.1:1?highWaterMark=abc`), invalidOption("highWaterMark", /non-negative number, got 'abc'/));
      await assert.rejects(connect(`${scheme}://127.0.0.1:1?timout=5`), invalidOption("timout", /did you mean 'timeout'\?/));
    }
  });

  it("a wrong type is refused, naming the option and what it takes", async () => {
    const h = new RPCHandler();
    const bad: Record<string, unknown> = { allowRemote: "yes" };
    await assert.rejects(serve(h, "tcp://127.0.0.1:0", bad), invalidOption("allowRemote", /must be a boolean/));
    const coalesce: Record<string, unknown> = { coalesce: "always" };
    await assert.rejects(serve(h, "tcp://127.0.0.1:0", coalesce), invalidOption("coalesce", /gather, cork, none/));
    await assert.rejects(connect("ws://127.0.0.1:1", { timeout: -1 }), invalidOption("timeout", /non-negative number/));
  });

  it("a far miss lists the known options instead of guessing", async () => {
    const bad: Record<string, unknown> = { frobnicate: 1 };
    await assert.rejects(connect("tcp://127.0.0.1:1", bad), invalidOption("frobnicate", /known: .*timeout/));
    assert.equal(nearestName("frobnicate", ["timeout", "keepAlive"]), undefined);
    assert.equal(nearestName("keepalive", ["timeout", "keepAlive"]), "keepAlive");
    assert.equal(nearestName("tmeout", ["timeout", "keepAlive"]), "timeout");
  });

  it("mem, zmq and XML-RPC declare their options too: a near miss is named, explicit or from the query", async () => {
    const h = new RPCHandler();
    for (const url of ["mem://nowhere", "zmq+tcp://127.0.0.1:1", "xmlrpc+http://127.0.0.1:1/RPC2"]) {
      const bad: Record<string, unknown> = { timout: 500 };
      await assert.rejects(connect(url, bad), invalidOption("timout", /did you mean 'timeout'\?/));
      await assert.rejects(connect(`${url}?timout=5`), invalidOption("timout", /did you mean 'timeout'\?/));
      const badServe: Record<string, unknown> = { closeTimout: 10 };
      await assert.rejects(serve(h, url.replace(/:1\b/, ":0"), badServe), invalidOption("closeTimout", /did you mean 'closeTimeout'\?/));
      await assert.rejects(connect(`${url}?timeout=soon`), invalidOption("timeout", /non-negative number, got 'soon'/));
    }
    await assert.rejects(connect("zmq+tcp://127.0.0.1:1?socket=rep"), invalidOption("socket", /dealer, req/));
    // A framed connection's option means nothing over HTTP requests: refused, not dropped.
    await assert.rejects(connect("xmlrpc+http://127.0.0.1:1/", { handler: h } as Record<string, unknown>), invalidOption("handler"));
    // Literal URLs: the compiler knows each scheme's options.
    await assert.rejects(
      // @ts-expect-error `timout` is not an option of zmq+tcp:// connections
      connect("zmq+tcp://127.0.0.1:1", { timout: 500 }),
      invalidOption("timout"),
    );
    await assert.rejects(
      // @ts-expect-error `linger` is a zmq option, not a mem:// one
      serve(h, "mem://typed", { linger: 5 }),
      invalidOption("linger"),
    );
    await assert.rejects(
      // @ts-expect-error `gzipp` is not an option of XML-RPC clients
      connect("xmlrpc+http://127.0.0.1:1/", { gzipp: false }),
      invalidOption("gzipp", /did you mean 'gzip'\?/),
    );
    // `authkey: false` (none, on purpose) is a value mem:// accepts.
    const mem = await serve(h, "mem://0", { authkey: false });
    servers.push(mem);
  });

  it("server.url keeps the served query's client options only", async () => {
    const h = new RPCHandler();
    h.register(function add(a: number, b: number) {
      return a + b;
    });
    const s = await serve(h, "ws://127.0.0.1:0/rpc?maxBufferedBytes=100000&serializer=msgpack&closeTimeout=100");
    servers.push(s);
    assert.match(s.url, /\/rpc\?serializer=msgpack$/);
    const c = await connect(s.url);
    assert.equal(await c.add(2, 3), 5);
    await c.$close();
    // A client option in a served query is still checked.
    await assert.rejects(serve(h, "ws://127.0.0.1:0?serializer=1&reconnect=maybe"), invalidOption("reconnect"));
  });

  // connect words a refusal with a lazily loaded module (src/option-errors.ts), serve
  // synchronously: both must say exactly the same, for every kind of refusal.
  it("connect and serve word each refusal the same, exactly", async () => {
    const h = new RPCHandler();
    const cases: [query: string, options: Record<string, unknown>, code: string, message: string][] = [
      ["?authkey=k", {}, "INVALID_URL", "'authkey' must not be in a URL (URLs get logged); pass it as an option or environment variable"],
      ["?onError=x", {}, "INVALID_OPTION", "option 'onError' cannot be given in a URL's query string; pass it as an option"],
      ["?timout=5", {}, "INVALID_OPTION", `unknown query option 'timout' in WHERE: did you mean 'timeout'?`],
      ["?maxInFlight=many", {}, "INVALID_OPTION", "query option 'maxInFlight' must be a non-negative number, got 'many'"],
      ["?telemetry=maybe", {}, "INVALID_OPTION", "query option 'telemetry' must be true or false (1/0, yes/no), got 'maybe'"],
      ["", { maxInFlight: "8" }, "INVALID_OPTION", "option 'maxInFlight' must be a non-negative number, got '8'"],
      ["", { maxFrameSize: null }, "INVALID_OPTION", "option 'maxFrameSize' must be a non-negative number, got null"],
      ["", { authkey: 7 }, "INVALID_OPTION", "option 'authkey' must be a string or a Uint8Array or false, got 7"],
      ["", { telemetry: () => 1 }, "INVALID_OPTION", "option 'telemetry' must be a boolean or an object, got a function"],
      ["", { maxInFlihgt: 8 }, "INVALID_OPTION", "unknown option 'maxInFlihgt' in WHERE: did you mean 'maxInFlight'?"],
    ];
    for (const [query, options, code, message] of cases) {
      for (const [where, run] of [
        ['connect("tcp://...")', () => connect(`tcp://127.0.0.1:1${query}`, options)],
        ['serve("tcp://...")', () => serve(h, `tcp://127.0.0.1:0${query}`, options)],
      ] as const) {
        await assert.rejects(run(), (e: unknown) => {
          assert.ok(e instanceof RpcError, String(e));
          assert.equal(e.code, code);
          assert.equal(e.message, message.replace("WHERE", where));
          return true;
        });
      }
    }
    // A far miss lists every option the call takes, sorted.
    await assert.rejects(connect("ws://127.0.0.1:1", { frobnicate: 1 } as Record<string, unknown>), (e: RpcError) => {
      const known = /\(known: (.*)\)$/.exec(e.message)?.[1]?.split(", ") ?? [];
      assert.ok(known.includes("keepAlive") && known.includes("timeout"), e.message);
      assert.deepEqual(known, [...known].sort());
      return true;
    });
  });

  it("good options from the query string still apply", async () => {
    const h = new RPCHandler();
    h.register(function add(a: number, b: number) {
      return a + b;
    });
    const s = await serve(h, "tcp://127.0.0.1:0?highWaterMark=1024&coalesce=cork&maxInFlight=4");
    servers.push(s);
    // server.url keeps the served query's client options (highWaterMark, coalesce, maxInFlight): add the client's to it.
    const u = new URL(s.url);
    u.searchParams.set("timeout", "5000");
    u.searchParams.set("keepAlive", "0");
    const c = await connect(u);
    assert.equal(await c.add(2, 3), 5);
    await c.$close();
  });
});
