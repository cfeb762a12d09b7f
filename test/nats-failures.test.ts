/**
 * nats:// edges, in process against real nats-servers: no responders,
 * authkey refused, NATS security passed through (token, user/password,
 * nkeys, TLS), frames above max_payload in parts, above maxFrameSize
 * refused, plain NATS requests from a raw client (calls and garbage), the
 * optional package missing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { connect as natsConnect, nkeys } from "@nats-io/transport-node";
import { RPCHandler, RpcError, connect, locateNS, serve, startNameServer, type AnyRemote, type CallContext } from "../src/index.js";
import { importNats } from "../transports/nats/load-nats.js";
import "../transports/nats/index.js";
import { registerAbortProbe } from "./support/abort-probe.js";
import { startNatsServer, type NatsServer } from "./support/nats-server.js";
import { makeTestCerts } from "./tcp-certs.js";

const FAST = { heartbeat: 200 };

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  h.register("echo", (v: unknown) => v);
  h.register("size", (v: Uint8Array) => v.byteLength);
  h.register("hold", (ctx: CallContext) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))), { context: true });
  return h;
}

const dir = mkdtempSync(join(tmpdir(), "wirecall-nats-"));

// Whatever a test opened is closed after it, even when it failed half-way (nothing keeps the file alive).
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  const all = opened.splice(0);
  await Promise.all(all.map((o) => o.close().catch(() => {})));
});
async function srv(...args: Parameters<typeof serve>): Promise<Awaited<ReturnType<typeof serve>>> {
  const s = await serve(...args);
  opened.push(s);
  return s;
}
async function cli(url: string, options?: Parameters<typeof connect>[1]): Promise<AnyRemote> {
  const p = await connect(url, options);
  opened.push({ close: () => p.$close() });
  return p;
}
after(() => rmSync(dir, { recursive: true, force: true }));

/** A nats-server with a configuration file (for what its command line cannot say). */
function withConfig(name: string, text: string): Promise<NatsServer> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, text);
  return startNatsServer({ args: ["-c", file] });
}

describe("nats: no responders, authkey, missing package", () => {
  let ns: NatsServer;
  before(async () => {
    ns = await startNatsServer();
  });
  after(() => ns.kill());

  it("connect() to a subject nobody serves fails at once with CONNECT_FAILED (no responders), not a timeout", async () => {
    const t0 = Date.now();
    await assert.rejects(connect(`${ns.url}/nobody.here`, { timeout: 30_000 }), (e: RpcError) => {
      assert.equal(e.code, "CONNECT_FAILED");
      assert.match(e.message, /no server serves 'nobody\.here'.*no responders/);
      assert.deepEqual(e.data, { noResponders: true, subject: "nobody.here" });
      return true;
    });
    assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
  });

  it("a call after the only worker closed fails at once with CONNECTION_CLOSED", async () => {
    const server = await srv(handler(), `${ns.url}/`);
    const proxy = await cli(server.url, FAST);
    assert.equal(await proxy.add(1, 2), 3);
    await server.close();
    const t0 = Date.now();
    await assert.rejects(proxy.$call("add", [1, 2], undefined, { timeout: 30_000 }), { code: "CONNECTION_CLOSED" });
    // Once the lane is gone, the caller asks NATS again: nobody.
    await assert.rejects(proxy.$call("add", [1, 2], undefined, { timeout: 30_000 }), (e: RpcError) => e.code === "CONNECTION_CLOSED" && (e.data as { noResponders?: boolean })?.noResponders === true);
    assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
    // A worker that starts later is found by the same proxy.
    const again = await srv(handler(), server.url);
    assert.equal(await proxy.add(2, 2), 4);
    await proxy.$close();
    await again.close();
  });

  it("a worker that starts later announces itself: a connected caller opens a lane to it without being asked", async () => {
    const first = await srv(handler(), `${ns.url}/late.svc`);
    const proxy = await cli(first.url, FAST);
    const caller = proxy.$caller as unknown as { workers: number };
    assert.equal(caller.workers, 1);
    await srv(handler(), `${ns.url}/late.svc`);
    // Bounded wait for the announcement (no call, no discovery from this side).
    const end = Date.now() + 10_000;
    while (caller.workers < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(caller.workers, 2);
  });

  it("the wirecall authkey is refused on both sides, and WIRECALL_AUTHKEY unless authkey: false", async () => {
    await assert.rejects(serve(handler(), `${ns.url}/x`, { authkey: "secret" }), (e: RpcError) => e.code === "INVALID_URL" && /does not use the wirecall authkey/.test(e.message));
    await assert.rejects(connect(`${ns.url}/x`, { authkey: "secret" }), (e: RpcError) => e.code === "INVALID_URL" && /authkey/.test(e.message));
    process.env.WIRECALL_AUTHKEY = "from-env";
    try {
      await assert.rejects(serve(handler(), `${ns.url}/x`), (e: RpcError) => e.code === "INVALID_URL" && /WIRECALL_AUTHKEY/.test(e.message));
      const server = await srv(handler(), `${ns.url}/`, { authkey: false });
      const proxy = await cli(server.url, { authkey: false });
      assert.equal(await proxy.add(1, 1), 2);
      await proxy.$close();
      await server.close();
    } finally {
      delete process.env.WIRECALL_AUTHKEY;
    }
  });

  it("secrets and bad subjects in the URL are refused", async () => {
    await assert.rejects(connect(`${ns.url}/x?token=abc`), (e: RpcError) => e.code === "INVALID_OPTION" && /'token' cannot be given in a URL's query string/.test(e.message));
    await assert.rejects(connect(`${ns.url}/x?authkey=abc`), (e: RpcError) => e.code === "INVALID_URL" && /'authkey' must not be in a URL/.test(e.message));
    await assert.rejects(serve(handler(), `${ns.url}/a.*.b`), { code: "INVALID_URL" });
    await assert.rejects(connect(`${ns.url}/`), (e: RpcError) => e.code === "INVALID_URL" && /needs the subject/.test(e.message));
  });

  it("options are declared once: an unknown name or a wrong value is INVALID_OPTION naming it", async () => {
    await assert.rejects(connect(`${ns.url}/x`, { heartbeet: 100 }), (e: RpcError) => e.code === "INVALID_OPTION" && /'heartbeet'.*did you mean 'heartbeat'/.test(e.message));
    await assert.rejects(connect(`${ns.url}/x?livenessTimeout=soon`), (e: RpcError) => e.code === "INVALID_OPTION" && /livenessTimeout/.test(e.message));
    await assert.rejects(serve(handler(), `${ns.url}/x`, { queue: 7 }), (e: RpcError) => e.code === "INVALID_OPTION" && /'queue' must be a string/.test(e.message));
    // Query options reach the transport as their type.
    const server = await srv(handler(), `${ns.url}/?heartbeat=150&queue=q1`);
    const proxy = await cli(`${server.url}`, { heartbeat: 150 });
    assert.equal(await proxy.add(1, 2), 3);
  });

  it("the name server registers nats:// URLs like any other: publish, PYRONAME:, objects by URL", async () => {
    const names = await startNameServer("tcp://127.0.0.1:0", { authkey: false });
    opened.push(names);
    const h = handler();
    h.registerInstance({ twice: (x: number) => 2 * x }, "calc");
    const server = await srv(h, `${ns.url}/named.svc`);
    await (server as unknown as { publish(name: string, o: object): Promise<void> }).publish("math.calc", { nameserver: names.url, nameserverOptions: { authkey: false }, object: "calc", ttl: 5000 });
    const ns2 = await locateNS(names.url, { authkey: false });
    opened.push({ close: () => ns2.close() });
    assert.equal(await ns2.lookup("math.calc"), `${ns.url}/named.svc#calc`);
    const nsUrl = new URL(names.url);
    const proxy = await cli(`PYRONAME:math.calc@${nsUrl.hostname}:${nsUrl.port}`, { heartbeat: 200, authkey: false, nameserverOptions: { authkey: false } } as object);
    assert.equal(await proxy.twice(21), 42);
  });

  it("a missing NATS client package is MISSING_DEPENDENCY naming it", async () => {
    await assert.rejects(importNats("@nats-io/transport-node-not-installed"), (e: RpcError) => e.code === "MISSING_DEPENDENCY" && /npm install @nats-io\/transport-node-not-installed/.test(e.message));
  });

  it("plain NATS requests from any client: a JSON call is answered once, garbage gets PROTOCOL_ERROR, the worker keeps serving", async () => {
    const server = await srv(handler(), `${ns.url}/plain.svc`);
    const nc = await natsConnect({ servers: ns.url });
    try {
      const dec = new TextDecoder();
      const reply = await nc.request("plain.svc", '[0, 1, "add", [2, 3]]', { timeout: 5000 });
      assert.deepEqual(JSON.parse(dec.decode(reply.data)), [1, 1, 5]);
      const bad = await nc.request("plain.svc", new Uint8Array([0xff, 0x00, 0x13]), { timeout: 5000 });
      const err = JSON.parse(dec.decode(bad.data)) as [number, null, { code: string }];
      assert.equal(err[0], 2);
      assert.equal(err[2].code, "PROTOCOL_ERROR");
      // Connections opened by plain requests answered once and closed.
      assert.equal((server as unknown as { connections: number }).connections, 0);
      const proxy = await cli(server.url, FAST);
      assert.equal(await proxy.add(1, 1), 2);
      await proxy.$close();
    } finally {
      await nc.close();
      await server.close();
    }
  });

  it("a caller closing ends the worker's calls for it at once (ctx.signal, CONNECTION_CLOSED)", async () => {
    const h = handler();
    const { started: startedP, aborted: abortedP } = registerAbortProbe(h);
    const server = await srv(h, `${ns.url}/`);
    const proxy = await cli(server.url, FAST);
    const call = proxy.wait().catch((e: RpcError) => e);
    await startedP;
    await proxy.$close();
    assert.equal(((await call) as RpcError).code, "CONNECTION_CLOSED");
    assert.equal(((await abortedP) as RpcError).code, "CONNECTION_CLOSED");
    await server.close();
  });
});

describe("nats: frames and max_payload", () => {
  let ns: NatsServer;
  before(async () => {
    ns = await withConfig("small", "listen: 127.0.0.1:-1\nmax_payload: 4096\n");
  });
  after(() => ns.kill());

  it("a frame above the server's max_payload travels in parts, both ways, every serializer", async () => {
    const server = await srv(handler(), `${ns.url}/`);
    for (const serializer of ["json", "msgpack", "superjson"]) {
      const proxy = await cli(server.url, { ...FAST, serializer });
      const text = "é".repeat(100_000);
      assert.equal(await proxy.echo(text), text);
      if (serializer === "msgpack") {
        const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
        assert.deepEqual(new Uint8Array((await proxy.echo(bytes)) as Uint8Array), bytes);
      }
      await proxy.$close();
    }
    await server.close();
  });

  it("a frame above maxFrameSize is refused with PAYLOAD_TOO_LARGE naming the limit: by the sender, and by a receiver with a lower limit", async () => {
    const server = await srv(handler(), `${ns.url}/`, { maxFrameSize: 100_000 });
    const proxy = await cli(server.url, { ...FAST, maxFrameSize: 200_000, serializer: "msgpack" });
    await assert.rejects(proxy.size(new Uint8Array(300_000)), (e: RpcError) => {
      assert.equal(e.code, "CONNECTION_CLOSED");
      assert.equal((e.cause as RpcError).code, "PAYLOAD_TOO_LARGE");
      assert.match(e.message, /exceeds maxFrameSize 200000/);
      return true;
    });
    await assert.rejects(proxy.size(new Uint8Array(150_000)), (e: RpcError) => {
      assert.equal(e.code, "CONNECTION_CLOSED");
      assert.match(e.message, /exceeds maxFrameSize 100000/);
      return true;
    });
    // The lane is replaced: small calls go on.
    assert.equal(await proxy.size(new Uint8Array(10)), 10);
    await proxy.$close();
    await server.close();
  });
});

describe("nats: NATS's own security passed through", () => {
  it("token: right token works, a wrong one is AUTH_FAILED", async () => {
    const ns = await startNatsServer({ args: ["--auth", "s3cret-token"] });
    try {
      const server = await srv(handler(), `${ns.url}/`, { token: "s3cret-token" });
      const proxy = await cli(server.url, { token: "s3cret-token" });
      assert.equal(await proxy.add(2, 2), 4);
      await proxy.$close();
      await assert.rejects(connect(server.url, { token: "wrong", handshakeTimeout: 5000 }), { code: "AUTH_FAILED" });
      await assert.rejects(connect(server.url, { handshakeTimeout: 5000 }), { code: "AUTH_FAILED" });
      await server.close();
    } finally {
      await ns.kill();
    }
  });

  it("user and password", async () => {
    const ns = await startNatsServer({ args: ["--user", "alice", "--pass", "pw-alice"] });
    try {
      const server = await srv(handler(), `${ns.url}/`, { user: "alice", pass: "pw-alice" });
      const proxy = await cli(server.url, { user: "alice", pass: "pw-alice" });
      assert.equal(await proxy.add(2, 3), 5);
      await proxy.$close();
      await assert.rejects(connect(server.url, { user: "alice", pass: "nope", handshakeTimeout: 5000 }), { code: "AUTH_FAILED" });
      await server.close();
    } finally {
      await ns.kill();
    }
  });

  it("nkeys: a seed signs the server's nonce", async () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const ns = await withConfig("nkey", `listen: 127.0.0.1:-1\nauthorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
    try {
      const server = await srv(handler(), `${ns.url}/`, { nkeySeed: seed });
      const proxy = await cli(server.url, { nkeySeed: seed });
      assert.equal(await proxy.add(3, 3), 6);
      await proxy.$close();
      await assert.rejects(connect(server.url, { nkeySeed: new TextDecoder().decode(nkeys.createUser().getSeed()), handshakeTimeout: 5000 }), { code: "AUTH_FAILED" });
      await server.close();
    } finally {
      await ns.kill();
    }
  });

  it("TLS: nats+tls:// with the server's CA", async () => {
    const certs = makeTestCerts();
    const cert = join(dir, "server.crt");
    const key = join(dir, "server.key");
    writeFileSync(cert, certs.server.cert);
    writeFileSync(key, certs.server.key);
    const ns = await withConfig("tls", `listen: 127.0.0.1:-1\ntls { cert_file: "${cert}"\n key_file: "${key}" }\n`);
    try {
      const url = `nats+tls://127.0.0.1:${ns.port}/tls.svc`;
      const server = await srv(handler(), url, { tls: { caFile: cert } });
      const proxy = await cli(url, { tls: { caFile: cert } });
      assert.equal(await proxy.add(4, 4), 8);
      await proxy.$close();
      // Without the CA, the self-signed certificate is not trusted.
      await assert.rejects(connect(url, { handshakeTimeout: 5000 }), (e: RpcError) => e instanceof RpcError && e.code === "CONNECT_FAILED");
      await server.close();
    } finally {
      await ns.kill();
    }
  });
});
