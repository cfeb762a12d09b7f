/**
 * Client-side write backpressure: when ZeroMQ's own queue towards a peer is
 * full (the peer is not reading), frames wait in the connection's bounded
 * queue, `send()` returns false past its high-water mark, and `drain()`
 * fires once the peer reads again. Nothing is dropped.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Router } from "zeromq";
import { getTransport, parseEndpoint, type ConnectionSink } from "../src/transport-sdk.js";
import { Deferred } from "./conformance.js";

describe("zmq: client backpressure", () => {
  it("returns false from send() while the peer does not read, then drains", async () => {
    const router = new Router({ linger: 0, receiveHighWaterMark: 1 });
    await router.bind("tcp://127.0.0.1:*");
    const ep = parseEndpoint(`zmq+${router.lastEndpoint}`);
    const transport = await getTransport(ep.scheme);
    const conn = await transport.connect(ep.url, { sendHighWaterMark: 1 });
    const drained = new Deferred<void>();
    const sink: ConnectionSink = { frame: () => {}, drain: () => drained.resolve(), close: () => {} };
    conn.open(sink);

    const frame = new Uint8Array(16 * 1024).fill(7);
    let sent = 0;
    while (conn.send(frame)) {
      sent++;
      assert.ok(sent < 100_000, "send() never reported backpressure");
      // Let ZeroMQ move what it can, so only a really full pipe stops us.
      if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    sent++; // the frame that returned false is queued too

    let received = 0;
    const reading = (async () => {
      while (received < sent) {
        const msg = await router.receive();
        assert.equal(msg.length, 3); // [identity, "", payload]
        assert.equal((msg[2] as Buffer).length, frame.length);
        received++;
      }
    })();
    await drained.promise;
    await reading;
    assert.equal(received, sent);
    conn.close();
    router.close();
  });
});
