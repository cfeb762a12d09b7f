/**
 * Hostile and broken peers on real loopback sockets: garbage before and
 * after the handshake, bad length prefixes, truncated frames, silent peers,
 * wrong keys, oversized frames. A well-behaved client is served throughout.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { networkInterfaces } from "node:os";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RpcError, connect, serve, type AnyRemote, type Server } from "../src/index.js";
import { clientHandshake, type ChallengeIO, type Connection, type Listener } from "../src/transport-sdk.js";
import { FrameDecoder } from "../transports/tcp/frame-decoder.js";
import { encodeHeader } from "../transports/tcp/frame-writer.js";
import { tcpTransport } from "../transports/tcp/index.js";
import { nodeHmac } from "../transports/node-hmac.js";
import { Deferred } from "./conformance.js";

const authkey = "hostile-secret";

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  h.register("echo", (v: unknown) => v);
  return h;
}

function framed(payload: Uint8Array | string): Buffer {
  const p = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  return Buffer.concat([encodeHeader(p.length), p]);
}

/** A raw socket speaking the framing by hand, so tests can send anything. */
class RawPeer {
  readonly socket: net.Socket;
  readonly closed = new Deferred<void>();
  readonly #decoder = new FrameDecoder(1 << 24);
  #frames: Uint8Array[] = [];
  #waiter: Deferred<Uint8Array> | undefined;
  #ended = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (c: Buffer) => {
      this.#decoder.push(c);
      for (let f = this.#decoder.next(); f; f = this.#decoder.next()) this.#frames.push(new Uint8Array(f));
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
      this.closed.resolve();
    });
  }

  static open(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resolve(new RawPeer(s)));
      s.once("error", reject);
    });
  }

  /** Open and pass the challenge, ready to send frames after it. */
  static async authenticated(port: number, key = authkey): Promise<RawPeer> {
    const peer = await RawPeer.open(port);
    await clientHandshake(peer.io, new TextEncoder().encode(key), { hmac: nodeHmac });
    return peer;
  }

  readonly io: ChallengeIO = {
    send: (m) => void this.socket.write(framed(m)),
    recv: () => this.next(),
  };

  /** The next frame from the server; rejects when it closed first. */
  next(): Promise<Uint8Array> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    if (this.#ended) return Promise.reject(new RpcError("CONNECTION_CLOSED", "closed"));
    this.#waiter = new Deferred<Uint8Array>();
    return this.#waiter.promise;
  }

  #wake(): void {
    const w = this.#waiter;
    if (!w) return;
    const f = this.#frames.shift();
    if (f) {
      this.#waiter = undefined;
      w.resolve(f);
    } else if (this.#ended) {
      this.#waiter = undefined;
      w.reject(new RpcError("CONNECTION_CLOSED", "closed"));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("tcp: hostile peers against a server", { timeout: 30_000 }, () => {
  let server: Server;
  let port: number;
  let good: AnyRemote;
  const rejected: RpcError[] = [];
  const peers: RawPeer[] = [];

  before(async () => {
    server = await serve(handler(), "tcp://127.0.0.1:0", {
      authkey,
      handshakeTimeout: 300,
      maxFrameSize: 64 * 1024,
      onHandshakeError: (err: RpcError) => rejected.push(err),
    });
    port = Number(new URL(server.url).port);
    good = await connect(server.url, { authkey, timeout: 5000 });
  });
  after(async () => {
    for (const p of peers) p.destroy();
    await good?.$close();
    await server?.close();
  });

  async function raw(authenticated = true): Promise<RawPeer> {
    const p = authenticated ? await RawPeer.authenticated(port) : await RawPeer.open(port);
    peers.push(p);
    return p;
  }
  async function stillServing(): Promise<void> {
    assert.equal(await good.add(20, 22), 42);
  }

  it("serves a hand-rolled client: challenge, hello, call", async () => {
    const p = await raw();
    p.socket.write(framed('{"wirecall":1,"serializer":"json"}'));
    assert.deepEqual(JSON.parse(text(await p.next())), { wirecall: 1, serializer: "json" });
    p.socket.write(framed("[0,1,\"add\",[2,3]]"));
    assert.deepEqual(JSON.parse(text(await p.next())), [1, 1, 5]);
  });

  it("drops garbage sent before the handshake (an HTTP request)", async () => {
    const before = rejected.length;
    const p = await raw(false);
    p.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await p.closed.promise;
    await stillServing();
    assert.equal(rejected[before]?.code, "AUTH_FAILED");
  });

  it("drops an oversized handshake answer before reading it", async () => {
    const before = rejected.length;
    const p = await raw(false);
    const challenge = await p.next();
    assert.ok(text(challenge).startsWith("#CHALLENGE#{sha256}"));
    p.socket.write(encodeHeader(10_000)); // a header only: the body is never needed
    await p.closed.promise;
    assert.equal(rejected[before]?.code, "AUTH_FAILED");
    assert.equal((rejected[before]?.cause as RpcError | undefined)?.code, "PAYLOAD_TOO_LARGE");
    await stillServing();
  });

  it("answers a wrong digest with #FAILURE# and closes", async () => {
    const p = await raw(false);
    await p.next();
    p.socket.write(framed(Buffer.concat([Buffer.from("{sha256}"), Buffer.alloc(32)])));
    assert.equal(text(await p.next()), "#FAILURE#");
    await p.closed.promise;
    await stillServing();
  });

  it("drops a truncated handshake answer when the peer goes away", async () => {
    const before = rejected.length;
    const p = await raw(false);
    await p.next();
    p.socket.end(Buffer.concat([encodeHeader(40), Buffer.from("{sha256}")]));
    await p.closed.promise;
    assert.equal(rejected[before]?.code, "AUTH_FAILED");
    await stillServing();
  });

  it("drops a silent peer at the handshake time limit (slowloris)", async () => {
    const before = rejected.length;
    const started = Date.now();
    const silent = await Promise.all([raw(false), raw(false), raw(false)]);
    // One that trickles a partial header and then stalls.
    silent[2]?.socket.write(Buffer.from([0]));
    await stillServing();
    await Promise.all(silent.map((p) => p.closed.promise));
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 5000, `closed after ${took} ms`);
    assert.ok(rejected.slice(before).filter((e) => e.code === "AUTH_FAILED").length >= 3);
    await stillServing();
  });

  it("fails a wirecall client with the wrong key with AUTH_FAILED on both sides", async () => {
    const before = rejected.length;
    await assert.rejects(connect(server.url, { authkey: "not-it" }), { code: "AUTH_FAILED" });
    assert.equal(rejected[before]?.code, "AUTH_FAILED");
    await stillServing();
  });

  it("tells a client without an authkey that the server wants one", async () => {
    const saved = process.env.WIRECALL_AUTHKEY;
    delete process.env.WIRECALL_AUTHKEY;
    try {
      await assert.rejects(connect(server.url, {}), { code: "AUTH_FAILED" });
    } finally {
      if (saved !== undefined) process.env.WIRECALL_AUTHKEY = saved;
    }
    await stillServing();
  });

  it("after the handshake: a garbage frame gets PROTOCOL_ERROR and the connection stays", async () => {
    const p = await raw();
    p.socket.write(framed(new Uint8Array([0xff, 0xfe, 0x00])));
    const reply = JSON.parse(text(await p.next())) as [number, null, { code: string }];
    assert.equal(reply[0], 2);
    assert.equal(reply[2].code, "PROTOCOL_ERROR");
    p.socket.write(framed('[0,7,"add",[1,1]]'));
    assert.deepEqual(JSON.parse(text(await p.next())), [1, 7, 2]);
  });

  for (const [what, bytes] of [
    ["a negative length", Buffer.from([0xff, 0xff, 0xff, 0xfe])],
    ["a length over maxFrameSize", encodeHeader(1 << 30)],
    ["an 8-byte length over maxFrameSize", Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0])],
    ["a frame cut short by the peer's close", Buffer.concat([encodeHeader(100), Buffer.from("[0,1,")])],
  ] as const) {
    it(`after the handshake: ${what} closes that connection only`, async () => {
      const p = await raw();
      p.socket.write(framed('{"wirecall":1}'));
      await p.next();
      if (what.includes("cut short")) p.socket.end(bytes);
      else p.socket.write(bytes);
      await p.closed.promise;
      await stillServing();
    });
  }

  it("closes a client whose frame exceeds the server's maxFrameSize; other clients go on", async () => {
    const p = await connect(server.url, { authkey, timeout: 5000 });
    await assert.rejects(p.echo("x".repeat(100 * 1024)), { code: "CONNECTION_CLOSED" });
    await p.$close();
    await stillServing();
  });

  it("keeps serving the good client through all of it", async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => good.add(i, 1)));
    assert.deepEqual(results, Array.from({ length: 200 }, (_, i) => i + 1));
  });
});

/** A transport-level listener whose connections record how they closed: `closeOf(i)` for the i-th accepted one. */
async function recordingListener(options: Record<string, unknown>): Promise<{ listener: Listener; closeOf: (i: number) => Promise<Error | undefined> }> {
  const closes: Deferred<Error | undefined>[] = [];
  const slot = (i: number) => (closes[i] ??= new Deferred<Error | undefined>());
  let accepted = 0;
  const listener = await tcpTransport.listen(new URL("tcp://127.0.0.1:0"), options, (conn) => {
    const d = slot(accepted++);
    conn.open({ frame: () => {}, drain: () => {}, close: (err) => d.resolve(err) });
  });
  return { listener, closeOf: (i) => slot(i).promise };
}

describe("tcp: how the transport reports bad frames", { timeout: 30_000 }, () => {
  it("closes with PAYLOAD_TOO_LARGE as soon as an oversized length is read", async () => {
    const { listener, closeOf } = await recordingListener({ authkey, maxFrameSize: 1000 });
    const p = await RawPeer.authenticated(Number(new URL(listener.url).port));
    try {
      p.socket.write(encodeHeader(1001)); // no body follows: the limit is applied to the prefix
      const err = (await closeOf(0)) as RpcError;
      assert.equal(err.code, "PAYLOAD_TOO_LARGE");
      await p.closed.promise;
    } finally {
      p.destroy();
      await listener.close();
    }
  });

  it("closes with PROTOCOL_ERROR on a negative length and on a frame cut short", async () => {
    const { listener, closeOf } = await recordingListener({ authkey });
    const port = Number(new URL(listener.url).port);
    const a = await RawPeer.authenticated(port);
    const b = await RawPeer.authenticated(port);
    try {
      a.socket.write(Buffer.from([0x80, 0, 0, 0]));
      b.socket.end(Buffer.concat([encodeHeader(10), Buffer.from("abc")]));
      const codes = (await Promise.all([closeOf(0), closeOf(1)])).map((e) => (e as RpcError).code);
      assert.deepEqual(codes, ["PROTOCOL_ERROR", "PROTOCOL_ERROR"]);
    } finally {
      a.destroy();
      b.destroy();
      await listener.close();
    }
  });

  it("holds frames that arrive before open(), and delivers them in order", async () => {
    const got: string[] = [];
    const done = new Deferred<void>();
    let pending: Connection | undefined;
    const arrived = new Deferred<void>();
    const listener = await tcpTransport.listen(new URL("tcp://127.0.0.1:0"), { authkey }, (conn) => {
      pending = conn;
      arrived.resolve();
    });
    const p = await RawPeer.authenticated(Number(new URL(listener.url).port));
    try {
      await arrived.promise;
      const frames = Array.from({ length: 50 }, (_, i) => `frame-${i}`);
      // Sent and then the peer ends its side: everything must still be delivered after open().
      p.socket.end(Buffer.concat(frames.map((f) => framed(f))));
      await new Promise<void>((resolve) => p.socket.once("finish", resolve));
      (pending as Connection).open({
        frame: (f) => void got.push(text(f)),
        drain: () => {},
        close: () => done.resolve(),
      });
      await done.promise;
      assert.deepEqual(got, frames);
    } finally {
      p.destroy();
      await listener.close();
    }
  });

  it("send() returns false above the high-water mark, and drain() follows once the peer reads", async () => {
    let serverConn: Connection | undefined;
    const accepted = new Deferred<void>();
    const received = new Deferred<void>();
    let bytes = 0;
    const listener = await tcpTransport.listen(new URL("tcp://127.0.0.1:0"), { authkey }, (c) => {
      serverConn = c;
      accepted.resolve();
    });
    const conn = await tcpTransport.connect(new URL(listener.url), { authkey, highWaterMark: 64 * 1024 });
    try {
      const drained = new Deferred<void>();
      let drains = 0;
      conn.open({ frame: () => {}, drain: () => (drains++, drained.resolve()), close: () => {} });
      const frame = new Uint8Array(16 * 1024);
      let sent = 0;
      let ok = true;
      while (ok && sent < 10_000) {
        ok = conn.send(frame);
        sent++;
      }
      assert.equal(ok, false, "send() reports backpressure");
      assert.ok(sent <= 6, `false after ${sent} frames of 16 KiB with a 64 KiB mark`);
      await accepted.promise;
      serverConn?.open({
        frame: (f) => {
          bytes += f.length;
          if (bytes === sent * frame.length) received.resolve();
        },
        drain: () => {},
        close: () => {},
      });
      await drained.promise;
      await received.promise;
      assert.equal(drains, 1);
    } finally {
      conn.close();
      serverConn?.close();
      await listener.close();
    }
  });

  it("stops reading while paused, so a flood waits in the peer's socket", async () => {
    const target = 16_000; // 16 MB: more than loopback's kernel buffers hold
    let conn: Connection | undefined;
    const first = new Deferred<void>();
    const all = new Deferred<void>();
    let count = 0;
    const listener = await tcpTransport.listen(new URL("tcp://127.0.0.1:0"), { authkey }, (c) => {
      conn = c;
      c.open({
        frame: () => {
          if (++count === 1) {
            c.pause();
            first.resolve();
          }
          if (count === target) all.resolve();
        },
        drain: () => {},
        close: () => {},
      });
    });
    const p = await RawPeer.authenticated(Number(new URL(listener.url).port));
    try {
      const frame = framed("x".repeat(996));
      for (let i = 0; i < target; i++) p.socket.write(frame);
      await first.promise;
      // Give the event loop many turns in which a reading socket would deliver more.
      for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
      assert.equal(count, 1, "no frame delivered while paused");
      assert.ok(p.socket.writableLength > 0, "the peer's writes back up");
      conn?.resume();
      await all.promise;
      assert.equal(count, target);
    } finally {
      p.destroy();
      conn?.close();
      await listener.close();
    }
  });
});

describe("tcp: peers without an authkey", { timeout: 30_000 }, () => {
  it("a server without an authkey refuses non-loopback peers unless allowRemote", async (t) => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (!external) return t.skip("no non-loopback IPv4 address on this machine");
    const rejected: RpcError[] = [];
    const saved = process.env.WIRECALL_AUTHKEY;
    delete process.env.WIRECALL_AUTHKEY;
    const closed = await serve(handler(), "tcp://0.0.0.0:0", { onHandshakeError: (e: RpcError) => rejected.push(e) });
    const open = await serve(handler(), "tcp://0.0.0.0:0", { allowRemote: true });
    try {
      const local = await connect(`tcp://127.0.0.1:${new URL(closed.url).port}`, {});
      assert.equal(await local.add(1, 2), 3);
      await local.$close();
      await assert.rejects(connect(`tcp://${external}:${new URL(closed.url).port}`, { handshakeTimeout: 3000 }), (e: RpcError) => e instanceof RpcError);
      assert.equal(rejected[0]?.code, "AUTH_FAILED");
      const remote = await connect(`tcp://${external}:${new URL(open.url).port}`, {});
      assert.equal(await remote.add(2, 2), 4);
      await remote.$close();
    } finally {
      if (saved !== undefined) process.env.WIRECALL_AUTHKEY = saved;
      await closed.close();
      await open.close();
    }
  });

  it("a client with an authkey fails with AUTH_FAILED against a server without one, at the time limit", async () => {
    const saved = process.env.WIRECALL_AUTHKEY;
    delete process.env.WIRECALL_AUTHKEY;
    const s = await serve(handler(), "tcp://127.0.0.1:0");
    try {
      await assert.rejects(connect(s.url, { authkey, handshakeTimeout: 300 }), { code: "AUTH_FAILED" });
    } finally {
      if (saved !== undefined) process.env.WIRECALL_AUTHKEY = saved;
      await s.close();
    }
  });

  it("takes the authkey from WIRECALL_AUTHKEY", async () => {
    const saved = process.env.WIRECALL_AUTHKEY;
    process.env.WIRECALL_AUTHKEY = "from-the-environment";
    try {
      const s = await serve(handler(), "tcp://127.0.0.1:0");
      const p = await connect(s.url, {});
      assert.equal(await p.add(1, 1), 2);
      await p.$close();
      await assert.rejects(connect(s.url, { authkey: "explicit-and-wrong" }), { code: "AUTH_FAILED" });
      await s.close();
    } finally {
      if (saved === undefined) delete process.env.WIRECALL_AUTHKEY;
      else process.env.WIRECALL_AUTHKEY = saved;
    }
  });
});

describe("tcp: URLs and dialing", { timeout: 30_000 }, () => {
  it("rejects URLs without a port (INVALID_URL) or with bad options (INVALID_OPTION)", async () => {
    await assert.rejects(connect("tcp://127.0.0.1", { authkey }), { code: "INVALID_URL" });
    await assert.rejects(connect("tcp://127.0.0.1:1?coalesce=sideways", { authkey }), { code: "INVALID_OPTION" });
    await assert.rejects(connect("tcp://127.0.0.1:1?authkey=secret"), { code: "INVALID_URL" });
  });

  it("reports a refused connection as CONNECT_FAILED", async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    await assert.rejects(connect(`tcp://127.0.0.1:${port}`, { authkey }), { code: "CONNECT_FAILED" });
  });

  it("takes transport options from the query string", async () => {
    const s = await serve(handler(), "tcp://127.0.0.1:0?maxFrameSize=2048&coalesce=cork", { authkey });
    try {
      // server.url keeps the served query (maxFrameSize, coalesce): add the client's to it.
      const u = new URL(s.url);
      u.searchParams.set("highWaterMark", "4096");
      u.searchParams.set("refuseLegacyMd5", "1");
      const p = await connect(u, { authkey, timeout: 5000 });
      assert.equal(await p.add(1, 2), 3);
      await assert.rejects(p.echo("y".repeat(4096)), { code: "CONNECTION_CLOSED" }); // over the server's 2048
      await p.$close();
    } finally {
      await s.close();
    }
  });
});
