/**
 * The design contract: docs/protocol.md 5.3 is enough for a raw WebSocket
 * client (the `ws` package, no wirecall code).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { connect, serve, type Server } from "wirecall";
import { BOUND, Deferred, within, code, Probe, token, KEY, makeHandler, mpDecode, mpEncode, SHA256, answerChallenge, deliverChallenge } from "./support/contract.js";

// ================================================================ WebSocket, by hand

class RawWs {
  #queue: { data: Buffer; binary: boolean }[] = [];
  #waiters: Deferred<{ data: Buffer; binary: boolean }>[] = [];
  #closed = new Deferred<{ code: number; reason: string }>();
  #isClosed = false;

  static open(url: string): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const raw = new RawWs(ws);
      ws.once("open", () => resolve(raw));
      ws.once("error", reject);
    });
  }

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: WebSocket.RawData, binary: boolean) => {
      const buf = Buffer.isBuffer(data) ? Buffer.from(data) : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      const m = { data: buf, binary };
      const w = this.#waiters.shift();
      if (w) w.resolve(m);
      else this.#queue.push(m);
    });
    ws.on("close", (c: number, reason: Buffer) => {
      this.#isClosed = true;
      this.#closed.resolve({ code: c, reason: reason.toString() });
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`closed ${c}`));
    });
    ws.on("error", () => {});
  }

  message(): Promise<{ data: Buffer; binary: boolean }> {
    const m = this.#queue.shift();
    if (m) return Promise.resolve(m);
    if (this.#isClosed) return Promise.reject(new Error("closed"));
    const d = new Deferred<{ data: Buffer; binary: boolean }>();
    this.#waiters.push(d);
    return within(d.promise, BOUND, "a WebSocket message");
  }
  async next(): Promise<Buffer> {
    return (await this.message()).data;
  }
  /** Handshake messages are binary. */
  send(p: Uint8Array | string): void {
    this.ws.send(typeof p === "string" ? Buffer.from(p) : p, { binary: true });
  }
  closed(): Promise<{ code: number; reason: string }> {
    return within(this.#closed.promise, BOUND, "the WebSocket to close");
  }
  destroy(): void {
    this.ws.terminate();
  }
}

describe("contract: docs/protocol.md 5.3 for a raw WebSocket client", () => {
  const probe = new Probe();
  let server: Server;
  const raws: RawWs[] = [];
  const open = async (): Promise<RawWs> => {
    const r = await RawWs.open(server.url);
    raws.push(r);
    return r;
  };
  before(async () => {
    server = await serve(makeHandler(probe), "ws://127.0.0.1:0/rpc", { authkey: KEY, maxFrameSize: 4096 });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await server?.close();
  });

  it("handshake in binary messages, a text hello, msgpack in binary messages, bad frames answered", async () => {
    const raw = await open();
    assert.equal(await answerChallenge(raw, KEY), "#WELCOME#");
    await deliverChallenge(raw, KEY);
    raw.ws.send(JSON.stringify({ wirecall: 1, serializer: "msgpack" }));
    const hello = await raw.message();
    assert.equal(hello.binary, false, "the hello answer is a text message");
    assert.deepEqual(JSON.parse(hello.data.toString()), { wirecall: 1, serializer: "msgpack" });
    raw.ws.send(Buffer.from([0x94, 0x00, 0x01, 0xa3, 0x61, 0x64, 0x64, 0x92, 0x02, 0x03]), { binary: true });
    const reply = await raw.message();
    assert.equal(reply.binary, true);
    assert.deepEqual([...reply.data], [0x93, 0x01, 0x01, 0x05], "the doc's exact bytes");
    raw.ws.send(mpEncode([0, 2, "echo", [new Uint8Array([5, 6])]]), { binary: true });
    const echoed = mpDecode(await raw.next()) as [number, number, Uint8Array];
    assert.ok(echoed[2] instanceof Uint8Array && echoed[2][1] === 6);
    raw.ws.send(Buffer.from([0xc1]), { binary: true });
    const garbage = mpDecode(await raw.next()) as [number, unknown, { code: string }];
    assert.deepEqual([garbage[0], garbage[1], garbage[2].code], [2, null, "PROTOCOL_ERROR"]);
    raw.ws.send(mpEncode([9, 3]), { binary: true });
    const unknown = mpDecode(await raw.next()) as [number, unknown, { code: string }];
    assert.equal(unknown[0], 2);
    assert.equal(unknown[2].code, "PROTOCOL_ERROR");
    raw.ws.send(mpEncode([0, 4, "nope", []]), { binary: true });
    const nope = mpDecode(await raw.next()) as [number, number, { code: string }];
    assert.deepEqual([nope[0], nope[1], nope[2].code], [2, 4, "METHOD_NOT_FOUND"]);
  });

  it("bad input: a wrong answer closes with 4000 AUTH_FAILED; an oversized message with 1009; a wrong path is CONNECT_FAILED; others keep being served", async () => {
    const proxy = await connect(server.url, { authkey: KEY });
    try {
      const tok = token();
      const inflight = proxy.slow(tok);
      await probe.wait(`start:${tok}`);

      const wrong = await open();
      await wrong.next();
      wrong.send(Buffer.concat([SHA256, Buffer.alloc(32)]));
      const closed = await wrong.closed();
      assert.equal(closed.code, 4000);
      assert.match(closed.reason, /^AUTH_FAILED/);

      const big = await open();
      assert.equal(await answerChallenge(big, KEY), "#WELCOME#");
      await deliverChallenge(big, KEY);
      big.ws.send(JSON.stringify({ wirecall: 1, serializer: "json" }));
      await big.next();
      big.ws.send(Buffer.alloc(8192), { binary: true });
      assert.equal((await big.closed()).code, 1009);

      const u = new URL(server.url);
      u.pathname = "/nope";
      await assert.rejects(connect(u.href, { authkey: KEY }), code("CONNECT_FAILED"));

      probe.hit(`release:${tok}`);
      assert.equal(await within(inflight, BOUND, "the in-flight call"), "released");
      assert.equal(await proxy.add(1, 2), 3);
    } finally {
      await proxy.$close();
    }
  });
});
