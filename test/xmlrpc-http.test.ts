/**
 * XML-RPC over HTTP with wirecall on both ends, and raw HTTP for what a
 * proper client never sends: real sockets on 127.0.0.1, port 0.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { RPCHandler, RemoteError, RpcError, connect, kw, registerError, serve, type AnyRemote, type CallContext, type Server } from "../src/index.js";
import { getTransport } from "../src/transport-sdk.js";
import { attachXmlRpc, multicall, type XmlRpcServer } from "../transports/xmlrpc/index.js";
import { fixtures, interopHandler, pattern } from "./fixtures/xmlrpc/support.js";
import { Deferred } from "./support/async.js";

class QuotaError extends Error {
  override name = "QuotaError";
}
registerError(QuotaError);

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a fresh connection (no agent), whatever its method, headers or body. */
function raw(port: number, opts: { method?: string; path?: string; headers?: Record<string, string | number>; body?: string | Buffer }): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: opts.method ?? "POST", path: opts.path ?? "/RPC2", headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const xmlCall = (method: string, params = ""): string =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params}</params></methodCall>`;

function faultCodeOf(body: Buffer): number | undefined {
  const m = /<name>faultCode<\/name>\s*<value><int>(-?\d+)<\/int>/.exec(body.toString());
  return m ? Number(m[1]) : undefined;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe("wirecall <-> wirecall over XML-RPC", () => {
  let server: Server;
  let proxy: AnyRemote;
  const notified = new Deferred<unknown[]>();
  const entered = new Deferred();
  const aborted = new Deferred<string>();

  before(async () => {
    const h = interopHandler();
    h.register("quota", () => {
      throw Object.assign(new QuotaError("too many calls"), { code: "E_QUOTA", data: { limit: 3 } });
    });
    h.register("record", (...args: unknown[]) => notified.resolve(args));
    h.register(
      "hang",
      (ctx: CallContext) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener("abort", () => {
            aborted.resolve((ctx.signal.reason as RpcError).code);
            reject(ctx.signal.reason);
          });
          entered.resolve();
        }),
      { context: true },
    );
    server = await serve(h, "xmlrpc+http://127.0.0.1:0");
    proxy = await connect(server.url);
  });
  after(async () => {
    await proxy.$close();
    await server.close();
  });

  it("reports its URL with the real port and the default /RPC2 path", () => {
    assert.match(server.url, /^xmlrpc\+http:\/\/127\.0\.0\.1:\d+\/RPC2$/);
    assert.notEqual(portOf(server.url), 0);
  });

  it("carries every mapped type both ways", async () => {
    const v = {
      i: 7, d: 2.5, neg0: -0, big: 2n ** 62n, t: true, s: "é ✓ <&>\r\n", when: new Date("2024-02-29T12:00:01Z"),
      bytes: new Uint8Array([0, 255, 7]), list: [1, [2, [3]]], nested: { "": null, "__proto__": "key" },
    };
    Object.defineProperty(v.nested, "__proto__", { value: "key", enumerable: true });
    assert.deepStrictEqual(await proxy.echo(v), v);
    assert.equal(await proxy.big(), 2n ** 40n);
    assert.equal(await proxy.nothing(), null);
    assert.equal(await proxy.add(2, 3), 5);
    assert.equal(await proxy.get_power(2, 10), 1024);
    assert.equal(await proxy.greeter.welcome("Ann"), "Hello, Ann!");
    assert.equal(await proxy.mul(6, 7), 42);
  });

  it("introspection comes from the handler, plus system.multicall", async () => {
    const names = (await proxy.system.listMethods()) as string[];
    for (const n of ["add", "get_power", "greeter.welcome", "mul", "system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall"]) {
      assert.ok(names.includes(n), n);
    }
    assert.deepEqual(names, [...names].sort());
    assert.equal(await proxy.system.methodHelp("add"), "Add two numbers.");
    assert.equal(await proxy.system.methodSignature("add"), "add(x, y)");
  });

  it("faults keep the code, name, message and data; registered classes are rebuilt", async () => {
    const e1 = (await proxy.fail("boom").catch((e: unknown) => e)) as RemoteError & { faultCode: number };
    assert.ok(e1 instanceof RemoteError);
    assert.equal(e1.name, "RangeError");
    assert.equal(e1.message, "boom");
    assert.equal(e1.code, "REMOTE_ERROR");
    assert.equal(e1.faultCode, -32500);
    const e2 = (await proxy.quota().catch((e: unknown) => e)) as QuotaError & { code: string; data: unknown };
    assert.ok(e2 instanceof QuotaError);
    assert.equal(e2.code, "E_QUOTA");
    assert.deepEqual(e2.data, { limit: 3 });
    await assert.rejects(proxy.no_such(), (e: RpcError & { faultCode: number }) => e.code === "METHOD_NOT_FOUND" && e.faultCode === -32601);
    await assert.rejects(proxy.greeter._secret(), (e: RpcError) => e.code === "METHOD_NOT_FOUND");
    await assert.rejects(proxy.add(1), (e: RpcError & { faultCode: number }) => e.code === "INVALID_PARAMS" && e.faultCode === -32602);
  });

  it("keyword arguments are refused before anything is sent", async () => {
    await assert.rejects(proxy.add(1, kw({ y: 2 })), (e: RpcError) => e.code === "INVALID_PARAMS");
    assert.equal(await proxy.$call("add", [1, 2], {}), 3, "empty kwargs are fine");
  });

  it("multicall: raw and settled", async () => {
    const raw = (await proxy.system.multicall([{ methodName: "add", params: [1, 2] }, { methodName: "fail", params: ["x"] }, { methodName: "system.multicall", params: [[]] }])) as unknown[];
    assert.deepEqual(raw[0], [3]);
    assert.equal((raw[1] as { faultCode: number }).faultCode, -32500);
    assert.equal((raw[2] as { faultCode: number }).faultCode, -32602, "no recursive multicall");
    const settled = await multicall(proxy, [["add", 1, 2], ["quota"], ["blob", 3]]);
    assert.deepEqual(settled[0], { status: "fulfilled", value: 3 });
    assert.ok((settled[1] as PromiseRejectedResult).reason instanceof QuotaError);
    assert.deepEqual(settled[2], { status: "fulfilled", value: pattern(3) });
  });

  it("1 MiB up and down", async () => {
    const up = pattern(1 << 20);
    assert.deepEqual(await proxy.echo(up), up);
  });

  it("serves concurrent requests concurrently (20 calls meet at a barrier)", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => proxy.barrier("node-http", 20)));
    assert.deepEqual(results, Array(20).fill(20));
  });

  it("keeps connections alive between calls", async () => {
    const s = await serve(interopHandler(), "xmlrpc+http://127.0.0.1:0");
    let connections = 0;
    (s as unknown as XmlRpcServer).httpServer.on("connection", () => connections++);
    const p = await connect(s.url, { probe: false });
    for (let i = 0; i < 5; i++) assert.equal(await p.add(i, 1), i + 1);
    assert.equal(connections, 1);
    await p.$close();
    await s.close();
  });

  it("a timed-out call rejects with TIMEOUT and the server's handler is aborted", async () => {
    const call = proxy.$call("hang", [], undefined, { timeout: 200 });
    await entered.promise;
    await assert.rejects(call, (e: RpcError) => e.code === "TIMEOUT");
    assert.equal(await aborted.promise, "CONNECTION_CLOSED");
    assert.equal(await proxy.add(1, 1), 2, "the proxy still works");
  });

  it("an AbortSignal cancels a call", async () => {
    const ac = new AbortController();
    const call = proxy.$call("barrier", ["never", 2], undefined, { signal: ac.signal });
    ac.abort();
    await assert.rejects(call, (e: RpcError) => e.code === "CANCELLED");
  });

  it("$notify sends without waiting for the answer", async () => {
    await proxy.$notify("record", 1, "two");
    assert.deepEqual(await notified.promise, [1, "two"]);
  });

  it("calls after $close reject with CONNECTION_CLOSED", async () => {
    const p = await connect(server.url);
    await p.$close();
    await p.$close();
    await assert.rejects(p.add(1, 2), (e: RpcError) => e.code === "CONNECTION_CLOSED");
  });

  it("is a request/response front-end: asking for it as a framed transport is INVALID_URL", async () => {
    await assert.rejects(getTransport("xmlrpc+http"), (e: RpcError) => e.code === "INVALID_URL");
  });
});

describe("bad HTTP input gets a clear error and the server keeps serving", () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = await serve(interopHandler(), "xmlrpc+http://127.0.0.1:0/RPC2", { maxFrameSize: 64 * 1024 });
    port = portOf(server.url);
  });
  after(() => server.close());

  const ok = async (): Promise<void> => {
    const r = await raw(port, { headers: { "Content-Type": "text/xml" }, body: xmlCall("add", "<param><value><int>2</int></value></param><param><value><int>3</int></value></param>") });
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /<int>5<\/int>/);
  };

  it("answers a well-formed call (baseline)", ok);

  it("GET is 405 with Allow: POST", async () => {
    const r = await raw(port, { method: "GET" });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "POST");
    await ok();
  });

  it("an unknown path is 404", async () => {
    const r = await raw(port, { path: "/elsewhere", headers: { "Content-Type": "text/xml" }, body: xmlCall("add") });
    assert.equal(r.status, 404);
    await ok();
  });

  it("a non-XML Content-Type is 415; XML types and none are accepted", async () => {
    for (const type of ["application/json", "text/plain", "application/x-www-form-urlencoded"]) {
      const r = await raw(port, { headers: { "Content-Type": type }, body: xmlCall("add") });
      assert.equal(r.status, 415, type);
    }
    for (const type of ["text/xml; charset=utf-8", "application/xml", "application/rpc+xml"]) {
      const r = await raw(port, { headers: { "Content-Type": type }, body: xmlCall("system.listMethods") });
      assert.equal(r.status, 200, type);
    }
    const r = await raw(port, { body: xmlCall("system.listMethods") });
    assert.equal(r.status, 200, "no Content-Type");
    await ok();
  });

  it("a body over maxFrameSize is 413, by Content-Length or as it streams, and gzip bombs too", async () => {
    const big = xmlCall("echo", `<param><value>${"x".repeat(100 * 1024)}</value></param>`);
    const r1 = await raw(port, { headers: { "Content-Type": "text/xml" }, body: big });
    assert.equal(r1.status, 413);
    const r2 = await raw(port, { headers: { "Content-Type": "text/xml", "Transfer-Encoding": "chunked" }, body: big });
    assert.equal(r2.status, 413);
    const bomb = gzipSync(Buffer.from(xmlCall("echo", `<param><value>${" ".repeat(20 << 20)}</value></param>`)));
    assert.ok(bomb.length < 64 * 1024);
    const r3 = await raw(port, { headers: { "Content-Type": "text/xml", "Content-Encoding": "gzip" }, body: bomb });
    assert.equal(r3.status, 413);
    await ok();
  });

  it("gzip request bodies are accepted; unknown encodings are 415", async () => {
    const r = await raw(port, { headers: { "Content-Type": "text/xml", "Content-Encoding": "gzip" }, body: gzipSync(xmlCall("add", "<param><value><int>1</int></value></param><param><value><int>1</int></value></param>")) });
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /<int>2<\/int>/);
    const r2 = await raw(port, { headers: { "Content-Type": "text/xml", "Content-Encoding": "br" }, body: "xx" });
    assert.equal(r2.status, 415);
    const r3 = await raw(port, { headers: { "Content-Type": "text/xml", "Content-Encoding": "gzip" }, body: "not gzip" });
    assert.equal(r3.status, 400);
    await ok();
  });

  it("large answers are gzipped for clients that accept it", async () => {
    const r = await raw(port, { headers: { "Content-Type": "text/xml", "Accept-Encoding": "gzip" }, body: xmlCall("blob", "<param><value><int>30000</int></value></param>") });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-encoding"], "gzip");
    const small = await raw(port, { headers: { "Content-Type": "text/xml", "Accept-Encoding": "gzip" }, body: xmlCall("add", "<param><value><int>1</int></value></param><param><value><int>1</int></value></param>") });
    assert.equal(small.headers["content-encoding"], undefined);
  });

  it("malformed XML, DOCTYPE entities and non-XML-RPC documents are faults", async () => {
    const cases: [string, number][] = [
      ["<methodCall><methodName>add</methodName>", -32700],
      ["\u0000\u0001 binary junk", -32702],
      [`<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><methodCall><methodName>&b;</methodName></methodCall>`, -32700],
      ["<methodResponse><params/></methodResponse>", -32600],
      [xmlCall("add", "<param><value><int>x</int></value></param>"), -32600],
      [xmlCall("no.such"), -32601],
    ];
    for (const [body, code] of cases) {
      const r = await raw(port, { headers: { "Content-Type": "text/xml" }, body });
      assert.equal(r.status, 200, body);
      assert.equal(faultCodeOf(r.body), code, body);
    }
    await ok();
  });

  it("a client that disconnects mid-body does not disturb the server", async () => {
    await new Promise<void>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/RPC2", headers: { "Content-Type": "text/xml", "Content-Length": 1000 }, agent: false });
      req.on("error", () => resolve());
      req.write("<methodCall><methodName>add", () => req.destroy());
      req.on("close", () => resolve());
    });
    await ok();
  });
});

describe("client limits and failures", () => {
  it("an answer over the client's maxFrameSize is PAYLOAD_TOO_LARGE; a request over the server's is too", async () => {
    const s = await serve(interopHandler(), "xmlrpc+http://127.0.0.1:0", { maxFrameSize: 4096 });
    const p = await connect(s.url, { maxFrameSize: 2048 });
    await assert.rejects(p.blob(4000), (e: RpcError) => e.code === "PAYLOAD_TOO_LARGE");
    await assert.rejects(p.echo("x".repeat(10_000)), (e: RpcError) => e.code === "PAYLOAD_TOO_LARGE");
    assert.equal(await p.add(1, 2), 3);
    await p.$close();
    await s.close();
  });

  it("nothing listening: CONNECT_FAILED at connect, or at the first call with probe: false", async () => {
    const s = await serve(interopHandler(), "xmlrpc+http://127.0.0.1:0");
    const url = s.url;
    await s.close();
    await assert.rejects(connect(url), (e: RpcError) => e.code === "CONNECT_FAILED");
    const lazy = await connect(url, { probe: false });
    await assert.rejects(lazy.add(1, 2), (e: RpcError) => e.code === "CONNECT_FAILED");
    await lazy.$close();
  });

  it("a non-XML-RPC HTTP answer is PROTOCOL_ERROR with the status", async () => {
    const plain = http.createServer((_req, res) => res.writeHead(500).end("oops"));
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    const p = await connect(`xmlrpc+http://127.0.0.1:${(plain.address() as AddressInfo).port}/`);
    await assert.rejects(p.add(1, 2), (e: RpcError) => e.code === "PROTOCOL_ERROR" && (e.data as { status: number }).status === 500);
    await p.$close();
    await new Promise<void>((r) => plain.close(() => r()));
  });
});

describe("server lifecycle", () => {
  it("close() lets a request in flight finish, then stops", async () => {
    const h = new RPCHandler();
    const entered = new Deferred();
    const release = new Deferred<string>();
    h.register("slow", async () => {
      entered.resolve();
      return release.promise;
    });
    const s = await serve(h, "xmlrpc+http://127.0.0.1:0");
    const p = await connect(s.url);
    const call = p.slow();
    await entered.promise;
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(closed, false, "close waits for the call in flight");
    release.resolve("done");
    assert.equal(await call, "done");
    await closing;
    await assert.rejects(p.slow(), (e: RpcError) => e.code === "CONNECT_FAILED");
    await p.$close();
  });

  it("close() aborts a request still running after closeTimeout", async () => {
    const h = new RPCHandler();
    const entered = new Deferred();
    const sawAbort = new Deferred<string>();
    h.register(
      "stuck",
      (ctx: CallContext) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener("abort", () => {
            sawAbort.resolve((ctx.signal.reason as RpcError).code);
            reject(ctx.signal.reason);
          });
          entered.resolve();
        }),
      { context: true },
    );
    const s = await serve(h, "xmlrpc+http://127.0.0.1:0", { closeTimeout: 50 });
    const p = await connect(s.url);
    const call = p.stuck().catch((e: unknown) => e);
    await entered.promise;
    await s.close();
    assert.equal(await sawAbort.promise, "SHUTTING_DOWN");
    assert.ok((await call) instanceof RpcError);
    await p.$close();
  });

  it("serves at a given path only, and at / too when the URL names none", async () => {
    const s = await serve(interopHandler(), "xmlrpc+http://127.0.0.1:0/api/rpc");
    assert.match(s.url, /\/api\/rpc$/);
    const port = portOf(s.url);
    assert.equal((await raw(port, { path: "/RPC2", body: xmlCall("add") })).status, 404);
    assert.equal((await raw(port, { path: "/api/rpc?x=1", body: xmlCall("system.listMethods") })).status, 200);
    await s.close();
    const d = await serve(interopHandler(), "xmlrpc+http://127.0.0.1:0");
    assert.equal((await raw(portOf(d.url), { path: "/", body: xmlCall("system.listMethods") })).status, 200);
    await d.close();
  });

  it("attaches to an existing HTTP server at a path, leaving other paths to the app", async () => {
    const app = http.createServer((_req, res) => res.end("app"));
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const port = (app.address() as AddressInfo).port;
    const attached = attachXmlRpc(app, interopHandler(), { path: "/xmlrpc" });
    const p = await connect(`xmlrpc+http://127.0.0.1:${port}/xmlrpc`);
    assert.equal(await p.add(20, 22), 42);
    assert.equal((await raw(port, { method: "GET", path: "/index.html" })).body.toString(), "app");
    await attached.close();
    assert.equal((await raw(port, { path: "/xmlrpc", body: xmlCall("add") })).body.toString(), "app", "detached");
    await p.$close();
    app.closeAllConnections();
    await new Promise<void>((r) => app.close(() => r()));
  });
});

describe("XML-RPC over HTTPS", () => {
  const cert = readFileSync(`${fixtures}/cert.pem`);
  const key = readFileSync(`${fixtures}/key.pem`);
  let server: Server;
  before(async () => {
    server = await serve(interopHandler(), "xmlrpc+https://127.0.0.1:0", { cert, key });
  });
  after(() => server.close());

  it("calls with the server's CA trusted", async () => {
    assert.match(server.url, /^xmlrpc\+https:\/\/127\.0\.0\.1:\d+\/RPC2$/);
    const p = await connect(server.url, { ca: cert });
    assert.equal(await p.add(1, 2), 3);
    assert.deepEqual(await p.blob(5), pattern(5));
    await p.$close();
  });

  it("refuses an untrusted certificate with CONNECT_FAILED", async () => {
    await assert.rejects(connect(server.url), (e: RpcError) => e.code === "CONNECT_FAILED");
    const lazy = await connect(server.url, { probe: false });
    await assert.rejects(lazy.add(1, 2), (e: RpcError) => e.code === "CONNECT_FAILED");
    await lazy.$close();
  });

  it("refuses to serve https without a certificate", async () => {
    await assert.rejects(serve(interopHandler(), "xmlrpc+https://127.0.0.1:0"), (e: RpcError) => e.code === "INVALID_URL");
  });
});
