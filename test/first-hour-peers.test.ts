/**
 * Issue 19, "the first hour": a client pointed at the wrong kind of server,
 * or with an authkey on one side only, hears what is wrong at once (not a
 * frame length read from "HTTP", not a 10 s wait); calls interrupted by
 * server.close() fail alike on every transport; reconnect and the first
 * connect. Real servers of each kind on 127.0.0.1 port 0.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type Server } from "../src/index.js";
import "../protocols/pyro4/index.js";
import { makeTestCerts } from "./tcp-certs.js";

const handler = () => new RPCHandler().register("echo", (v: unknown) => v);
const portOf = (url: string): string => new URL(url.replace(/^[a-z+]+:/, "http:")).port;

/** Rejects like `promise` must, and within `ms`. */
async function failsWithin(promise: Promise<unknown>, ms: number, code: string, pattern: RegExp): Promise<RpcError> {
  const started = Date.now();
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  const elapsed = Date.now() - started;
  assert.ok(caught instanceof RpcError, `expected an RpcError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, pattern);
  assert.ok(elapsed < ms, `took ${elapsed} ms, expected under ${ms}`);
  return caught;
}

describe("first hour: a tcp:// client at another kind of server says what it found", () => {
  const servers: Server[] = [];
  const at = async (url: string, options: Record<string, unknown> = {}): Promise<string> => {
    const s = await serve(handler(), url, options);
    servers.push(s);
    return `tcp://127.0.0.1:${portOf(s.url)}`;
  };
  after(async () => {
    for (const s of servers) await s.close();
  });

  it("a WebSocket server: an HTTP server, did you mean ws://", async () => {
    const url = await at("ws://127.0.0.1:0/rpc");
    await failsWithin(connect(url), 5000, "CONNECT_FAILED", /looks like an HTTP server.*ws:\/\//);
  });

  it("an XML-RPC server: an HTTP server, xmlrpc+http://", async () => {
    const url = await at("xmlrpc+http://127.0.0.1:0/rpc");
    await failsWithin(connect(url), 5000, "CONNECT_FAILED", /looks like an HTTP server.*xmlrpc\+http:\/\//);
  });

  it("a ZeroMQ socket: zmq+tcp://, with or without an authkey", async () => {
    const url = await at("zmq+tcp://127.0.0.1:0");
    // Its greeting is read and named, or (when it resets first) the reset is explained.
    await failsWithin(connect(url), 5000, "CONNECT_FAILED", /(looks like|does that to a client that does not speak ZMTP).*zmq\+tcp:\/\//);
    await failsWithin(connect(url, { authkey: "k" }), 5000, "CONNECT_FAILED", /ZeroMQ socket/);
  });

  it("a Pyro daemon: PYRO:objectid@host:port", async () => {
    const url = await at("pyro://127.0.0.1:0");
    await failsWithin(connect(url), 5000, "CONNECT_FAILED", /looks like a Pyro daemon.*PYRO:/);
  });

  it("a TLS server closes a plain client without a word: use tls://", async () => {
    const certs = makeTestCerts();
    const url = await at("tls://127.0.0.1:0", { ...certs.server });
    await failsWithin(connect(url), 5000, "CONNECT_FAILED", /without a word.*tls:\/\//);
  });
});

describe("first hour: other clients at a tcp:// server", () => {
  let server: Server;
  let port: string;
  before(async () => {
    server = await serve(handler(), "tcp://127.0.0.1:0");
    port = portOf(server.url);
  });
  after(() => server.close());

  it("a ws:// client gets HTTP 400 saying it is a wirecall tcp:// server", async () => {
    const err = await failsWithin(connect(`ws://127.0.0.1:${port}/rpc`), 5000, "CONNECT_FAILED", /HTTP 400 .*wirecall tcp:\/\/ server/);
    assert.deepEqual(err.data, { status: 400 });
  });

  it("an xmlrpc+http:// client's call gets the same 400", async () => {
    const c = await connect(`xmlrpc+http://127.0.0.1:${port}/rpc`);
    try {
      await failsWithin(c.echo(1), 5000, "PROTOCOL_ERROR", /HTTP 400 .*wirecall tcp:\/\/ server/);
    } finally {
      await c.$close();
    }
  });

  it("a raw HTTP request gets a 400 with a plain-text explanation", async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port: Number(port) }, () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      let got = "";
      s.on("data", (c: Buffer) => (got += c.toString()));
      s.on("close", () => resolve(got));
      s.on("error", reject);
    });
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.match(text, /This is a wirecall tcp:\/\/ server, not an HTTP one/);
  });

  it("a zmq+tcp:// client's handshake failure names a non-ZeroMQ peer", async () => {
    await failsWithin(connect(`zmq+tcp://127.0.0.1:${port}`), 9000, "AUTH_FAILED", /not a ZeroMQ socket/);
  });
});

describe("first hour: an authkey on one side only", () => {
  const servers: Server[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  const start = async (url: string, options: Record<string, unknown> = {}): Promise<string> => {
    const s = await serve(handler(), url, options);
    servers.push(s);
    return s.url;
  };

  it("ws: a client with an authkey at a server without one fails at once", async () => {
    const url = await start("ws://127.0.0.1:0/rpc");
    await failsWithin(connect(url, { authkey: "k" }), 5000, "AUTH_FAILED", /does not use an authkey/);
  });

  it("ws: a client without an authkey at a server with one fails at once", async () => {
    const url = await start("ws://127.0.0.1:0/rpc", { authkey: "k" });
    await failsWithin(connect(url), 5000, "AUTH_FAILED", /requires an authkey/);
  });

  it("tcp: a client without an authkey at a server with one fails at once", async () => {
    const url = await start("tcp://127.0.0.1:0", { authkey: "k" });
    await failsWithin(connect(url), 5000, "AUTH_FAILED", /requires an authkey/);
  });

  it("tcp: a client with an authkey at a server without one: the server says nothing first, so handshakeTimeout, with a hint", async () => {
    // Python's protocol has the server speak first only when it has an authkey: silence is all there is to go on.
    const url = await start("tcp://127.0.0.1:0");
    await failsWithin(connect(url, { authkey: "k", handshakeTimeout: 1000 }), 6000, "AUTH_FAILED", /sent no #CHALLENGE#.*without an authkey/);
  });
});

describe("first hour: calls interrupted by server.close() fail alike everywhere", () => {
  for (const url of ["tcp://127.0.0.1:0", "ws://127.0.0.1:0/rpc", "zmq+tcp://127.0.0.1:0", "mem://first-hour-interrupted"]) {
    it(`${url}: CONNECTION_CLOSED caused by the server's SHUTTING_DOWN`, async () => {
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const h = new RPCHandler().register("hang", (ctx: { signal: AbortSignal }) => {
        started();
        return new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
      }, { context: true });
      const server = await serve(h, url, { closeTimeout: 200 });
      const c = await connect(server.url);
      try {
        const call = c.hang().then(
          () => assert.fail("the call should not succeed"),
          (e: unknown) => e,
        );
        await running;
        await server.close();
        const err = (await call) as RpcError;
        assert.ok(err instanceof RpcError, String(err));
        assert.equal(err.code, "CONNECTION_CLOSED", err.message);
        const cause = err.cause as RpcError | undefined;
        assert.equal(cause?.code, "SHUTTING_DOWN", `cause: ${String(cause)}`);
        assert.equal(cause?.message, "the server closed");
      } finally {
        await c.$close();
        await server.close();
      }
    });
  }
});

describe("first hour: reconnect and the first connect", () => {
  it("reconnect: true does not retry the first connect: a wrong URL fails at once", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await failsWithin(connect(`tcp://127.0.0.1:${port}`, { reconnect: true }), 5000, "CONNECT_FAILED", /127\.0\.0\.1/);
  });
});
