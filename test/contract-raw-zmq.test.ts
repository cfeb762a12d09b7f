/**
 * The design contract: docs/protocol.md 5.4 is enough for a raw ZeroMQ
 * DEALER (the `zeromq` package, no wirecall code). Without the optional
 * `zeromq` it still loads and skips loudly (fails under CI).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Dealer } from "zeromq";
import { connect, serve, type Server } from "wirecall";
import { interopSkip } from "./support/interop.js";
import {
  noZeromq,
  BOUND,
  code,
  Probe,
  makeHandler,
} from "./support/contract.js";

// ================================================================ ZeroMQ, by hand

// Loaded here, not imported: without the optional package this file still loads, and says why it skips.
const zmq = noZeromq ? undefined : await import("zeromq");

describe("contract: docs/protocol.md 5.4 for a raw ZeroMQ DEALER", { skip: interopSkip("the raw ZeroMQ contract tests", noZeromq) }, () => {
  const probe = new Probe();
  let server: Server;
  let endpoint: string;
  const dealers: Dealer[] = [];
  const dealer = (): Dealer => {
    const d = new (zmq as typeof import("zeromq")).Dealer({ linger: 0, receiveTimeout: BOUND });
    d.connect(endpoint);
    dealers.push(d);
    return d;
  };
  const ask = async (d: Dealer, ...frames: (string | Buffer)[]): Promise<string> => {
    await d.send(frames);
    const reply = await d.receive();
    assert.equal(reply.length, 2);
    assert.equal(reply[0]!.length, 0, "the empty delimiter comes first");
    return reply[1]!.toString();
  };
  before(async () => {
    server = await serve(makeHandler(probe), "zmq+tcp://127.0.0.1:0", { maxFrameSize: 4096 });
    endpoint = server.url.replace(/^zmq\+/, "");
  });
  after(async () => {
    for (const d of dealers) d.close();
    await server?.close();
  });

  it("a hello-less call, malformed and unknown frames, a message without the delimiter", async () => {
    const d = dealer();
    assert.deepEqual(JSON.parse(await ask(d, "", '[0,1,"add",[2,3]]')), [1, 1, 5]);
    let r = JSON.parse(await ask(d, "", "{not json")) as [number, unknown, { code: string }];
    assert.deepEqual([r[0], r[1], r[2].code], [2, null, "PROTOCOL_ERROR"]);
    r = JSON.parse(await ask(d, "", "[9,2]")) as [number, unknown, { code: string }];
    assert.equal(r[0], 2);
    assert.equal(r[2].code, "PROTOCOL_ERROR");
    r = JSON.parse(await ask(d, '[0,3,"add",[1,1]]')) as [number, unknown, { code: string }];
    assert.deepEqual([r[0], r[1], r[2].code], [2, null, "PROTOCOL_ERROR"]);
    const hello = '{"wirecall":1,"serializer":"json"}';
    assert.deepEqual(JSON.parse(await ask(d, "", hello)), { wirecall: 1, serializer: "json" });
    assert.deepEqual(JSON.parse(await ask(d, "", hello, '[0,4,"add",[2,2]]')), [1, 4, 4]);
    const nope = JSON.parse(await ask(d, "", hello, '[0,5,"nope",[]]')) as [number, number, { code: string }];
    assert.deepEqual([nope[0], nope[1], nope[2].code], [2, 5, "METHOD_NOT_FOUND"]);
  });

  it("an oversized frame is dropped; the server keeps serving others", async () => {
    const big = dealer();
    await big.send(["", Buffer.alloc(8192)]);
    const d = dealer();
    assert.deepEqual(JSON.parse(await ask(d, "", '[0,1,"add",[20,22]]')), [1, 1, 42]);
    const proxy = await connect(server.url);
    assert.equal(await proxy.add(1, 1), 2);
    await proxy.$close();
  });
});
