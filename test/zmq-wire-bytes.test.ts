/**
 * Bytes on the wire per call over ZeroMQ, counted exactly by a TCP proxy
 * between a real client and a real server, and the hello-tag negotiation
 * that makes them small: a tag only after the server accepted the offer, the
 * full hello still taken from clients that never offered, a tag understood
 * without a session (stateless), an unknown tag refused.
 */
import assert from "node:assert/strict";
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { pack, unpack } from "msgpackr";
import { Dealer } from "zeromq";
import { RPCHandler, connect, serve, type Server as RpcServer } from "../src/index.js";

/** A TCP proxy to `port` that counts the bytes going each way. */
async function countingProxy(port: number): Promise<{ port: number; up: () => number; down: () => number; close: () => Promise<void> }> {
  let up = 0;
  let down = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = netConnect(port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.on("data", (d: Buffer) => {
      up += d.length;
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      down += d.length;
      client.write(d);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    up: () => up,
    down: () => down,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  return h;
}

function portOf(url: string): number {
  return Number(new URL(url.replace(/^zmq\+/, "")).port);
}

describe("zmq: bytes on the wire per add", () => {
  let server: RpcServer;
  before(async () => {
    server = await serve(handler(), "zmq+tcp://127.0.0.1:0");
  });
  after(() => server.close());

  for (const socket of ["dealer", "req"] as const) {
    it(`msgpack over ${socket}: at most 25 bytes each way (exactly as counted)`, async () => {
      const proxy = await countingProxy(portOf(server.url));
      const proxyClient = await connect<{ add(x: number, y: number): number }>(`zmq+tcp://127.0.0.1:${proxy.port}?socket=${socket}`, { serializer: "msgpack" });
      try {
        // Five calls first keep the hello and its answer out of the count; ids stay below 128 (one msgpack byte).
        for (let i = 0; i < 5; i++) assert.equal(await proxyClient.add(1, 2), 3);
        const up0 = proxy.up();
        const down0 = proxy.down();
        const calls = 50;
        for (let i = 0; i < calls; i++) assert.equal(await proxyClient.add(1, 2), 3);
        const up = (proxy.up() - up0) / calls;
        const down = (proxy.down() - down0) / calls;
        // ZMTP 3 short frames: a flags byte and a size byte each. The payloads: [0,id,"add",[1,2]] is 10 bytes of msgpack, [1,id,3] is 4.
        // DEALER: ["", tag, payload] up, ["", payload] down. REQ: the socket adds the delimiter both ways.
        assert.equal(up, 2 + 3 + 12, `client to server: ${up} bytes per add`);
        assert.equal(down, 2 + 6, `server to client: ${down} bytes per add`);
      } finally {
        await proxyClient.$close();
        await proxy.close();
      }
    });
  }
});

describe("zmq: hello tags are negotiated", () => {
  let server: RpcServer;
  const socks: Dealer[] = [];
  before(async () => {
    server = await serve(handler(), "zmq+tcp://127.0.0.1:0");
  });
  after(async () => {
    for (const s of socks) s.close();
    await server.close();
  });

  async function dealer(): Promise<Dealer> {
    const sock = new Dealer({ linger: 0, receiveTimeout: 5000 });
    socks.push(sock);
    sock.connect(server.url.replace(/^zmq\+/, ""));
    return sock;
  }

  async function ask(sock: Dealer, ...body: Buffer[]): Promise<Buffer> {
    await sock.send([Buffer.alloc(0), ...body]);
    const [delimiter, payload, ...rest] = await sock.receive();
    assert.equal(delimiter?.length, 0);
    assert.equal(rest.length, 0);
    return payload as Buffer;
  }

  it("a hello without the offer is answered as before, and the repeated full hello keeps working", async () => {
    const sock = await dealer();
    const hello = Buffer.from('{"wirecall":1,"serializer":"msgpack"}');
    assert.deepEqual(JSON.parse((await ask(sock, hello)).toString()), { wirecall: 1, serializer: "msgpack" });
    assert.deepEqual(unpack(await ask(sock, hello, pack([0, 1, "add", [2, 3]]))), [1, 1, 5]);
    assert.deepEqual(unpack(await ask(sock, pack([0, 2, "add", [2, 4]]))), [1, 2, 6]);
  });

  it("a hello with the offer is answered with it, and the tag then stands for that hello", async () => {
    const sock = await dealer();
    const hello = Buffer.from('{"wirecall":1,"serializer":"msgpack","tags":1}');
    assert.deepEqual(JSON.parse((await ask(sock, hello)).toString()), { wirecall: 1, serializer: "msgpack", tags: 1 });
    assert.deepEqual(unpack(await ask(sock, Buffer.of(6), pack([0, 1, "add", [2, 3]]))), [1, 1, 5]);
  });

  it("a tag needs no session: a peer the server never heard from is served in the tag's serializer", async () => {
    const sock = await dealer();
    assert.deepEqual(unpack(await ask(sock, Buffer.of(6), pack([0, 1, "add", [20, 3]]))), [1, 1, 23]);
    // Tag 3 is json without streams or headers.
    assert.deepEqual(JSON.parse((await ask(await dealer(), Buffer.of(3), Buffer.from('[0,1,"add",[1,1]]'))).toString()), [1, 1, 2]);
  });

  it("an unknown tag is a PROTOCOL_ERROR that names the fix", async () => {
    const sock = await dealer();
    const answer = JSON.parse((await ask(sock, Buffer.of(200), pack([0, 1, "add", [2, 3]]))).toString());
    assert.equal(answer[0], 2);
    assert.equal(answer[1], null);
    assert.equal(answer[2].code, "PROTOCOL_ERROR");
    assert.match(answer[2].message, /unknown hello tag 200.*send the hello itself/);
  });
});
