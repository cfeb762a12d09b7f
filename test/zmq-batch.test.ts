/**
 * Batches over ZeroMQ (docs/protocol.md, 5.4): the small payloads a side
 * writes in one tick leave as one message, `0x00 ‖ tag ‖ entries` from a
 * client and `[0x00, entries]` from a server, each entry a LEB128 length and
 * the payload. Checked on real sockets: a raw DEALER speaking the documented
 * bytes to a real server, a real client against a hand-written ROUTER; only
 * after the grant, stateless like the tag, malformed batches refused whole,
 * an unauthenticated peer's batch one message (the knock), and the decoder
 * fuzzed for crashes and cost.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { pack, unpack } from "msgpackr";
import { Dealer, Router } from "zeromq";
import { RpcError, connect, serve, type Server as RpcServer } from "../src/index.js";
import { encodeBatch, splitBatch } from "../transports/zmq/frames.js";
import { addEchoHandler } from "./support/handlers.js";

const MSGPACK_TAG = 6; // {"wirecall":1,"serializer":"msgpack","tags":1}
const HELLO = Buffer.from('{"wirecall":1,"serializer":"msgpack","tags":1}');

/** Entries as the protocol spells them: LEB128 length, then the bytes (written here, not with frames.ts). */
function entries(payloads: Uint8Array[]): Buffer {
  const out: number[] = [];
  for (const p of payloads) {
    let n = p.length;
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    out.push(...p);
  }
  return Buffer.from(out);
}

describe("zmq batches: a real server and a raw DEALER", () => {
  let server: RpcServer;
  let keyed: RpcServer;
  const socks: Dealer[] = [];
  before(async () => {
    server = await serve(addEchoHandler(), "zmq+tcp://127.0.0.1:0");
    keyed = await serve(addEchoHandler(), "zmq+tcp://127.0.0.1:0", { authkey: "batch-key" });
  });
  after(async () => {
    for (const s of socks) s.close();
    await server.close();
    await keyed.close();
  });

  function dealer(url = server.url): Dealer {
    const sock = new Dealer({ linger: 0, receiveTimeout: 5000 });
    socks.push(sock);
    sock.connect(url.replace(/^zmq\+/, ""));
    return sock;
  }

  const call = (id: number, x: number, y: number): Buffer => pack([0, id, "add", [x, y]]);

  /** The replies in the messages received until `count` of them arrived, and how many messages carried them. */
  async function replies(sock: Dealer, count: number): Promise<{ replies: unknown[]; messages: Buffer[][] }> {
    const got: unknown[] = [];
    const messages: Buffer[][] = [];
    while (got.length < count) {
      const msg = await sock.receive();
      messages.push(msg);
      if (msg.length === 2 && msg[0]?.length === 1 && msg[0][0] === 0) {
        const body = splitBatch(msg[1] as Buffer, 0);
        assert.ok(Array.isArray(body), `a malformed batch from the server: ${body}`);
        for (const e of body) got.push(unpack(e));
      } else {
        assert.equal(msg.length, 1, "a compact reply is one frame");
        got.push(unpack(msg[0] as Buffer));
      }
    }
    return { replies: got, messages };
  }

  it("the hello's answer grants batches; calls sent as one batch are answered, the replies of one tick as one batch", async () => {
    const sock = dealer();
    await sock.send([Buffer.alloc(0), HELLO]);
    const [, answer] = await sock.receive();
    assert.deepEqual(JSON.parse((answer as Buffer).toString()), { wirecall: 1, serializer: "msgpack", tags: 1, compact: 1, batch: 1 });
    const calls = Array.from({ length: 50 }, (_, i) => call(i + 1, i, 1000));
    await sock.send(Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries(calls)]));
    const { replies: got, messages } = await replies(sock, 50);
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => [1, i + 1, i + 1000]));
    // A synchronous handler answers all fifty in the tick that took the batch: one message back.
    assert.equal(messages.length, 1, `${messages.length} messages for 50 replies`);
    assert.deepEqual(messages[0]?.[0], Buffer.of(0));
  });

  it("a batch of replies is at most 2 KiB (what a peer that reads nothing can make the ROUTER hold per message)", async () => {
    const sock = dealer();
    const calls = Array.from({ length: 1000 }, (_, i) => call(i + 1, i, 1));
    await sock.send(Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries(calls)]));
    const { replies: got, messages } = await replies(sock, 1000);
    assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => [1, i + 1, i + 1]));
    for (const m of messages) assert.ok((m[m.length - 1] as Buffer).length <= 2048, `a message of ${(m[m.length - 1] as Buffer).length} bytes`);
    assert.ok(messages.length >= 3 && messages.length < 20, `${messages.length} messages for 1000 replies of ~7 bytes`);
  });

  it("a batch needs no session: a peer the server never heard from is served in the tag's serializer", async () => {
    const sock = dealer();
    await sock.send(Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries([call(1, 1, 2), call(2, 3, 4), call(3, 5, 6)])]));
    const { replies: got } = await replies(sock, 3);
    assert.deepEqual(got, [
      [1, 1, 3],
      [1, 2, 7],
      [1, 3, 11],
    ]);
  });

  it("a malformed batch is a PROTOCOL_ERROR and none of its entries is taken; the peer is served afterwards", async () => {
    const good = call(1, 1, 1);
    const cases: [string, Buffer, RegExp][] = [
      ["an entry that runs past the frame", Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries([good]), Buffer.of(40, 1, 2)]), /runs past the frame/],
      ["an empty entry", Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries([good]), Buffer.of(0)]), /empty batch entry/],
      ["a length of four bytes", Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries([good]), Buffer.of(0x81, 0x80, 0x80, 0x00)]), /more than 3 bytes/],
      ["an unknown tag", Buffer.concat([Buffer.of(0, 200), entries([good])]), /hello tag 200 is unknown/],
      ["a length prefix cut short", Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries([good]), Buffer.of(0x85)]), /runs past the frame/],
    ];
    const sock = dealer();
    for (const [what, bytes, why] of cases) {
      await sock.send(bytes);
      const [delimiter, payload, ...rest] = await sock.receive();
      assert.equal(delimiter?.length, 0, what);
      assert.equal(rest.length, 0, what);
      const answer = JSON.parse((payload as Buffer).toString());
      assert.deepEqual([answer[0], answer[1], answer[2].code], [2, null, "PROTOCOL_ERROR"], what);
      assert.match(answer[2].message, why, what);
      // Nothing of the batch was called: the next reply is that of the next call.
      await sock.send(Buffer.concat([Buffer.of(MSGPACK_TAG), call(7, 20, 22)]));
      const { replies: got } = await replies(sock, 1);
      assert.deepEqual(got, [[1, 7, 42]], what);
    }
  });

  it("with an authkey, a stranger's batch is one message: the knock, answered with the challenge, nothing called", async () => {
    const sock = dealer(keyed.url);
    await sock.send(Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries([call(1, 1, 2), call(2, 3, 4)])]));
    const [delimiter, challenge] = await sock.receive();
    assert.equal(delimiter?.length, 0);
    assert.match((challenge as Buffer).toString("latin1"), /^#CHALLENGE#/);
    // A long batch is a message too long to be a knock: refused, nothing held.
    const long = dealer(keyed.url);
    await long.send(Buffer.concat([Buffer.of(0, MSGPACK_TAG), entries(Array.from({ length: 40 }, (_, i) => call(i, i, i)))]));
    const [, refused] = await long.receive();
    assert.equal((refused as Buffer).toString(), "#FAILURE#");
  });
});

describe("zmq batches: a real client and a hand-written ROUTER", () => {
  /**
   * Answers the hello (granting batches or not), then records each call
   * message and answers every call of a message in one batch.
   */
  async function fakeServer(grant: { compact?: 1; batch?: 1 }, reply: (calls: Buffer[]) => Buffer[] = answerAll) {
    const router = new Router({ linger: 0 });
    await router.bind("tcp://127.0.0.1:0");
    const messages: Buffer[][] = [];
    const done = (async () => {
      for (;;) {
        let msg: Buffer[];
        try {
          msg = await router.receive();
        } catch {
          return;
        }
        const [id, ...body] = msg as [Buffer, ...Buffer[]];
        const last = body[body.length - 1] as Buffer;
        if (body.length === 2 && body[0]?.length === 0 && last[0] === 0x7b) {
          const answer = { ...JSON.parse(last.toString()), ...grant };
          await router.send([id, Buffer.alloc(0), Buffer.from(JSON.stringify(answer))]);
          continue;
        }
        if (body.length === 2 && body[0]?.length === 0 && last.length === 0) return; // goodbye
        messages.push(body);
        let calls: Buffer[];
        if (body.length === 1 && last[0] === 0) calls = splitBatch(last, 2) as Buffer[];
        else if (body.length === 1) calls = [last.subarray(1)];
        else calls = [last];
        await router.send([id, ...reply(calls)]);
      }
    })();
    return { url: `zmq+${router.lastEndpoint}`, messages, done, close: () => router.close() };
  }

  function answerAll(calls: Buffer[]): Buffer[] {
    const out = calls.map((c) => {
      const [, id, , [x, y]] = unpack(c) as [number, number, string, [number, number]];
      return pack([1, id, x + y]);
    });
    return out.length === 1 ? out : [Buffer.of(0), entries(out)];
  }

  it("granted: a pipelined burst leaves as one batch and a batch of replies settles every call", async () => {
    const fake = await fakeServer({ compact: 1, batch: 1 });
    const proxy = await connect<{ add(x: number, y: number): number }>(fake.url, { serializer: "msgpack", timeout: 5000 });
    try {
      assert.equal(await proxy.add(1, 2), 3); // one call alone: a compact message, not a batch
      const tag = fake.messages[0]?.[0]?.[0] as number;
      assert.ok(tag >= 1 && tag <= 9, `a compact message starts with the hello's tag, not ${tag}`);
      const got = await Promise.all(Array.from({ length: 100 }, (_, i) => proxy.add(i, 1)));
      assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i + 1));
      assert.equal(fake.messages.length, 2, `${fake.messages.length - 1} messages for 100 calls written in one tick`);
      // At most 256 calls a batch: 600 written in one tick leave as three.
      const more = await Promise.all(Array.from({ length: 600 }, (_, i) => proxy.add(i, 2)));
      assert.deepEqual(more, Array.from({ length: 600 }, (_, i) => i + 2));
      assert.deepEqual(
        fake.messages.slice(2).map((m) => (splitBatch(m[0] as Buffer, 2) as Buffer[]).length),
        [256, 256, 88],
      );
      assert.equal(fake.messages[1]?.[0]?.[0], 0, "the burst is a batch");
      assert.equal(fake.messages[1]?.[0]?.[1], tag);
    } finally {
      await proxy.$close();
      fake.close();
      await fake.done;
    }
  });

  it("compact messages but no batches granted (an older server): one message per call", async () => {
    const fake = await fakeServer({ compact: 1 }, (calls) => calls.map((c) => pack([1, (unpack(c) as number[])[1], "ok"])));
    const proxy = await connect<{ add(x: number, y: number): string }>(fake.url, { serializer: "msgpack", timeout: 5000 });
    try {
      const got = await Promise.all(Array.from({ length: 20 }, (_, i) => proxy.add(i, 1)));
      assert.deepEqual(got, Array.from({ length: 20 }, () => "ok"));
      assert.equal(fake.messages.length, 20);
      for (const m of fake.messages) {
        assert.equal(m.length, 1, "a compact message");
        assert.notEqual(m[0]?.[0], 0, "not a batch");
      }
    } finally {
      await proxy.$close();
      fake.close();
      await fake.done;
    }
  });

  it("a batch from a server that did not grant batches is malformed; so is a malformed batch from one that did", async () => {
    for (const [grant, body, why] of [
      [{ compact: 1 }, [Buffer.of(0), entries([pack([1, 1, 1])])], /malformed message from the server \(2 frames, no empty delimiter first\)/],
      [{ compact: 1, batch: 1 }, [Buffer.of(0), Buffer.of(5, 1)], /malformed batch from the server: a batch entry of 5 bytes runs past the frame/],
    ] as const) {
      const fake = await fakeServer(grant, () => [...body]);
      const proxy = await connect<{ add(x: number, y: number): number }>(fake.url, { serializer: "msgpack", timeout: 5000 });
      try {
        await assert.rejects(proxy.add(1, 2), (err: RpcError) => {
          assert.equal(err.code, "CONNECTION_CLOSED");
          assert.match(err.message, why);
          return true;
        });
      } finally {
        await proxy.$close();
        fake.close();
        await fake.done;
      }
    }
  });
});

describe("zmq batches: the decoder", () => {
  it("takes back what was encoded, as views", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 2048 }), { minLength: 1, maxLength: 40 }), (payloads) => {
        const frame = encodeBatch([0, MSGPACK_TAG], payloads, payloads.length);
        assert.deepEqual(frame.subarray(2), entries(payloads));
        const back = splitBatch(frame, 2);
        assert.ok(Array.isArray(back));
        assert.deepEqual(back.map((b) => Buffer.from(b)), payloads.map((p) => Buffer.from(p)));
        for (const b of back) assert.equal(b.buffer, frame.buffer, "an entry is a view of the frame");
      }),
    );
  });

  it("never throws on any bytes, and its work is bounded by the bytes (at most one entry per two bytes)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        const frame = Buffer.from(bytes);
        const got = splitBatch(frame, 0);
        if (typeof got === "string") return;
        assert.ok(got.length >= 1 && got.length <= frame.length / 2);
        let total = 0;
        for (const e of got) {
          assert.ok(e.length > 0);
          total += e.length;
        }
        assert.ok(total <= frame.length);
      }),
      { numRuns: 2000 },
    );
    // A frame of a megabyte of one-byte entries is split in proportion to its size.
    const big = Buffer.alloc(1 << 20, 1);
    const t0 = process.hrtime.bigint();
    const got = splitBatch(big, 0);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(Array.isArray(got) && got.length === big.length / 2);
    assert.ok(ms < 2000, `${ms} ms for 1 MiB`);
  });
});
