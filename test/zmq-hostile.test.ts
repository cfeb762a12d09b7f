/**
 * Hostile and broken input against a ZeroMQ server, sent from raw zeromq
 * sockets: malformed multipart messages, garbage, oversized frames, a flood
 * of identities, a misbehaving authkey handshake. Each gets a coded answer
 * (or the peer is dropped) and the server keeps serving a well-behaved client.
 */
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { Dealer } from "zeromq";
import { RPCHandler, connect, serve, type AnyRemote, type Server } from "../src/index.js";
import { HandshakeReports, within } from "./zmq-fixtures.js";

type ErrorEnvelope = [number, number | null, { code: string; message: string }];

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  return h;
}

/** A raw DEALER connected to `url` (a wirecall zmq+ URL), with routing identity `id` if given. */
function raw(url: string, id?: string): Dealer {
  const sock = new Dealer({ linger: 0, receiveTimeout: 5000, ...(id === undefined ? {} : { routingId: id }) });
  sock.connect(url.replace(/^zmq\+/, ""));
  return sock;
}

/** How the server names the peer with routing identity `id` (its session's remoteAddress). */
function peerAddress(id: string): string {
  return `zmq-peer:${Buffer.from(id).toString("hex")}`;
}

async function reply(sock: Dealer): Promise<Buffer[]> {
  return sock.receive();
}

function errorOf(msg: Buffer[]): ErrorEnvelope[2] {
  assert.equal(msg.length, 2, `expected ["", payload], got ${msg.length} frames`);
  assert.equal((msg[0] as Buffer).length, 0);
  const env = JSON.parse((msg[1] as Buffer).toString()) as ErrorEnvelope;
  assert.equal(env[0], 2);
  return env[2];
}

describe("zmq: hostile multipart messages", () => {
  let server: Server;
  let proxy: AnyRemote;
  before(async () => {
    server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { maxFrameSize: 64 * 1024 });
    proxy = await connect(server.url, { serializer: "msgpack" });
  });
  after(async () => {
    await proxy?.$close();
    await server?.close();
  });

  it("answers each malformed message with PROTOCOL_ERROR and keeps serving", async () => {
    const sock = raw(server.url);
    const cases: (string | Buffer)[][] = [
      ["no delimiter"], // the ROUTER sees [id, "no delimiter"]
      ["", "a", "b", "c"], // three body frames
      ["", "not a hello", '[0,1,"add",[1,2]]'], // two body frames, the first not a hello
      ["r1", "r2", "r3", "r4", "", '[0,1,"add",[1,2]]'], // five routing frames
      ["", Buffer.from([0xff, 0x00, 0x13, 0x37])], // garbage payload
      ["", '[9,1,"add",[1,2]]'], // unknown envelope kind
    ];
    for (const parts of cases) {
      await sock.send(parts);
      const err = errorOf(await reply(sock));
      assert.equal(err.code, "PROTOCOL_ERROR", `for ${JSON.stringify(parts.map(String))}: ${err.message}`);
      assert.equal(await proxy.add(1, 1), 2);
    }
    // [id, ""] looks exactly like ZeroMQ's connect/disconnect notification: it only ends this connection's own sessions, unanswered.
    await sock.send([""]);
    assert.equal(await proxy.add(1, 1), 2);
    // A well-formed call on the same socket still works after all that.
    await sock.send(["", '[0,7,"add",[20,22]]']);
    assert.deepEqual(JSON.parse(((await reply(sock))[1] as Buffer).toString()), [1, 7, 42]);
    sock.close();
  });

  it("refuses an unknown serializer in the hello, then says goodbye", async () => {
    const sock = raw(server.url);
    await sock.send(["", '{"wirecall":1,"serializer":"nope"}']);
    const answer = JSON.parse(((await reply(sock))[1] as Buffer).toString()) as { error: { code: string } };
    assert.equal(answer.error.code, "PROTOCOL_ERROR");
    const bye = await reply(sock);
    assert.equal(bye.length, 2);
    assert.equal((bye[1] as Buffer).length, 0);
    sock.close();
    assert.equal(await proxy.add(2, 2), 4);
  });

  it("drops the connection of a peer sending a frame over maxFrameSize (ZMQ_MAXMSGSIZE)", async () => {
    const sock = raw(server.url);
    const dropped = new Promise<void>((resolve) => sock.events.on("disconnect", () => resolve()));
    await sock.send(["", Buffer.alloc(64 * 1024 + 1, 0x20)]);
    await within(dropped, 5000, "the oversized sender was not dropped");
    sock.close();
    assert.equal(await proxy.add(3, 3), 6);
  });

  it("drops a TCP connection that never completes the ZeroMQ handshake (handshakeTimeout)", async () => {
    const strict = await serve(handler(), "zmq+tcp://127.0.0.1:0", { handshakeTimeout: 200 });
    const silent = netConnect(Number(new URL(strict.url).port), "127.0.0.1");
    silent.on("data", () => {});
    silent.on("error", () => {});
    await within(new Promise<void>((resolve) => silent.on("close", () => resolve())), 5000, "the silent connection was not dropped");
    await strict.close();
  });

  it("keeps the peer table bounded under a flood of identities (maxPeers)", async () => {
    const small = await serve(handler(), "zmq+tcp://127.0.0.1:0", { maxPeers: 5 });
    const sock = raw(small.url);
    // Each distinct extra routing frame is a distinct peer to the server.
    for (let i = 0; i < 50; i++) await sock.send([`peer-${i}`, "", `[0,${i},"add",[${i},1]]`]);
    for (let i = 0; i < 50; i++) {
      const msg = await reply(sock);
      assert.equal((msg[0] as Buffer).toString(), `peer-${i}`);
      assert.deepEqual(JSON.parse((msg[2] as Buffer).toString()), [1, i, i + 1]);
    }
    const connections = (small as unknown as { connections: number }).connections;
    assert.ok(connections <= 5, `${connections} sessions held`);
    sock.close();
    await small.close();
  });
});

describe("zmq: a misbehaving peer during the authkey challenge", () => {
  let server: Server;
  const reports = new HandshakeReports();
  before(async () => {
    server = await serve(handler(), "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo", handshakeTimeout: 300, onHandshakeError: reports.hook });
  });
  after(async () => server?.close());

  it("fails a wrong answer with #FAILURE#, reports the peer, and a new knock starts over", async () => {
    const sock = raw(server.url, "wrong-answer");
    const reported = reports.next(peerAddress("wrong-answer"));
    await sock.send(["", "#AUTH#"]);
    assert.match(((await reply(sock))[1] as Buffer).toString("latin1"), /^#CHALLENGE#\{sha256\}/);
    await sock.send(["", "{sha256}" + "0".repeat(32)]);
    assert.equal(((await reply(sock))[1] as Buffer).toString(), "#FAILURE#");
    assert.equal((await reported).code, "AUTH_FAILED");
    await sock.send(["", "#AUTH#"]);
    assert.match(((await reply(sock))[1] as Buffer).toString("latin1"), /^#CHALLENGE#/);
    sock.close();
  });

  it("does not let a call through before the challenge", async () => {
    const sock = raw(server.url);
    await sock.send(["", '[0,1,"add",[1,2]]']); // taken as the knock
    assert.match(((await reply(sock))[1] as Buffer).toString("latin1"), /^#CHALLENGE#/);
    await sock.send(["", '{"wirecall":1}', '[0,1,"add",[1,2]]']); // a call instead of an answer ends the attempt
    await sock.send(["", '[0,2,"add",[1,2]]']); // so this is a new knock, not a call
    assert.match(((await reply(sock))[1] as Buffer).toString("latin1"), /^#CHALLENGE#/);
    sock.close();
  });

  it("forgets and reports a silent peer after the handshake time limit", async () => {
    const sock = raw(server.url, "silent-peer");
    const reported = reports.next(peerAddress("silent-peer"), 5000);
    await sock.send(["", "#AUTH#"]);
    assert.match(((await reply(sock))[1] as Buffer).toString("latin1"), /^#CHALLENGE#/);
    // Answer only once the server has given up on the peer: the late answer is a new knock, so it gets a fresh challenge, not a verdict.
    assert.equal((await reported).code, "AUTH_FAILED");
    await sock.send(["", "{sha256}" + "0".repeat(32)]);
    assert.match(((await reply(sock))[1] as Buffer).toString("latin1"), /^#CHALLENGE#/);
    sock.close();
  });

  it("still serves a client with the right key", async () => {
    const proxy = await connect(server.url, { authkey: "peekaboo" });
    assert.equal(await proxy.add(1, 2), 3);
    await proxy.$close();
  });
});
