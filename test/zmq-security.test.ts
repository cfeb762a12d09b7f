/**
 * ZeroMQ security: the authkey challenge per peer identity (DEALER clients)
 * and CURVE, with and without a client allow-list; plus the lifetime of
 * idle peers and the missing-`zeromq` error.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { after, before, describe, it } from "node:test";
import { curveKeyPair } from "zeromq";
import { EventEmitter } from "node:events";
import { RPCHandler, connect, registerTransport, serve, type RpcError, type Server } from "../src/index.js";
import { type Transport } from "../src/transport-sdk.js";
import { serveWorker, startBroker, zmqTransport } from "../transports/zmq/index.js";
import { importOptional } from "../transports/zmq/load-zeromq.js";
import { FIXTURES, HandshakeReports, run, within } from "./zmq-fixtures.js";

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  return h;
}

describe("zmq: authkey", () => {
  let server: Server;
  before(async () => {
    server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo" });
  });
  after(async () => server?.close());

  for (const serializer of ["json", "msgpack"]) {
    it(`authenticates a DEALER client (${serializer})`, async () => {
      const proxy = await connect(server.url, { authkey: "peekaboo", serializer });
      assert.equal(await proxy.add(2, 3), 5);
      await proxy.$close();
    });
  }

  it("refuses a wrong key with AUTH_FAILED", async () => {
    await assert.rejects(connect(server.url, { authkey: "wrong" }), (e: RpcError) => e.code === "AUTH_FAILED");
  });

  it("tells a client without a key that the server wants one", async () => {
    await assert.rejects(connect(server.url), (e: RpcError) => e.code === "AUTH_FAILED" && /requires an authkey/.test(e.message));
  });

  it("fails a client with a key against a server without one", async () => {
    const open = await serve(handler(), "zmq+tcp://127.0.0.1:0");
    await assert.rejects(connect(open.url, { authkey: "peekaboo" }), (e: RpcError) => e.code === "AUTH_FAILED");
    await open.close();
  });

  it("refuses an authkey on a worker behind a broker", async () => {
    await assert.rejects(serve(handler(), "zmq+tcp://127.0.0.1:1", { connect: true, authkey: "peekaboo" }), (e: RpcError) => e.code === "INVALID_URL");
  });
});

describe("zmq: CURVE", () => {
  const serverKeys = curveKeyPair();
  const allowed = curveKeyPair();
  const other = curveKeyPair();
  let open: Server;
  let listed: Server;
  const reports = new HandshakeReports();
  before(async () => {
    open = await serve(handler(), "zmq+tcp://127.0.0.1:0", { curveSecretKey: serverKeys.secretKey });
    listed = await serve(handler(), "zmq+tcp://127.0.0.1:0", { curveSecretKey: serverKeys.secretKey, curveClientKeys: [allowed.publicKey], onHandshakeError: reports.hook });
  });
  after(async () => {
    await open?.close();
    await listed?.close();
  });

  it("connects a client that knows the server key (the key may come from the URL)", async () => {
    const proxy = await connect(`${open.url}?curveServerKey=${encodeURIComponent(serverKeys.publicKey)}`, { serializer: "msgpack" });
    assert.equal(await proxy.add(1, 2), 3);
    await proxy.$close();
  });

  it("refuses a client without CURVE, or with a wrong server key", async () => {
    await assert.rejects(connect(open.url, { handshakeTimeout: 3000 }), (e: RpcError) => e.code === "AUTH_FAILED");
    await assert.rejects(connect(open.url, { curveServerKey: other.publicKey, handshakeTimeout: 3000 }), (e: RpcError) => e.code === "AUTH_FAILED");
  });

  it("admits only listed client keys (ZAP), and reports the refused one", async () => {
    const proxy = await connect(listed.url, { curveServerKey: serverKeys.publicKey, curvePublicKey: allowed.publicKey, curveSecretKey: allowed.secretKey });
    assert.equal(await proxy.add(2, 2), 4);
    await proxy.$close();
    // The ZAP handler refuses it, and says from which address.
    const reported = reports.next("127.0.0.1");
    await assert.rejects(
      connect(listed.url, { curveServerKey: serverKeys.publicKey, curvePublicKey: other.publicKey, curveSecretKey: other.secretKey, handshakeTimeout: 3000 }),
      (e: RpcError) => e.code === "AUTH_FAILED",
    );
    assert.equal((await reported).code, "AUTH_FAILED");
  });

  it("secures both sides of a broker: clients at the frontend, workers at the backend", async () => {
    const front = curveKeyPair();
    const back = curveKeyPair();
    const broker = await startBroker("zmq+tcp://127.0.0.1:0", "zmq+tcp://127.0.0.1:0", {
      frontend: { curveSecretKey: front.secretKey },
      backend: { curveSecretKey: back.secretKey },
    });
    await assert.rejects(serveWorker(handler(), broker.backendUrl, { handshakeTimeout: 3000 }), (e: RpcError) => e.code === "AUTH_FAILED");
    const worker = await serveWorker(handler(), broker.backendUrl, { curveServerKey: back.publicKey });
    await broker.waitForWorkers(1);
    const proxy = await connect(broker.frontendUrl, { curveServerKey: front.publicKey, serializer: "msgpack", timeout: 5000 });
    assert.equal(await proxy.add(20, 22), 42);
    await proxy.$close();
    await worker.close();
    await broker.close();
  });

  it("refuses a secret key in a URL", async () => {
    await assert.rejects(connect(`${open.url}?curveSecretKey=${encodeURIComponent(other.secretKey)}`), (e: RpcError) => e.code === "INVALID_URL");
  });
});

describe("zmq: peer lifetime", () => {
  // The server has no session events of its own, so the zmq transport is
  // wrapped at the seam: every connection handed to the core, and every one
  // ended (its sink's close, called exactly once), is an event.
  const changed = new EventEmitter();
  /** Sessions handed to the core so far: a reply proves its session was accepted, whatever expired since. */
  let accepted = 0;
  const observed: Transport = {
    ...zmqTransport,
    listen: (url, options, accept) =>
      zmqTransport.listen(url, options, (conn) => {
        const open = conn.open.bind(conn);
        conn.open = (sink) =>
          open({
            frame: (f) => sink.frame(f),
            drain: () => sink.drain(),
            close: (err) => {
              sink.close(err);
              changed.emit("change");
            },
          });
        accepted++;
        accept(conn);
        changed.emit("change");
      }),
  };
  before(() => registerTransport(observed));
  after(() => registerTransport(zmqTransport));

  /** Wait (bounded) until the server holds `n` sessions. */
  async function sessions(server: Server, n: number): Promise<void> {
    const count = (): number => (server as unknown as { connections: number }).connections;
    let check: (() => void) | undefined;
    const reached = new Promise<void>((resolve) => {
      check = () => {
        if (count() === n) resolve();
      };
      changed.on("change", check);
      check();
    });
    try {
      await within(reached, 5000, `the server never held ${n} sessions`);
    } finally {
      changed.off("change", check as () => void);
    }
  }

  it("ends a silent peer's session after peerIdleTimeout; a later call opens a new one", async (t) => {
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { peerIdleTimeout: 150 });
    t.after(() => server.close());
    // Counted, not polled: on a loaded machine the session may already have expired when a poll looks.
    const first = accepted;
    const proxy = await connect(server.url, { serializer: "msgpack" });
    t.after(() => proxy.$close());
    assert.equal(await proxy.add(1, 1), 2);
    assert.equal(accepted, first + 1);
    await sessions(server, 0);
    // The client repeats its hello before each payload: the new session decodes msgpack at once.
    assert.equal(await proxy.add(2, 2), 4);
    assert.equal(accepted, first + 2, "the later call opened a new session");
    await proxy.$close();
    await server.close();
  });

  it("binds zmq+ipc://* to a fresh path in the temp directory and removes the file on close", async () => {
    const server = await serve(handler(), "zmq+ipc://*");
    const path = decodeURIComponent(new URL(server.url).pathname);
    assert.ok(path.startsWith(tmpdir()) && existsSync(path), server.url);
    const proxy = await connect(server.url);
    assert.equal(await proxy.add(1, 2), 3);
    await proxy.$close();
    await server.close();
    assert.equal(existsSync(path), false);
  });

  it("ends the session when the client says goodbye", async (t) => {
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0");
    t.after(() => server.close());
    const proxy = await connect(server.url);
    t.after(() => proxy.$close());
    assert.equal(await proxy.add(1, 1), 2);
    await sessions(server, 1);
    await proxy.$close();
    await sessions(server, 0);
    await server.close();
  });

  it("makes an authenticated client whose session expired start over", async (t) => {
    const server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo", peerIdleTimeout: 150 });
    t.after(() => server.close());
    const proxy = await connect(server.url, { authkey: "peekaboo" });
    t.after(() => proxy.$close());
    assert.equal(await proxy.add(1, 1), 2);
    await sessions(server, 0);
    await assert.rejects(proxy.add(2, 2), (e: RpcError) => e.code === "CONNECTION_CLOSED");
    await proxy.$close();
    const again = await connect(server.url, { authkey: "peekaboo" });
    assert.equal(await again.add(2, 2), 4);
    await again.$close();
    await server.close();
  });
});

describe("zmq: without the zeromq package", () => {
  it("names the package to install", async () => {
    await assert.rejects(importOptional("zeromq-not-installed-here"), (e: RpcError) => e.code === "MISSING_DEPENDENCY" && /npm install zeromq-not-installed-here/.test(e.message));
  });

  it("loads wirecall/zmq lazily and fails zmq+ URLs with MISSING_DEPENDENCY", async () => {
    const { stdout, stderr, code } = await run(process.execPath, [`${FIXTURES}without-zeromq.mjs`]);
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as Record<string, { code?: string; message?: string } | boolean>;
    assert.equal(out.loaded, true);
    for (const name of ["connect", "serve"]) {
      const r = out[name] as { code: string; message: string };
      assert.equal(r.code, "MISSING_DEPENDENCY");
      assert.match(r.message, /npm install zeromq\b/);
    }
  });
});
