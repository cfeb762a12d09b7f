/**
 * WebSocket-specific behaviour on real loopback sockets: sharing an HTTP
 * server, path and Origin checks, size limits, authentication failures and
 * time limits, keepalive, reconnection, and backpressure both ways. Raw `ws`
 * peers stand in for misbehaving clients and servers.
 */
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { createServer as createHttpsServer } from "node:https";
import { after, before, describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { RPCHandler, RpcError, connect, serve } from "../src/index.js";
import { type Connection, type ConnectionSink } from "../src/transport-sdk.js";
import { attach, wsTransport } from "../transports/ws/index.js";
import { Deferred, makeHandler, newProbes, slot } from "./conformance.js";
import { makeSelfSignedCert } from "./ws-tls-fixture.js";

function listenHttp(server: HttpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function closeHttp(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function nextEvent<T extends unknown[]>(emitter: { once(ev: string, fn: (...a: T) => void): unknown }, ev: string): Promise<T> {
  return new Promise((resolve) => emitter.once(ev, (...a: T) => resolve(a)));
}

/** A raw `ws` client that has done the hello (JSON), for speaking envelopes by hand. */
async function rawClient(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  await nextEvent(ws, "open");
  ws.send(JSON.stringify({ wirecall: 1, serializer: "json" }));
  const [hello] = await nextEvent<[Buffer]>(ws, "message");
  assert.equal(JSON.parse(hello.toString()).serializer, "json");
  return ws;
}

function rejectsWith(code: string, causeCode?: string) {
  return (e: RpcError): boolean => {
    assert.ok(e instanceof RpcError, `expected an RpcError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (causeCode !== undefined) assert.equal((e.cause as RpcError | undefined)?.code, causeCode, `cause of: ${e.message}`);
    return true;
  };
}

function byteLength(): RPCHandler {
  const h = new RPCHandler();
  h.register("size", (s: string) => s.length);
  h.register("blob", (n: number) => "y".repeat(n));
  return h;
}

describe("ws: serving on an existing HTTP server", () => {
  it("shares the port with plain HTTP and serves several paths", async () => {
    const http = createServer((_req, res) => res.end("plain http"));
    const a = new RPCHandler();
    a.register("who", () => "a");
    const b = new RPCHandler();
    b.register("who", () => "b");
    // Attached before listen: the URL is computed when read.
    const sa = await attach(a, http, { path: "/a" });
    const sb = await attach(b, http, { path: "/b" });
    const port = await listenHttp(http);
    try {
      assert.equal(sa.url, `ws://127.0.0.1:${port}/a`);
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "plain http");
      const pa = await connect(sa.url);
      const pb = await connect(sb.url);
      assert.equal(await pa.who(), "a");
      assert.equal(await pb.who(), "b");
      await assert.rejects(connect(`ws://127.0.0.1:${port}/nope`), (e: RpcError) => {
        rejectsWith("CONNECT_FAILED")(e);
        assert.deepEqual(e.data, { status: 404 });
        return true;
      });
      // Closing one endpoint drains it, leaves the other and the HTTP server running.
      await sa.close();
      await assert.rejects(pa.who(), rejectsWith("CONNECTION_CLOSED"));
      await assert.rejects(connect(`ws://127.0.0.1:${port}/a`), (e: RpcError) => (e.data as { status: number }).status === 404);
      assert.equal(await pb.who(), "b");
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "plain http");
      await pa.$close();
      await pb.$close();
      await sb.close();
    } finally {
      await closeHttp(http);
    }
  });

  it("leaves other upgrade listeners' paths alone", async () => {
    const http = createServer();
    const other = new WebSocketServer({ noServer: true });
    http.on("upgrade", (req, socket, head) => {
      if (req.url === "/chat") other.handleUpgrade(req, socket, head, (ws) => ws.send("chat says hi"));
    });
    const s = await attach(byteLength(), http, { path: "/rpc" });
    const port = await listenHttp(http);
    try {
      const chat = new WebSocket(`ws://127.0.0.1:${port}/chat`);
      const [msg] = await nextEvent<[Buffer]>(chat, "message");
      assert.equal(msg.toString(), "chat says hi");
      chat.close();
      await nextEvent(chat, "close");
      const p = await connect(s.url);
      assert.equal(await p.size("abc"), 3);
      await p.$close();
      await s.close();
    } finally {
      other.close();
      await closeHttp(http);
    }
  });

  it("answers plain HTTP on a standalone server with 426", async () => {
    const s = await serve(byteLength(), "ws://127.0.0.1:0/rpc");
    try {
      const res = await fetch(s.url.replace(/^ws/, "http"));
      assert.equal(res.status, 426);
      await res.text();
    } finally {
      await s.close();
    }
  });
});

describe("ws: TLS", () => {
  const tls = makeSelfSignedCert();
  after(() => tls.remove());

  it("attaches to an https.Server as wss://, and a client must trust the certificate", async () => {
    const https = createHttpsServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.end("secure page"));
    const s = await attach(byteLength(), https, { path: "/rpc" });
    const port = await new Promise<number>((r) => https.listen(0, "127.0.0.1", () => r((https.address() as AddressInfo).port)));
    try {
      assert.equal(s.url, `wss://127.0.0.1:${port}/rpc`);
      await assert.rejects(connect(s.url), rejectsWith("CONNECT_FAILED"));
      const p = await connect(s.url, { ca: tls.cert });
      assert.equal(await p.size("abcd"), 4);
      await p.$close();
      await s.close();
    } finally {
      https.closeAllConnections();
      await new Promise((r) => https.close(r));
    }
  });

  it("refuses to serve wss:// without a certificate", async () => {
    await assert.rejects(serve(byteLength(), "wss://127.0.0.1:0/"), rejectsWith("INVALID_URL"));
  });
});

describe("ws: upgrade checks", () => {
  it("refuses a wrong path with 404 before the WebSocket opens", async () => {
    const s = await serve(byteLength(), "ws://127.0.0.1:0/rpc");
    try {
      await assert.rejects(connect(s.url.replace(/\/rpc$/, "/other")), (e: RpcError) => {
        rejectsWith("CONNECT_FAILED")(e);
        assert.deepEqual(e.data, { status: 404 });
        return true;
      });
      // The query string is not part of the path.
      const p = await connect(`${s.url}?timeout=5000`);
      assert.equal(await p.size("ab"), 2);
      await p.$close();
    } finally {
      await s.close();
    }
  });

  it("refuses origins not in allowedOrigins with 403; clients without an Origin pass", async () => {
    const s = await serve(byteLength(), "ws://127.0.0.1:0/rpc", { allowedOrigins: ["https://app.example"] });
    try {
      await assert.rejects(connect(s.url, { origin: "https://evil.example" }), (e: RpcError) => {
        rejectsWith("CONNECT_FAILED")(e);
        assert.deepEqual(e.data, { status: 403 });
        return true;
      });
      const good = await connect(s.url, { origin: "https://app.example" });
      assert.equal(await good.size("abc"), 3);
      await good.$close();
      const noOrigin = await connect(s.url);
      assert.equal(await noOrigin.size("a"), 1);
      await noOrigin.$close();
    } finally {
      await s.close();
    }
  });

  it("allows only the same origin by default", async () => {
    const s = await serve(byteLength(), "ws://127.0.0.1:0/rpc");
    try {
      const own = `http://${new URL(s.url).host}`;
      const same = await connect(s.url, { origin: own });
      assert.equal(await same.size("abc"), 3);
      await same.$close();
      await assert.rejects(connect(s.url, { origin: "http://127.0.0.1:1" }), (e: RpcError) => (e.data as { status: number }).status === 403);
      await assert.rejects(connect(s.url, { origin: "null" }), (e: RpcError) => (e.data as { status: number }).status === 403);
    } finally {
      await s.close();
    }
    const any = await serve(byteLength(), "ws://127.0.0.1:0/rpc", { allowedOrigins: "*" });
    try {
      const p = await connect(any.url, { origin: "https://anywhere.example" });
      assert.equal(await p.size(""), 0);
      await p.$close();
    } finally {
      await any.close();
    }
  });
});

describe("ws: peers without an authkey", () => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
  const portOf = (url: string): string => new URL(url).port;
  let saved: string | undefined;
  before(() => {
    saved = process.env.WIRECALL_AUTHKEY;
    delete process.env.WIRECALL_AUTHKEY;
  });
  after(() => {
    if (saved !== undefined) process.env.WIRECALL_AUTHKEY = saved;
  });

  it("refuses non-loopback peers with 403 before the WebSocket opens, unless allowRemote or an authkey", async (t) => {
    if (!external) return t.skip("no non-loopback IPv4 address on this machine");
    const dropped: { code: string; address: string | undefined }[] = [];
    const reported = new Deferred<void>();
    const closed = await serve(byteLength(), "ws://0.0.0.0:0/rpc", {
      onHandshakeError: (err: Error, address: string | undefined) => {
        dropped.push({ code: (err as RpcError).code, address });
        reported.resolve();
      },
    });
    t.after(() => closed.close());
    const open = await serve(byteLength(), "ws://0.0.0.0:0/rpc", { allowRemote: true });
    t.after(() => open.close());
    const keyed = await serve(byteLength(), "ws://0.0.0.0:0/rpc", { authkey: "k" });
    t.after(() => keyed.close());

    const local = await connect(`ws://127.0.0.1:${portOf(closed.url)}/rpc`);
    assert.equal(await local.size("ab"), 2);
    await local.$close();
    await assert.rejects(connect(`ws://${external}:${portOf(closed.url)}/rpc`), (e: RpcError) => {
      rejectsWith("CONNECT_FAILED")(e);
      assert.deepEqual(e.data, { status: 403 });
      return true;
    });
    await reported.promise;
    assert.equal(dropped.length, 1);
    assert.equal(dropped[0]?.code, "AUTH_FAILED");
    assert.ok(dropped[0]?.address?.startsWith(`${external}:`), dropped[0]?.address);

    const allowed = await connect(`ws://${external}:${portOf(open.url)}/rpc`);
    assert.equal(await allowed.size("abc"), 3);
    await allowed.$close();
    const authenticated = await connect(`ws://${external}:${portOf(keyed.url)}/rpc`, { authkey: "k" });
    assert.equal(await authenticated.size("abcd"), 4);
    await authenticated.$close();
  });

  it("applies the same rule to attach()", async (t) => {
    if (!external) return t.skip("no non-loopback IPv4 address on this machine");
    const http = createServer();
    const closed = await attach(byteLength(), http, { path: "/rpc" });
    const open = await attach(byteLength(), http, { path: "/open", allowRemote: true });
    const port = await new Promise<number>((resolve) => http.listen(0, "0.0.0.0", () => resolve((http.address() as AddressInfo).port)));
    t.after(async () => {
      await closed.close();
      await open.close();
      await closeHttp(http);
    });
    const local = await connect(`ws://127.0.0.1:${port}/rpc`);
    assert.equal(await local.size("a"), 1);
    await local.$close();
    await assert.rejects(connect(`ws://${external}:${port}/rpc`), (e: RpcError) => (e.data as { status: number }).status === 403);
    const remote = await connect(`ws://${external}:${port}/open`);
    assert.equal(await remote.size("abcd"), 4);
    await remote.$close();
  });
});

describe("ws: size limits", () => {
  it("an oversized message closes only that connection", async () => {
    const s = await serve(byteLength(), "ws://127.0.0.1:0/rpc", { maxPayload: 1024 });
    try {
      const bystander = await connect(s.url);
      const offender = await connect(s.url);
      await assert.rejects(offender.size("x".repeat(4096)), rejectsWith("CONNECTION_CLOSED", "PAYLOAD_TOO_LARGE"));
      await assert.rejects(offender.size("x"), rejectsWith("CONNECTION_CLOSED"));
      assert.equal(await bystander.size("x".repeat(900)), 900);
      const fresh = await connect(s.url);
      assert.equal(await fresh.size("abc"), 3);
      await Promise.all([bystander.$close(), offender.$close(), fresh.$close()]);
    } finally {
      await s.close();
    }
  });

  it("a client refuses replies above its own maxPayload", async () => {
    const s = await serve(byteLength(), "ws://127.0.0.1:0/rpc");
    try {
      const p = await connect(s.url, { maxPayload: 1024 });
      assert.equal((await p.blob(100)) as string, "y".repeat(100));
      await assert.rejects(p.blob(5000), rejectsWith("CONNECTION_CLOSED", "PAYLOAD_TOO_LARGE"));
      await p.$close();
    } finally {
      await s.close();
    }
  });
});

describe("ws: authentication", () => {
  it("fails with AUTH_FAILED for a wrong key or no key, and the handler never runs", async () => {
    let calls = 0;
    const h = new RPCHandler();
    h.register("count", () => ++calls);
    const dropped: string[] = [];
    const twoDropped = new Deferred<void>();
    const s = await serve(h, "ws://127.0.0.1:0/rpc", {
      authkey: "right",
      onHandshakeError: (err: Error, addr: string | undefined) => {
        dropped.push(`${(err as RpcError).code} ${typeof addr}`);
        if (dropped.length === 2) twoDropped.resolve();
      },
    });
    try {
      await assert.rejects(connect(s.url, { authkey: "wrong" }), rejectsWith("AUTH_FAILED"));
      await assert.rejects(connect(s.url), rejectsWith("AUTH_FAILED"));
      await twoDropped.promise;
      assert.deepEqual(dropped, ["AUTH_FAILED string", "AUTH_FAILED string"]);
      const ok = await connect(s.url, { authkey: "right" });
      assert.equal(await ok.count(), 1);
      await ok.$close();
    } finally {
      await s.close();
    }
  });

  it("drops a client that does not answer the challenge within handshakeTimeout", async () => {
    const s = await serve(byteLength(), "ws://127.0.0.1:0/rpc", { authkey: "k", handshakeTimeout: 100 });
    try {
      const raw = new WebSocket(s.url);
      const [challenge] = await nextEvent<[Buffer]>(raw, "message");
      assert.ok(challenge.toString("latin1").startsWith("#CHALLENGE#{sha256}"));
      const [code, reason] = await nextEvent<[number, Buffer]>(raw, "close");
      assert.equal(code, 4000);
      assert.match(reason.toString(), /^AUTH_FAILED: /);
    } finally {
      await s.close();
    }
  });

  it("a client gives up on a server that never sends the challenge", async () => {
    const silent = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await nextEvent(silent, "listening");
    const peers: WebSocket[] = [];
    silent.on("connection", (ws) => peers.push(ws));
    try {
      const url = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
      await assert.rejects(connect(url, { authkey: "k", handshakeTimeout: 150 }), rejectsWith("AUTH_FAILED"));
    } finally {
      for (const p of peers) p.terminate();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe("ws: keepalive", () => {
  it("the server drops a client that stops answering pings and aborts its calls", { timeout: 10_000 }, async () => {
    const pr = newProbes();
    const s = await serve(makeHandler(pr), "ws://127.0.0.1:0/rpc", { keepAlive: 30 });
    try {
      const raw = await rawClient(s.url, { autoPong: false });
      raw.send(JSON.stringify([0, 1, "wait", ["ka-server"]]));
      await slot(pr.started, "ka-server").promise;
      const closed = nextEvent<[number]>(raw, "close");
      const reason = (await slot(pr.aborted, "ka-server").promise) as RpcError;
      assert.equal(reason.code, "CONNECTION_CLOSED");
      assert.equal((reason.cause as RpcError).code, "CONNECTION_CLOSED");
      assert.match((reason.cause as RpcError).message, /ping/);
      assert.equal((await closed)[0], 1006);
    } finally {
      await s.close();
    }
  });

  it("a client drops a server that stops answering pings; pending calls fail with CONNECTION_CLOSED", { timeout: 10_000 }, async () => {
    // A server that does the hello, then swallows calls and never pongs.
    const dead = new WebSocketServer({ host: "127.0.0.1", port: 0, autoPong: false });
    await nextEvent(dead, "listening");
    const peers: WebSocket[] = [];
    dead.on("connection", (ws) => {
      peers.push(ws);
      ws.once("message", () => ws.send(JSON.stringify({ wirecall: 1, serializer: "json" })));
    });
    try {
      const p = await connect(`ws://127.0.0.1:${(dead.address() as AddressInfo).port}/`, { keepAlive: 30 });
      // The timeout only bounds the test: keepalive must win long before it.
      await assert.rejects(p.$call("anything", [], undefined, { timeout: 10_000 }), rejectsWith("CONNECTION_CLOSED", "CONNECTION_CLOSED"));
      await p.$close();
    } finally {
      for (const ws of peers) ws.terminate();
      await new Promise((resolve) => dead.close(resolve));
    }
  });

  it("keeps an idle connection whose peer answers pings", { timeout: 10_000 }, async () => {
    const live = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await nextEvent(live, "listening");
    const peers: WebSocket[] = [];
    const pinged = new Deferred<void>();
    live.on("connection", (ws) => {
      peers.push(ws);
      let pings = 0;
      ws.on("ping", () => {
        if (++pings === 3) pinged.resolve();
      });
      ws.on("message", (m: Buffer, isBinary: boolean) => {
        const text = m.toString();
        if (!isBinary && text.startsWith('{"wirecall"')) ws.send(JSON.stringify({ wirecall: 1, serializer: "json" }));
        else ws.send(JSON.stringify([1, (JSON.parse(text) as [number, number])[1], "alive"]));
      });
    });
    try {
      const p = await connect(`ws://127.0.0.1:${(live.address() as AddressInfo).port}/`, { keepAlive: 150 });
      // 150 ms, not less: under a loaded CI machine an event-loop stall longer than the interval is
      // indistinguishable from a silent peer, and this test is about answered pings keeping the link.
      await pinged.promise; // three intervals passed, each ping answered
      assert.equal(await p.$call("status", [], undefined, { timeout: 5000 }), "alive");
      await p.$close();
    } finally {
      for (const ws of peers) ws.terminate();
      await new Promise((resolve) => live.close(resolve));
    }
  });
});

describe("ws: reconnect", () => {
  it("reconnects with backoff after the server restarts on the same port", async () => {
    const pr = newProbes();
    const s1 = await serve(makeHandler(pr), "ws://127.0.0.1:0/rpc", { closeTimeout: 10 });
    const url = s1.url;
    const p = await connect(url, { reconnect: { minDelay: 10, maxDelay: 50 }, onError: () => {} });
    let s2: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      assert.equal(await p.add(1, 1), 2);
      // A call in flight when the server goes fails; its failure says the client saw the loss.
      const inFlight = p.wait("reconnect");
      await slot(pr.started, "reconnect").promise;
      await s1.close();
      await assert.rejects(inFlight, rejectsWith("CONNECTION_CLOSED"));
      // Made while the server is down: queued until the new connection is ready.
      const later = p.$call("who", [], undefined, { timeout: 10_000 });
      const h2 = new RPCHandler();
      h2.register("who", () => "second");
      s2 = await serve(h2, url);
      assert.equal(await later, "second");
      assert.equal(await p.who(), "second");
    } finally {
      await p.$close();
      await s2?.close();
    }
  });
});

describe("ws: backpressure", () => {
  async function acceptOne(path: string): Promise<{ url: string; conn: Promise<Connection>; close: () => Promise<void> }> {
    const got = new Deferred<Connection>();
    const listener = await wsTransport.listen(new URL(`ws://127.0.0.1:0${path}`), { keepAlive: 0 }, (c) => got.resolve(c));
    return { url: listener.url, conn: got.promise, close: () => listener.close() };
  }

  function sinkOf(frames: Uint8Array[], onDrain?: () => void, onFrame?: () => void): ConnectionSink {
    return {
      frame: (f) => {
        frames.push(f);
        onFrame?.();
      },
      drain: () => onDrain?.(),
      close: () => {},
    };
  }

  it("send() returns false above the high-water mark while the peer does not read, and drain fires when it does", async () => {
    const ep = await acceptOne("/out");
    const peer = new WebSocket(ep.url);
    await nextEvent(peer, "open");
    try {
      const conn = await ep.conn;
      const drained = new Deferred<void>();
      conn.open(sinkOf([], () => drained.resolve()));
      peer.pause();
      let received = 0;
      peer.on("message", () => received++);
      const chunk = new Uint8Array(256 * 1024);
      let sent = 0;
      // Each send is given a turn of the event loop to reach the kernel; once the
      // peer's and our socket buffers are full, bytes stay with us and send() says so.
      while (conn.send(chunk)) {
        sent++;
        assert.ok(sent < 2000, "send() never reported backpressure");
        await new Promise((r) => setImmediate(r));
      }
      sent++;
      peer.resume();
      await drained.promise;
      while (received < sent) await nextEvent(peer, "message");
      assert.equal(received, sent);
      conn.close();
    } finally {
      peer.terminate();
      await ep.close();
    }
  });

  it("pause() stops reading from the socket, resume() delivers everything in order", async () => {
    const ep = await acceptOne("/in");
    const peer = new WebSocket(ep.url);
    await nextEvent(peer, "open");
    try {
      const conn = await ep.conn;
      const frames: Uint8Array[] = [];
      let wanted = Infinity;
      const all = new Deferred<void>();
      conn.open(sinkOf(frames, undefined, () => frames.length === wanted && all.resolve()));
      conn.pause();
      const chunk = new Uint8Array(64 * 1024);
      let sent = 0;
      // If the server kept reading, the peer's buffer would never grow.
      while (peer.bufferedAmount < 2 * 1024 * 1024) {
        chunk[0] = sent & 0xff;
        peer.send(chunk);
        sent++;
        assert.ok(sent < 8000, "the peer's buffer never grew: the paused side kept reading");
        await new Promise((r) => setImmediate(r));
      }
      // A few messages may have been parsed from the last chunk read; none were delivered.
      assert.equal(frames.length, 0);
      wanted = sent;
      conn.resume();
      await all.promise;
      assert.equal(frames.length, sent);
      frames.forEach((f, i) => assert.equal(f[0], i & 0xff));
      conn.close();
    } finally {
      peer.terminate();
      await ep.close();
    }
  });

  it("a server stops reading calls from a client that does not read its replies", async () => {
    let served = 0;
    const h = new RPCHandler();
    h.register("blob", (_pad: string) => {
      served++;
      return "z".repeat(256 * 1024);
    });
    const s = await serve(h, "ws://127.0.0.1:0/rpc", { keepAlive: 0 });
    const raw = await rawClient(s.url);
    try {
      raw.pause(); // never read a reply
      const pad = "p".repeat(64 * 1024);
      let sent = 0;
      while (raw.bufferedAmount < 2 * 1024 * 1024) {
        raw.send(JSON.stringify([0, ++sent, "blob", [pad]]));
        assert.ok(sent < 8000, "the server kept reading although its replies could not be sent");
        await new Promise((r) => setImmediate(r));
      }
      // Replies held by the server are bounded by its high-water mark and the
      // socket buffers, not by how much the client sends.
      assert.ok(served * 256 * 1024 < 64 * 1024 * 1024, `served ${served} calls`);
      assert.ok(served < sent, `served ${served} of ${sent}`);
    } finally {
      raw.terminate();
      await s.close();
    }
  });
});
