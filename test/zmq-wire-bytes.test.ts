/**
 * Bytes on the wire per call over ZeroMQ, counted exactly by a TCP proxy
 * between a real client and a real server, and the negotiation that makes
 * them small: a tag only after the server accepted the offer, the full hello
 * still taken from clients that never offered, a tag understood without a
 * session (stateless), an unknown tag refused; compact messages (no
 * delimiter, the tag in the payload's frame) only from and to direct DEALER
 * peers the server granted them, and a client that takes a reply without
 * the delimiter only from a server that granted them.
 */
import assert from "node:assert/strict";
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { pack, unpack } from "msgpackr";
import { Dealer, Router } from "zeromq";
import { RPCHandler, RpcError, connect, serve, type Server as RpcServer } from "../src/index.js";

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
        if (socket === "dealer") {
          // Compact messages: [tag ‖ payload] up, [payload] down.
          assert.equal(up, 2 + 1 + 10, `client to server: ${up} bytes per add`);
          assert.equal(down, 2 + 4, `server to client: ${down} bytes per add`);
        } else {
          // REQ: the socket adds the delimiter both ways: ["", tag, payload] up, ["", payload] down.
          assert.equal(up, 2 + 3 + 12, `client to server: ${up} bytes per add`);
          assert.equal(down, 2 + 6, `server to client: ${down} bytes per add`);
        }
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

  it("a hello with the offer is answered with it (and compact messages and batches granted), and the tag then stands for that hello", async () => {
    const sock = await dealer();
    const hello = Buffer.from('{"wirecall":1,"serializer":"msgpack","tags":1}');
    assert.deepEqual(JSON.parse((await ask(sock, hello)).toString()), { wirecall: 1, serializer: "msgpack", tags: 1, compact: 1, batch: 1 });
    assert.deepEqual(unpack(await ask(sock, Buffer.of(6), pack([0, 1, "add", [2, 3]]))), [1, 1, 5]);
  });

  it("replies lose the delimiter only after the peer sent a compact message; both forms are taken after that", async () => {
    const sock = await dealer();
    const hello = Buffer.from('{"wirecall":1,"serializer":"msgpack","tags":1}');
    assert.equal(JSON.parse((await ask(sock, hello)).toString()).compact, 1);
    assert.deepEqual(unpack(await ask(sock, Buffer.of(6), pack([0, 1, "add", [2, 3]]))), [1, 1, 5]);
    await sock.send(Buffer.concat([Buffer.of(6), pack([0, 2, "add", [2, 4]])]));
    const compact = await sock.receive();
    assert.equal(compact.length, 1, "a compact reply is the payload alone");
    assert.deepEqual(unpack(compact[0] as Buffer), [1, 2, 6]);
    // The delimited form still works (a client sends long payloads that way); the reply stays compact.
    await sock.send([Buffer.alloc(0), Buffer.of(6), pack([0, 3, "add", [2, 5]])]);
    const [only, ...rest] = await sock.receive();
    assert.equal(rest.length, 0);
    assert.deepEqual(unpack(only as Buffer), [1, 3, 7]);
  });

  it("a compact message needs no session: a peer the server never heard from is served in the tag's serializer", async () => {
    const sock = await dealer();
    await sock.send(Buffer.concat([Buffer.of(6), pack([0, 1, "add", [40, 2]])]));
    const reply = await sock.receive();
    assert.equal(reply.length, 1);
    assert.deepEqual(unpack(reply[0] as Buffer), [1, 1, 42]);
  });

  it("a message without the delimiter whose first byte is not a tag is a PROTOCOL_ERROR, answered with the delimiter", async () => {
    // (First byte 0 is a batch: test/zmq-batch.test.ts.)
    for (const first of [10, 200]) {
      const sock = await dealer();
      await sock.send(Buffer.concat([Buffer.of(first), pack([0, 1, "add", [2, 3]])]));
      const [delimiter, payload, ...rest] = await sock.receive();
      assert.equal(delimiter?.length, 0);
      assert.equal(rest.length, 0);
      const answer = JSON.parse((payload as Buffer).toString());
      assert.deepEqual([answer[0], answer[1], answer[2].code], [2, null, "PROTOCOL_ERROR"]);
      assert.match(answer[2].message, new RegExp(`no empty delimiter.*first byte ${first} is not a hello tag`));
    }
  });

  it("a hello that crossed a broker hop gets tags but no compact messages", async () => {
    const sock = await dealer();
    const hello = Buffer.from('{"wirecall":1,"serializer":"msgpack","tags":1}');
    // An extra routing frame before the delimiter: to the server, a peer one hop behind a ROUTER broker.
    await sock.send([Buffer.from("hop"), Buffer.alloc(0), hello]);
    const [hop, delimiter, answer] = await sock.receive();
    assert.equal(hop?.toString(), "hop");
    assert.equal(delimiter?.length, 0);
    assert.deepEqual(JSON.parse((answer as Buffer).toString()), { wirecall: 1, serializer: "msgpack", tags: 1 });
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

describe("zmq: a client takes replies without the delimiter only when it was granted compact messages", () => {
  /**
   * A hand-written server on a raw ROUTER: it answers the hello (granting
   * compact messages or not), then answers the call without the delimiter.
   */
  async function fakeServer(grant: boolean): Promise<{ url: string; done: Promise<void>; close: () => void }> {
    const router = new Router({ linger: 0 });
    await router.bind("tcp://127.0.0.1:0");
    const done = (async () => {
      for (;;) {
        const [id, ...body] = await router.receive();
        const last = body[body.length - 1] as Buffer;
        const text = last.subarray(0, 1).toString();
        if (body.length === 2 && text === "{") {
          const answer = { ...JSON.parse(last.toString()), ...(grant ? { compact: 1 } : {}) };
          await router.send([id as Buffer, Buffer.alloc(0), Buffer.from(JSON.stringify(answer))]);
          continue;
        }
        // The call: compact ([tag ‖ payload]) or delimited (["", hello or tag, payload]).
        const payload = body.length === 1 ? last.subarray(1) : last;
        const [, callId] = unpack(payload) as [number, number];
        await router.send([id as Buffer, pack([1, callId, "no delimiter"])]);
        return;
      }
    })();
    return { url: `zmq+${router.lastEndpoint}`, done, close: () => router.close() };
  }

  it("granted: the reply [payload] is taken", async () => {
    const fake = await fakeServer(true);
    const proxy = await connect<{ add(x: number, y: number): string }>(fake.url, { serializer: "msgpack", timeout: 5000 });
    try {
      assert.equal(await proxy.add(1, 2), "no delimiter");
    } finally {
      await proxy.$close();
      fake.close();
    }
  });

  it("not granted: the reply [payload] is a PROTOCOL_ERROR", async () => {
    const fake = await fakeServer(false);
    const proxy = await connect<{ add(x: number, y: number): string }>(fake.url, { serializer: "msgpack", timeout: 5000 });
    try {
      await assert.rejects(proxy.add(1, 2), (err: RpcError) => {
        // The client closes the connection on the malformed reply: the call fails with that reason.
        assert.equal(err.code, "CONNECTION_CLOSED");
        assert.match(err.message, /malformed message from the server \(1 frames, no empty delimiter first\)/);
        return true;
      });
    } finally {
      await proxy.$close();
      fake.close();
    }
  });
});
