/**
 * msgpack is plain MessagePack in and out (docs/protocol.md section 4): the
 * timestamp extension is the only one accepted, bytes travel as bin, and
 * binary data that is not a Uint8Array is refused instead of being written
 * from uninitialised memory (msgpackr copied a Float64Array element by
 * element into a bin of its byte length: 7 of 8 bytes were stale memory).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Packr } from "msgpackr";
import { RPCHandler, connect, msgpack, serve, type Server } from "../src/index.js";
import { RawPeer } from "./serializers-peer.js";
import { coded } from "./support/errors.js";

/** The refusal a test expects: an RpcError with this code (and message). */
const refusal = coded;

describe("msgpack: plain MessagePack on the wire", () => {
  let server: Server;
  const secret = Buffer.from("another client's secret: hunter2 ".repeat(64));

  before(async () => {
    const h = new RPCHandler();
    h.register("echo", (v: unknown) => v);
    // Leave secrets in freed memory, as another client's traffic would.
    h.register("remember", (s: Uint8Array) => Buffer.from(s).length);
    h.register("floats", () => new Float64Array([1.5, 2.5, 3.5]));
    h.register("ints", () => new Int32Array([1, 2, 3]));
    h.register("view", () => new DataView(new ArrayBuffer(8)));
    h.register("arraybuffer", () => new ArrayBuffer(8));
    h.register("buffer", () => Buffer.from([1, 2, 3]));
    server = await serve(h, "tcp://127.0.0.1:0");
  });

  after(async () => {
    await server.close();
  });

  it("refuses msgpackr's typed-array extension: an echoed Float64Array never carries server memory", async () => {
    const leaky = new Packr({ moreTypes: true, useRecords: false });
    const peer = await RawPeer.open(server.url, "msgpack");
    try {
      for (let i = 0; i < 20; i++) {
        peer.send(msgpack.encode([0, 1000 + i, "remember", [secret]]));
        await peer.next(10_000);
        peer.send(leaky.pack([0, i, "echo", [new Float64Array([1.5, 2.5])]]));
        const reply = msgpack.decode(await peer.next(10_000)) as unknown[];
        // Today's code replied [1, i, <16-byte bin>] whose bytes after the first two were stale memory.
        assert.equal(reply[0], 2, `an error reply, got ${JSON.stringify(reply)}`);
        const err = reply[2] as { code: string; message: string };
        assert.equal(err.code, "PROTOCOL_ERROR");
        assert.match(err.message, /extension type 116/);
        assert.match(err.message, /only the timestamp extension/);
      }
    } finally {
      peer.close();
    }
  });

  it("refuses to encode a handler's typed arrays other than bytes (SERIALIZE_ERROR), and carries Buffer exactly", async () => {
    const proxy = await connect<{
      floats(): Float64Array;
      ints(): Int32Array;
      view(): DataView;
      arraybuffer(): ArrayBuffer;
      buffer(): Uint8Array;
      echo(v: unknown): unknown;
    }>(server.url, { serializer: "msgpack" });
    try {
      for (const call of [() => proxy.floats(), () => proxy.ints(), () => proxy.view(), () => proxy.arraybuffer()]) {
        await assert.rejects(call(), refusal("SERIALIZE_ERROR", /only Uint8Array/));
      }
      assert.deepEqual([...(await proxy.buffer())], [1, 2, 3]);
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
      assert.deepEqual([...((await proxy.echo(bytes)) as Uint8Array)], [...bytes]);
      // The client refuses too, before anything is sent.
      await assert.rejects(proxy.echo(new Float64Array([1])), refusal("SERIALIZE_ERROR", /Float64Array/));
      assert.equal(await proxy.echo("still connected"), "still connected");
    } finally {
      await proxy.$close();
    }
  });

  it("refuses every extension type but the timestamp", () => {
    // msgpackr's own: 0 undefined, 0x42 BigInt, 0x62 bundled strings, 0x65 Error,
    // 0x69/0x70 shared structures, 0x72 records, 0x73 Set, 0x74 typed array,
    // 0x78 RegExp, 0x10/0x11 ArrayBuffer/DataView; and anyone else's.
    for (const type of [0x00, 0x01, 0x10, 0x11, 0x42, 0x62, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, 0x7f, 0x80, 0xfe]) {
      for (const frame of [[0xd4, type, 0], [0xd5, type, 0, 0], [0xc7, 1, type, 0], [0xc8, 0, 1, type, 0], [0xc9, 0, 0, 0, 1, type, 0]]) {
        assert.throws(() => msgpack.decode(Uint8Array.from([0x91, ...frame])), refusal("PROTOCOL_ERROR", /extension type/), `type ${type}`);
      }
    }
    // msgpackr's real encodings of its extension types are refused as well.
    const more = new Packr({ moreTypes: true, structuredClone: true, useRecords: false });
    const shared = { a: 1 };
    for (const v of [new Set([1]), /x/g, new Error("e"), new Float32Array(2), [shared, shared]]) {
      const bytes = more.pack(v);
      assert.throws(() => msgpack.decode(bytes), refusal("PROTOCOL_ERROR"), String(v));
    }
    // The timestamp (-1) of 4, 8 and 12 bytes is plain MessagePack; other lengths are not.
    for (const d of [new Date(0), new Date(1234), new Date(-1e13), new Date(8.64e15)]) {
      assert.equal((msgpack.decode(msgpack.encode(d)) as Date).getTime(), d.getTime());
    }
    assert.throws(() => msgpack.decode(Uint8Array.from([0xd4, 0xff, 0])), refusal("PROTOCOL_ERROR", /extension type -1 \(1 bytes\)/));
    assert.throws(() => msgpack.decode(Uint8Array.from([0xc1])), refusal("PROTOCOL_ERROR", /0xc1/));
  });

  it("writes only plain MessagePack: undefined as nil, bytes as bin, BigInt as int64", () => {
    assert.deepEqual([...msgpack.encode([undefined, { a: undefined }])], [0x92, 0xc0, 0x81, 0xa1, 0x61, 0xc0]);
    assert.deepEqual(msgpack.decode(msgpack.encode([undefined])), [null]);
    assert.deepEqual([...msgpack.encode(Buffer.from([7, 8]))], [0xc4, 2, 7, 8]);
    assert.deepEqual([...msgpack.encode(-(2n ** 63n))], [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(() => msgpack.encode({ v: new Uint16Array(4) }), refusal("SERIALIZE_ERROR", /Uint16Array/));
    assert.throws(() => msgpack.encode([new DataView(new ArrayBuffer(4))]), refusal("SERIALIZE_ERROR", /DataView/));
  });
});
