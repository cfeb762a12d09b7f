/**
 * Issue 19, "the first hour", on the wire: what a client written in another
 * language sends (ids and integers as its msgpack or JSON library writes
 * them, a hello with its own key order) and what it gets back. Raw frames
 * over real tcp sockets; the msgpack bytes are the ones Python's msgpack
 * writes (an int above 2^32 as uint64 0xcf, a negative one below -2^31 as
 * int64 0xd3).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, serve, type Server } from "../src/index.js";
import { within } from "./support/async.js";
import { BYTES, RawTcpPeer } from "./support/raw-peer.js";

/** A framed tcp peer that reads every frame the server sends, as bytes. */
const openPeer = (url: string): Promise<RawTcpPeer<Uint8Array>> => RawTcpPeer.open(url, BYTES);

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ""), "hex");
const text = (b: Uint8Array): string => Buffer.from(b).toString("utf8");
const msgpackHello = '{"wirecall":1,"serializer":"msgpack"}';

describe("first hour: call ids and integers from other languages", () => {
  let server: Server;
  before(async () => {
    const h = new RPCHandler().register("add", (x: number, y: number) => x + y).register("echo", (v: unknown) => v);
    server = await serve(h, "tcp://127.0.0.1:0");
  });
  after(() => server.close());

  it("msgpack: an id above 2^32 (uint64, as Python writes 2**40) is answered with that id", async () => {
    const p = await openPeer(server.url);
    try {
      p.send(msgpackHello);
      assert.match(text(await p.next()), /"serializer":"msgpack"/);
      // [0, 2**40, "echo", ["x"]]
      p.send(hex("94 00 cf0000010000000000 a46563686f 91 a178"));
      // [1, 2**40, "x"]: the id comes back as a 64-bit int (int64), not as a float64
      assert.deepEqual(await p.next(), hex("93 01 d30000010000000000 a178"));
    } finally {
      p.destroy();
    }
  });

  it("msgpack: integers beyond 32 bits decode as numbers, so add(2**40, 1) works; beyond 2^53 as BigInt", async () => {
    const p = await openPeer(server.url);
    try {
      p.send(msgpackHello);
      await p.next();
      // [0, 7, "add", [2**40, 1]]
      p.send(hex("94 00 07 a3616464 92 cf0000010000000000 01"));
      // [1, 7, 2**40 + 1]: a number result, which msgpackr writes as a float64
      const reply = await p.next();
      assert.equal(reply[0], 0x93);
      assert.equal(reply[1], 0x01);
      assert.equal(reply[2], 0x07);
      assert.equal(reply[3], 0xcb, "expected a float64 result, not an error");
      assert.equal(Buffer.from(reply).readDoubleBE(4), 2 ** 40 + 1);
      // [0, 8, "add", [-2**40 (int64), -1]]
      p.send(hex("94 00 08 a3616464 92 d3ffffff0000000000 ff"));
      const neg = await p.next();
      assert.equal(neg[3], 0xcb);
      assert.equal(Buffer.from(neg).readDoubleBE(4), -(2 ** 40) - 1);
      // echo(2**53 + 1): not exact as a double, so a BigInt, written back as a 64-bit int
      p.send(hex("94 00 09 a46563686f 91 cf0020000000000001"));
      assert.deepEqual(await p.next(), hex("93 01 09 d30020000000000001"));
    } finally {
      p.destroy();
    }
  });

  it("msgpack: an id beyond 2^53-1 is refused with an error carrying that id", async () => {
    const p = await openPeer(server.url);
    try {
      p.send(msgpackHello);
      await p.next();
      // [0, 2**64-1, "echo", [1]]
      p.send(hex("94 00 cfffffffffffffffff a46563686f 91 01"));
      const err = await p.next();
      // [2, 2**64-1, {...}]
      assert.deepEqual(Buffer.from(err.subarray(0, 11)), hex("93 02 cfffffffffffffffff"));
      assert.match(text(err), /PROTOCOL_ERROR/);
      assert.match(text(err), /18446744073709551615 is out of range/);
      // and the connection still serves
      p.send(hex("94 00 01 a46563686f 91 02"));
      assert.deepEqual(await p.next(), hex("93 01 01 02"));
    } finally {
      p.destroy();
    }
  });

  it("json: ids up to 2^53-1 come back exactly; beyond, the error carries the id's own digits", async () => {
    const p = await openPeer(server.url);
    try {
      p.send('{"wirecall":1,"serializer":"json"}');
      await p.next();
      p.send('[0,9007199254740991,"echo",["a"]]');
      assert.equal(text(await p.next()), '[1,9007199254740991,"a"]');
      // 2^53 + 1: JSON.parse would read 2^53, another call's id
      p.send('[0, 9007199254740993, "echo", ["b"]]');
      const raw = text(await p.next());
      assert.match(raw, /^\[2,9007199254740993,\{/);
      const err = JSON.parse(raw) as [number, number, { code: string; data: { id: string } }];
      assert.equal(err[2].code, "PROTOCOL_ERROR");
      assert.equal(err[2].data.id, "9007199254740993");
      p.send('[0,-1,"echo",["c"]]');
      assert.match(text(await p.next()), /^\[2,-1,\{.*out of range/);
      p.send('[0,3,"echo",["d"]]');
      assert.equal(text(await p.next()), '[1,3,"d"]');
    } finally {
      p.destroy();
    }
  });
});

describe("first hour: the hello", () => {
  let server: Server;
  before(async () => {
    server = await serve(new RPCHandler().register("echo", (v: unknown) => v), "tcp://127.0.0.1:0");
  });
  after(() => server.close());

  for (const hello of ['{"serializer":"msgpack","wirecall":1}', '{ "wirecall": 1, "serializer": "msgpack" }', '\n{"serializer": "msgpack",\n "wirecall": 1}\n']) {
    it(`any JSON object hello is one: ${JSON.stringify(hello)}`, async () => {
      const p = await openPeer(server.url);
      try {
        p.send(hello);
        assert.deepEqual(JSON.parse(text(await p.next())), { wirecall: 1, serializer: "msgpack" });
        // msgpack from now on: [0, 1, "echo", ["x"]] -> [1, 1, "x"]
        p.send(hex("94 00 01 a46563686f 91 a178"));
        assert.deepEqual(await p.next(), hex("93 01 01 a178"));
      } finally {
        p.destroy();
      }
    });
  }

  for (const [hello, problem] of [
    ['{"wirecall":"1","serializer":"msgpack"}', /"wirecall" is "1"/],
    ['{"wirecal":1,"serializer":"msgpack"}', /"wirecall" is not one of its keys/],
    ['{"wirecall":1,"serializer":["msgpack"]}', /"serializer" is not a string/],
  ] as const) {
    it(`a near miss is refused with a hello error and a close: ${hello}`, async () => {
      const p = await openPeer(server.url);
      try {
        p.send(hello);
        const answer = JSON.parse(text(await p.next())) as { wirecall: number; error: { code: string; message: string } };
        assert.equal(answer.wirecall, 1);
        assert.equal(answer.error.code, "PROTOCOL_ERROR");
        assert.match(answer.error.message, /not a hello/);
        assert.match(answer.error.message, problem);
        await within(
          new Promise<void>((resolve) => (p.closed ? resolve() : p.socket.once("close", () => resolve()))),
          10_000,
          "the server to close",
        );
      } finally {
        p.destroy();
      }
    });
  }

  it("a client without a hello still speaks JSON at once", async () => {
    const p = await openPeer(server.url);
    try {
      p.send('[0,1,"echo",[5]]');
      assert.equal(text(await p.next()), "[1,1,5]");
    } finally {
      p.destroy();
    }
  });
});
