/**
 * The design contract: docs/protocol.md is enough to write a TCP client
 * with node:net and node:crypto alone (framing, HMAC challenge, hello,
 * every envelope kind, errors).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import { RemoteError, RpcError, connect, kw, serve, type Server } from "wirecall";
import { BOUND, Deferred, within, code, Probe, token, assertNoPollution, KEY, makeHandler, mpDecode, mpEncode, RawTcp, CHALLENGE, SHA256, hmac, answerChallenge, deliverChallenge, rawTcpClient, rawHello, portOf } from "./support/contract.js";

// ================================================================ docs/protocol.md over TCP, by hand

describe("contract: docs/protocol.md is enough for a raw TCP client (node:net + node:crypto)", () => {
  const probe = new Probe();
  let server: Server;
  let port: number;
  const raws: RawTcp[] = [];
  /** `key` null: a server without an authkey. */
  const rawClient = async (key: string | null = KEY, p = port): Promise<RawTcp> => {
    const raw = await rawTcpClient(p, key ?? undefined);
    raws.push(raw);
    return raw;
  };
  before(async () => {
    server = await serve(makeHandler(probe), "tcp://127.0.0.1:0", { authkey: KEY });
    port = portOf(server.url);
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await server?.close();
  });

  it("the doc's handshake example is self-consistent", () => {
    const serverM = Buffer.concat([SHA256, Buffer.from(Array.from({ length: 40 }, (_, i) => i))]);
    const clientM = Buffer.concat([SHA256, Buffer.from(Array.from({ length: 40 }, (_, i) => 0x40 + i))]);
    assert.equal(hmac("sha256", "peekaboo", serverM).toString("hex"), "eda328927ea5867e57357e92ff7a849cdfe50b5fecbe9282ff9d63f0fe76b0b6");
    assert.equal(hmac("sha256", "peekaboo", clientM).toString("hex"), "c3223e44e7c1980c81ea84d00a396f0abfba06abd22af25644314e28422136e7");
    assert.equal(CHALLENGE.length + serverM.length, 0x3b);
    assert.equal(SHA256.length + 32, 0x28);
    assert.equal(Buffer.byteLength('{"wirecall":1,"serializer":"json"}'), 0x22);
    assert.equal(Buffer.byteLength('[0,1,"add",[2,3]]'), 0x11);
  });

  it("handshake, hello, calls with kwargs, and the error form", async () => {
    const raw = await rawClient();
    await rawHello(raw, "json");
    raw.sendJson([0, 1, "add", [2, 3]]);
    raw.sendJson([0, 2, "describe", [1, 2], { z: 3 }]);
    const replies = [await raw.nextJson(), await raw.nextJson()] as unknown[][];
    replies.sort((x, y) => (x[1] as number) - (y[1] as number));
    assert.deepEqual(replies, [[1, 1, 5], [1, 2, { a: 1, b: 2, z: 3 }]]);
    raw.sendJson([0, 3, "nope", []]);
    const [kind, id, error] = (await raw.nextJson()) as [number, number, Record<string, unknown>];
    assert.equal(kind, 2);
    assert.equal(id, 3);
    assert.equal(error.code, "METHOD_NOT_FOUND");
    assert.equal(typeof error.name, "string");
    assert.equal(typeof error.message, "string");
    raw.sendJson([0, 4, "fail_code", []]);
    const remote = (await raw.nextJson()) as [number, number, Record<string, unknown>];
    assert.deepEqual(remote.slice(0, 2), [2, 4]);
    assert.equal(remote[2].name, "RangeError");
    assert.equal(remote[2].message, "division by zero");
    assert.equal(remote[2].code, "EDIVZERO");
    assert.deepEqual(remote[2].data, { a: 1, list: [1, 2] });
    assert.equal(remote[2].stack, undefined, "no stack unless the server allows it");
    raw.sendJson([0, 5, "fail_cause", [], null]);
    const chained = (await raw.nextJson()) as [number, number, { cause: Record<string, unknown> }];
    assert.equal(chained[2].cause.name, "TypeError");
    assert.equal(chained[2].cause.code, "EINNER");
  });

  it("a client may skip the hello (version 1, json)", async () => {
    const raw = await rawClient();
    raw.sendJson([0, 1, "add", [2, 3]]);
    assert.deepEqual(await raw.nextJson(), [1, 1, 5]);
  });

  it("a one-way call and a cancelled call get no reply; the handler is cancelled", async () => {
    const raw = await rawClient();
    await rawHello(raw, "json");
    const tok = token();
    raw.sendJson([3, "log", [tok, "one-way"]]);
    assert.equal(await probe.wait(`log:${tok}`), "one-way");
    raw.sendJson([0, 5, "add", [1, 1]]);
    assert.deepEqual(await raw.nextJson(), [1, 5, 2], "no reply to the one-way call");
    const slow = token();
    raw.sendJson([0, 6, "slow", [slow]]);
    await probe.wait(`start:${slow}`);
    raw.sendJson([4, 6]);
    assert.equal(await probe.wait(`abort:${slow}`), true);
    raw.sendJson([0, 7, "add", [2, 2]]);
    assert.deepEqual(await raw.nextJson(), [1, 7, 4], "no reply to the cancelled call");
  });

  it("the legacy HMAC-MD5 form of Python 3.11 and older, both directions", async () => {
    const raw = await RawTcp.open(port);
    raws.push(raw);
    assert.equal(await answerChallenge(raw, KEY, true), "#WELCOME#");
    await deliverChallenge(raw, KEY, true);
    await rawHello(raw, "json");
    raw.sendJson([0, 1, "add", [2, 3]]);
    assert.deepEqual(await raw.nextJson(), [1, 1, 5]);
  });

  it("the 8-byte length form (-1 then the length) is accepted", async () => {
    const raw = await rawClient();
    const body = Buffer.from('[0,1,"add",[2,3]]');
    const header = Buffer.alloc(12);
    header.writeInt32BE(-1, 0);
    header.writeBigUInt64BE(BigInt(body.length), 4);
    raw.writeRaw(Buffer.concat([header, body]));
    assert.deepEqual(await raw.nextJson(), [1, 1, 5]);
  });

  it("bad input: malformed frames, invalid envelopes and unknown kinds get PROTOCOL_ERROR; the connection stays open", async () => {
    const raw = await rawClient();
    await rawHello(raw, "json");
    raw.send(Buffer.from([0x00, 0xff, 0x7b, 0x22, 0x6e]));
    let reply = (await raw.nextJson()) as [number, unknown, { code: string }];
    assert.deepEqual([reply[0], reply[1], reply[2].code], [2, null, "PROTOCOL_ERROR"]);
    raw.sendJson([9, 7, "add", [1, 2]]);
    reply = (await raw.nextJson()) as [number, unknown, { code: string }];
    assert.equal(reply[0], 2);
    assert.ok(reply[1] === 7 || reply[1] === null);
    assert.equal(reply[2].code, "PROTOCOL_ERROR");
    for (const bad of [[0, "x", "add", [1, 2]], [0, 8, 42, [1, 2]], [0, 9, "add", "not-args"], { a: 1 }, "text", [], [4]]) {
      raw.sendJson(bad);
      reply = (await raw.nextJson()) as [number, unknown, { code: string }];
      assert.equal(reply[0], 2, JSON.stringify(bad));
      assert.equal(reply[2].code, "PROTOCOL_ERROR", JSON.stringify(bad));
    }
    raw.sendJson([0, 10, "add", [2, 3]]);
    assert.deepEqual(await raw.nextJson(), [1, 10, 5]);
  });

  it("bad input: an unknown serializer in the hello is refused with PROTOCOL_ERROR and closed", async () => {
    const raw = await rawClient();
    raw.send(JSON.stringify({ wirecall: 1, serializer: "no-such-serializer" }));
    const answer = (await raw.nextJson()) as { wirecall: number; error: { code: string; name: string; message: string } };
    assert.equal(answer.error.code, "PROTOCOL_ERROR");
    assert.equal(typeof answer.error.message, "string");
    await raw.closed();
  });

  it("bad input: wrong HMAC gets #FAILURE# and a close; oversized and negative lengths close before any body; others keep being served", async () => {
    const proxy = await connect(server.url, { authkey: KEY });
    try {
      const tok = token();
      const inflight = proxy.slow(tok);
      await probe.wait(`start:${tok}`);

      const wrong = await RawTcp.open(port);
      raws.push(wrong);
      const challenge = await wrong.next();
      assert.ok(challenge.subarray(0, CHALLENGE.length).equals(CHALLENGE));
      wrong.send(Buffer.concat([SHA256, Buffer.alloc(32)]));
      assert.equal((await wrong.next()).toString("latin1"), "#FAILURE#");
      await wrong.closed();

      const early = await RawTcp.open(port);
      raws.push(early);
      early.send('{"wirecall":1,"serializer":"json"}'); // no answer to the challenge
      await early.closed();

      const oversized = await rawClient();
      const header = Buffer.alloc(4);
      header.writeInt32BE(0x7fffffff);
      oversized.writeRaw(header); // 2 GiB announced, nothing sent: refused from the prefix alone
      await oversized.closed();

      const huge = await rawClient();
      const long = Buffer.alloc(12);
      long.writeInt32BE(-1, 0);
      long.writeBigUInt64BE(2n ** 40n, 4);
      huge.writeRaw(long);
      await huge.closed();

      const negative = await rawClient();
      const neg = Buffer.alloc(4);
      neg.writeInt32BE(-2);
      negative.writeRaw(neg);
      await negative.closed();

      const bigHandshake = await RawTcp.open(port);
      raws.push(bigHandshake);
      await bigHandshake.next();
      bigHandshake.send(Buffer.alloc(300)); // handshake frames are at most 256 bytes
      await bigHandshake.closed();

      probe.hit(`release:${tok}`);
      assert.equal(await within(inflight, BOUND, "the in-flight call"), "released", "the in-flight call on another connection survived");
      assert.equal(await proxy.add(1, 2), 3);
      const fresh = await rawClient();
      fresh.sendJson([0, 1, "add", [2, 3]]);
      assert.deepEqual(await fresh.nextJson(), [1, 1, 5]);
    } finally {
      await proxy.$close();
    }
  });

  it("maxFrameSize (here from the query string) closes that connection only; a silent peer is dropped at the handshake limit", async () => {
    const small = await serve(makeHandler(probe), "tcp://127.0.0.1:0?maxFrameSize=1024", { handshakeTimeout: 300 });
    try {
      const p = portOf(small.url);
      const raw = await rawClient(null, p);
      raw.sendJson([0, 1, "add", [2, 3]]);
      assert.deepEqual(await raw.nextJson(), [1, 1, 5]);
      const header = Buffer.alloc(4);
      header.writeInt32BE(2048);
      raw.writeRaw(header);
      await raw.closed();

      // TCP framing cannot say why: the sender just sees its connection closed.
      const client = await connect(small.url);
      await assert.rejects(client.echo("x".repeat(4096)), (e: unknown) => e instanceof RpcError && ["PAYLOAD_TOO_LARGE", "CONNECTION_CLOSED"].includes(e.code));
      await client.$close();

      const silent = await rawClient(null, p);
      await silent.closed();

      const other = await connect(small.url);
      assert.equal(await other.add(1, 1), 2);
      await other.$close();
    } finally {
      await small.close();
    }
  });

  it("a client with maxFrameSize refuses an oversized reply with a clear error", async () => {
    const client = await connect(server.url, { authkey: KEY, maxFrameSize: 1024 });
    try {
      await assert.rejects(client.echo("x".repeat(4096)), (e: unknown) => {
        assert.ok(e instanceof RpcError, inspect(e));
        const cause = (e as { cause?: { code?: string } }).cause;
        assert.ok(e.code === "PAYLOAD_TOO_LARGE" || (e.code === "CONNECTION_CLOSED" && cause?.code === "PAYLOAD_TOO_LARGE"), inspect(e));
        return true;
      });
    } finally {
      await client.$close();
    }
  });

  it("msgpack replies are plain MessagePack (bin for bytes, no msgpackr extensions)", async () => {
    const raw = await rawClient();
    await rawHello(raw, "msgpack");
    raw.send(mpEncode([0, 1, "echo", [new Uint8Array([1, 2, 3])]]));
    const echoed = mpDecode(await raw.next()) as unknown[];
    assert.deepEqual(echoed.slice(0, 2), [1, 1]);
    assert.ok(echoed[2] instanceof Uint8Array, "bytes come back as bin, not base64 text");
    assert.deepEqual([...(echoed[2] as Uint8Array)], [1, 2, 3]);
    raw.send(mpEncode([0, 2, "records", []]));
    assert.deepEqual(mpDecode(await raw.next()), [1, 2, Array.from({ length: 8 }, (_, i) => ({ id: i, name: `n${i}`, tags: ["a", "b"] }))]);
    raw.send(mpEncode([0, 3, "bytes", [300]]));
    const bytes = mpDecode(await raw.next()) as [number, number, Uint8Array];
    assert.ok(bytes[2] instanceof Uint8Array && bytes[2].length === 300);
    raw.send(mpEncode([0, 4, "when", []]));
    const when = mpDecode(await raw.next()) as [number, number, Date];
    assert.ok(when[2] instanceof Date && when[2].getTime() === 1_700_000_000_123);
    raw.send(mpEncode([0, 5, "describe", [1, 2], { z: 3 }]));
    assert.deepEqual(mpDecode(await raw.next()), [1, 5, { a: 1, b: 2, z: 3 }]);
    raw.send(mpEncode([0, 6, "nope", []]));
    const err = mpDecode(await raw.next()) as [number, number, { code: string; name: string; message: string }];
    assert.deepEqual([err[0], err[1], err[2].code], [2, 6, "METHOD_NOT_FOUND"]);
    raw.send(Buffer.from([0xc1, 0xc1]));
    const garbage = mpDecode(await raw.next()) as [number, unknown, { code: string }];
    assert.deepEqual([garbage[0], garbage[1], garbage[2].code], [2, null, "PROTOCOL_ERROR"]);
    // kwargs maps with hostile keys pollute nothing
    raw.send(Buffer.concat([Buffer.from([0x95, 0x00, 0x07, 0xa8]), Buffer.from("describe"), Buffer.from([0x92, 0x01, 0x02, 0x81, 0xa9]), Buffer.from("__proto__"), Buffer.from([0x81, 0xa8]), Buffer.from("polluted"), Buffer.from([0xc3])]));
    const hostile = mpDecode(await raw.next()) as [number, number, { code: string }];
    assert.deepEqual([hostile[0], hostile[1], hostile[2].code], [2, 7, "INVALID_PARAMS"]);
    assertNoPollution();
  });

  it("superjson frames whose meta names __proto__ pollute nothing", async () => {
    const raw = await rawClient();
    await rawHello(raw, "superjson");
    const frames = [
      { json: [0, 1, "echo", [{ a: "x" }]], meta: { values: { "3.0.__proto__.polluted": ["Date"] } } },
      { json: [0, 2, "echo", [{ a: 1 }]], meta: { referentialEqualities: { "3.0.a": ["__proto__.polluted"] } } },
      { json: [0, 3, "echo", [{ __proto__: { polluted: "yes" } }]], meta: { values: { "3.0.__proto__.polluted": ["undefined"] } } },
      { json: [0, 4, "echo", [{ constructor: { prototype: { polluted: 1 } } }]], meta: { values: { "3.0.constructor.prototype.polluted": ["bigint"] } } },
    ];
    for (const f of frames) {
      raw.send(JSON.stringify(f));
      const reply = JSON.parse(await raw.nextText()) as { json: unknown[] };
      assert.ok(Array.isArray(reply.json) && (reply.json[0] === 1 || reply.json[0] === 2), JSON.stringify(reply));
    }
    raw.send(JSON.stringify({ json: [0, 9, "add", [1, 2]] }));
    assert.deepEqual((JSON.parse(await raw.nextText()) as { json: unknown }).json, [1, 9, 3]);
    assertNoPollution();
  });

  it("a server written from the doc serves a wirecall client (json default, plain msgpack frames, a call from the server is answered)", async () => {
    const peers: RawTcp[] = [];
    const accepted: Deferred<RawTcp>[] = [new Deferred<RawTcp>(), new Deferred<RawTcp>()];
    let n = 0;
    const srv = net.createServer((socket) => {
      const peer = new RawTcp(socket);
      peers.push(peer);
      accepted[n++]?.resolve(peer);
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const rawPort = (srv.address() as net.AddressInfo).port;
    try {
      // default serializer
      const c1 = connect(`tcp://127.0.0.1:${rawPort}`);
      const p1 = await within(accepted[0]!.promise, BOUND, "a connection");
      const first = await p1.nextText();
      if (first.startsWith("{")) {
        const hello = JSON.parse(first) as { wirecall: number; serializer?: string };
        assert.equal(hello.wirecall, 1);
        assert.ok(hello.serializer === undefined || hello.serializer === "json", "json is the default");
        p1.send(JSON.stringify({ wirecall: 1, serializer: "json" }));
      } else assert.match(first, /^\[0,/);
      const client1 = await c1;
      const sum = client1.add(2, 3);
      const call = (first.startsWith("{") ? await p1.nextJson() : JSON.parse(first)) as unknown[];
      assert.equal(call[0], 0);
      assert.equal(call[2], "add");
      assert.deepEqual(call[3], [2, 3]);
      p1.sendJson([1, call[1], 5]);
      assert.equal(await within(sum, BOUND, "the reply"), 5);
      await client1.$close();

      // msgpack: the client's frames are plain MessagePack
      const c2 = connect(`tcp://127.0.0.1:${rawPort}`, { serializer: "msgpack" });
      const p2 = await within(accepted[1]!.promise, BOUND, "a connection");
      const hello2 = JSON.parse(await p2.nextText()) as { wirecall: number; serializer: string };
      assert.deepEqual([hello2.wirecall, hello2.serializer], [1, "msgpack"]);
      p2.send(JSON.stringify({ wirecall: 1, serializer: "msgpack" }));
      const client2 = await c2;
      const records = Array.from({ length: 8 }, (_, i) => ({ id: i, name: `n${i}` }));
      const echoed = client2.echo(new Uint8Array([9, 8, 7]), records, kw({ flag: true }));
      const call2 = mpDecode(await p2.next()) as [number, number, string, unknown[], Record<string, unknown>];
      assert.equal(call2[0], 0);
      assert.equal(call2[2], "echo");
      assert.ok(call2[3][0] instanceof Uint8Array, "bytes sent as bin");
      assert.deepEqual([...(call2[3][0] as Uint8Array)], [9, 8, 7]);
      assert.deepEqual(call2[3][1], records);
      assert.deepEqual(call2[4], { flag: true });
      p2.send(mpEncode([1, call2[1], new Uint8Array([1, 2])]));
      const res = (await within(echoed, BOUND, "the reply")) as Uint8Array;
      assert.ok(res instanceof Uint8Array);
      assert.deepEqual([...res], [1, 2]);

      const failing = client2.boom();
      const call3 = mpDecode(await p2.next()) as [number, number];
      p2.send(mpEncode([2, call3[1], { name: "ValueError", message: "bad value", code: "EBAD", data: { n: 1 } }]));
      const err = await within(failing, BOUND, "the error reply").catch((e: unknown) => e);
      assert.ok(err instanceof RemoteError);
      assert.equal(err.name, "ValueError");
      assert.equal(err.message, "bad value");
      assert.equal(err.code, "EBAD");
      assert.deepEqual(err.data, { n: 1 });

      const pending = client2.add(1, 2);
      const call4 = mpDecode(await p2.next()) as [number, number];
      // A server may call the client (docs/protocol.md, "Calls from the server"); this client serves no handler.
      p2.send(mpEncode([0, 99, "add", [1, 2]]));
      const answer = mpDecode(await p2.next()) as [number, number, { code: string }];
      assert.deepEqual([answer[0], answer[1], answer[2].code], [2, 99, "METHOD_NOT_FOUND"]);
      p2.send(mpEncode([1, call4[1], 3]));
      assert.equal(await within(pending, BOUND, "the pending call"), 3);
      await client2.$close();
      await p2.closed();
    } finally {
      for (const p of peers) p.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});
