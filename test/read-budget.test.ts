/**
 * The server-wide budget for unfinished frames (transports/read-budget.ts),
 * as the tcp frame decoder and the ws message meter report to it, fed raw
 * bytes split at every offset; and the 16 MiB default frame limit on real
 * tcp and ws servers.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, it } from "node:test";
import { WebSocket } from "ws";
import { DEFAULT_LIMITS, RPCHandler, RpcError, serve } from "../src/index.js";
import { FREE_BYTES_PER_CONNECTION, ReadBudget } from "../transports/read-budget.js";
import { FrameDecoder } from "../transports/tcp/frame-decoder.js";
import { encodeHeader } from "../transports/tcp/frame-writer.js";
import "../transports/tcp/index.js";
import "../transports/ws/index.js";
import { MessageMeter } from "../transports/ws/message-meter.js";
import { HELLO, tcpFrame, within, wsFrameHeader } from "./support/hostile.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const never = () => false;

function expectCode(fn: () => unknown, code: string): RpcError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe("ReadBudget", () => {
  it("counts only what exceeds each connection's free allowance, and refuses past maxBufferedBytes", () => {
    const budget = new ReadBudget({ maxBufferedBytes: 100 * KiB, frameTimeout: 0 });
    const a = budget.open(never, () => {});
    const b = budget.open(never, () => {});
    assert.ok(a.hold(FREE_BYTES_PER_CONNECTION));
    assert.equal(budget.counted, 0);
    assert.ok(a.hold(FREE_BYTES_PER_CONNECTION + 60 * KiB));
    assert.equal(budget.counted, 60 * KiB);
    assert.ok(b.hold(FREE_BYTES_PER_CONNECTION + 40 * KiB));
    assert.equal(budget.counted, 100 * KiB);
    // One more byte for b is refused, and b keeps what it had.
    assert.equal(b.hold(FREE_BYTES_PER_CONNECTION + 40 * KiB + 1), false);
    assert.equal(b.held, FREE_BYTES_PER_CONNECTION + 40 * KiB);
    // Small frames are never refused, however full the budget is.
    const c = budget.open(never, () => {});
    assert.ok(c.hold(FREE_BYTES_PER_CONNECTION));
    a.release();
    a.release();
    assert.equal(budget.counted, 40 * KiB);
    assert.ok(b.hold(FREE_BYTES_PER_CONNECTION + 100 * KiB));
    b.release();
    c.release();
    assert.equal(budget.counted, 0);
    assert.equal(budget.unfinished, 0);
  });

  it("closes a frame past frameTimeout plus its bytes at minReadRate, not counting time the server was not reading", async () => {
    const budget = new ReadBudget({ maxBufferedBytes: MiB, frameTimeout: 100, minReadRate: 1000 });
    let paused = true;
    const expired: string[] = [];
    let wake: () => void = () => {};
    const woken = () => new Promise<void>((r) => (wake = r));
    const onExpired = (name: string) => (err: RpcError) => {
      assert.equal(err.code, "TIMEOUT");
      expired.push(name);
      wake();
    };
    const slow = budget.open(never, onExpired("slow"));
    const stalled = budget.open(() => paused, onExpired("stalled"));
    // 200 bytes at 1000 bytes/s buy 200 ms on top of the 100 ms grace.
    const started = Date.now();
    const first = woken();
    slow.hold(200);
    stalled.hold(10);
    await within(first, 5000, "the slow frame to expire");
    assert.ok(Date.now() - started >= 300, `expired after ${Date.now() - started} ms`);
    assert.deepEqual(expired, ["slow"]);
    assert.equal(slow.held, 0);
    // The stalled one was paused by the server all along: it is still there until reading resumes.
    assert.equal(stalled.held, 10);
    const second = woken();
    paused = false;
    await within(second, 5000, "the stalled frame to expire once read again");
    assert.deepEqual(expired, ["slow", "stalled"]);
    assert.equal(budget.unfinished, 0);
  });

  it("with frameTimeout 0, never expires anything and runs no timer", () => {
    const budget = new ReadBudget({ frameTimeout: 0 });
    const a = budget.open(never, () => assert.fail("expired"));
    a.hold(10);
    a.release();
    assert.equal(budget.unfinished, 0);
  });

  it("starts one sweep timer for a run of frames, not one per frame, and stops it once idle", async () => {
    const real = globalThis.setInterval;
    let started = 0;
    globalThis.setInterval = ((fn: () => void, ms: number) => {
      started++;
      return real(fn, ms);
    }) as typeof setInterval;
    try {
      const budget = new ReadBudget({ frameTimeout: 80 });
      const a = budget.open(never, () => assert.fail("expired"));
      for (let i = 0; i < 1000; i++) {
        a.hold(10);
        a.release();
      }
      assert.equal(started, 1, "one timer for 1000 frames that each straddled a read");
      // The sweep (every 20 ms here) finds nothing unfinished and stops; the next frame starts it again.
      await new Promise((r) => setTimeout(r, 120));
      a.hold(10);
      assert.equal(started, 2);
      a.release();
    } finally {
      globalThis.setInterval = real;
    }
  });
});

describe("FrameDecoder with a budget", () => {
  /** `frames` framed and concatenated. */
  const stream = (...frames: Uint8Array[]) => Buffer.concat(frames.map((f) => tcpFrame(f)));

  it("reports the unfinished frame at every split and releases it once complete", () => {
    const frames = [new Uint8Array(10), new Uint8Array(200 * KiB).fill(7), new Uint8Array(3)];
    const bytes = stream(...frames);
    for (const at of [1, 3, 4, 5, 13, 14, 15, 100, 100 * KiB, bytes.length - 4, bytes.length - 1]) {
      const budget = new ReadBudget({ maxBufferedBytes: MiB, frameTimeout: 0 });
      const account = budget.open(never, () => {});
      const d = new FrameDecoder(MiB, account);
      const got: number[] = [];
      d.push(bytes.subarray(0, at));
      for (let f = d.next(); f; f = d.next()) got.push(f.length);
      assert.equal(account.held, d.buffered, `split at ${at}`);
      d.push(bytes.subarray(at));
      for (let f = d.next(); f; f = d.next()) got.push(f.length);
      assert.deepEqual(got, [10, 200 * KiB, 3]);
      assert.equal(account.held, 0);
      assert.equal(budget.counted, 0);
    }
  });

  it("drops an unfinished frame the budget cannot hold with PAYLOAD_TOO_LARGE; other peers' small frames go on", () => {
    const budget = new ReadBudget({ maxBufferedBytes: 256 * KiB, frameTimeout: 0 });
    const greedy = [0, 1, 2].map(() => new FrameDecoder(16 * MiB, budget.open(never, () => {})));
    const honest = new FrameDecoder(16 * MiB, budget.open(never, () => {}));
    const part = Buffer.concat([encodeHeader(8 * MiB), Buffer.alloc(160 * KiB)]);
    (greedy[0] as FrameDecoder).push(part);
    assert.equal((greedy[0] as FrameDecoder).next(), undefined);
    (greedy[1] as FrameDecoder).push(part);
    assert.equal((greedy[1] as FrameDecoder).next(), undefined);
    // 2 x (160 KiB + 4 - 64 KiB) counted: a third such frame does not fit.
    (greedy[2] as FrameDecoder).push(part);
    const err = expectCode(() => (greedy[2] as FrameDecoder).next(), "PAYLOAD_TOO_LARGE");
    assert.match(err.message, /maxBufferedBytes 262144/);
    assert.equal((greedy[2] as FrameDecoder).buffered, 0, "the refused frame's bytes are dropped");
    // A small call split across chunks still goes through.
    const call = tcpFrame("[0,1,\"add\",[1,2]]");
    honest.push(call.subarray(0, 7));
    assert.equal(honest.next(), undefined);
    honest.push(call.subarray(7));
    assert.equal(Buffer.from(honest.next() as Uint8Array).toString(), "[0,1,\"add\",[1,2]]");
  });
});

describe("MessageMeter", () => {
  /** A client frame (masked with a zero key) holding `payload`. */
  const frame = (payload: Uint8Array, opcode = 2, fin = true) => Buffer.concat([wsFrameHeader(payload.length, { opcode, fin }), payload]);

  it("follows headers split at every offset: whole messages and pings between them hold nothing, an unfinished one holds its bytes", () => {
    const done = Buffer.concat([frame(new Uint8Array(300)), frame(new Uint8Array(5), 9), frame(new Uint8Array(70_000))]);
    const first = frame(new Uint8Array(1000), 2, false);
    const ping = frame(new Uint8Array(4), 9);
    const tail = Buffer.concat([wsFrameHeader(100_000, { opcode: 0 }), Buffer.alloc(500)]);
    const unfinished = Buffer.concat([first, ping, tail]);
    const bytes = Buffer.concat([done, unfinished]);
    for (let at = 0; at <= bytes.length; at += at < 200 || bytes.length - at < 2000 ? 1 : 997) {
      const account = new ReadBudget({ maxBufferedBytes: MiB, frameTimeout: 0 }).open(never, () => {});
      const meter = new MessageMeter(account, Infinity);
      assert.equal(meter.feed(bytes.subarray(0, at)), undefined);
      if (at === done.length) assert.equal(account.held, 0, "nothing is held between messages");
      assert.equal(meter.feed(bytes.subarray(at)), undefined);
      assert.equal(account.held, unfinished.length, `split at ${at}`);
    }
  });

  it("refuses one of the first messages over its limit at the header, before any of the body", () => {
    const header = wsFrameHeader(257);
    for (let at = 1; at < header.length; at++) {
      const meter = new MessageMeter(new ReadBudget().open(never, () => {}), 256, 3);
      assert.equal(meter.feed(header.subarray(0, at)), undefined);
      assert.equal(meter.feed(header.subarray(at))?.code, "PAYLOAD_TOO_LARGE", `split at ${at}`);
    }
    // Fragments add up; pings in between are not messages.
    const meter = new MessageMeter(new ReadBudget().open(never, () => {}), 256, 3);
    assert.equal(meter.feed(Buffer.concat([frame(new Uint8Array(200)), frame(new Uint8Array(3), 9), frame(new Uint8Array(200), 2, false)])), undefined);
    assert.equal(meter.feed(wsFrameHeader(100, { opcode: 0 }))?.code, "PAYLOAD_TOO_LARGE");
    // 8-byte lengths beyond 2^32 are read whole.
    const huge = new MessageMeter(new ReadBudget().open(never, () => {}), 16 * MiB, 1);
    assert.equal(huge.feed(wsFrameHeader(2 ** 32 + 5))?.code, "PAYLOAD_TOO_LARGE");
  });

  it("lets messages after the capped ones through whatever their size, even in the same chunk (a client's hello and first call right behind its handshake)", () => {
    const meter = new MessageMeter(new ReadBudget().open(never, () => {}), 256, 3);
    const handshake = [frame(new Uint8Array(40)), frame(new Uint8Array(59)), frame(new Uint8Array(9))];
    assert.equal(meter.feed(Buffer.concat([...handshake, frame(new Uint8Array(34)), wsFrameHeader(100_000), Buffer.alloc(1000)])), undefined);
  });

  it("reports the budget refusing an unfinished message", () => {
    const budget = new ReadBudget({ maxBufferedBytes: 10 * KiB, frameTimeout: 0 });
    const meter = new MessageMeter(budget.open(never, () => {}), Infinity);
    assert.equal(meter.feed(Buffer.concat([wsFrameHeader(MiB), Buffer.alloc(FREE_BYTES_PER_CONNECTION)])), undefined);
    assert.equal(meter.feed(Buffer.alloc(20 * KiB))?.code, "PAYLOAD_TOO_LARGE");
  });
});

describe("default maxFrameSize", () => {
  const handler = new RPCHandler();
  handler.register(function add(x: number, y: number) {
    return x + y;
  });

  it("is 16 MiB", () => {
    assert.equal(DEFAULT_LIMITS.maxFrameSize, 16 * MiB);
  });

  it("tcp closes a connection announcing a frame of 16 MiB + 1 before reading its body", async () => {
    const server = await serve(handler, "tcp://127.0.0.1:0");
    try {
      const { port } = new URL(server.url);
      const socket = net.connect({ host: "127.0.0.1", port: Number(port) });
      socket.on("error", () => {});
      socket.resume();
      const closed = new Promise<void>((r) => socket.once("close", () => r()));
      socket.write(Buffer.concat([tcpFrame(HELLO), encodeHeader(16 * MiB + 1)]));
      await within(closed, 5000, "the server to close the connection");
    } finally {
      await server.close();
    }
  });

  it("ws closes a connection announcing a message of 16 MiB + 1 with 1009", async () => {
    const server = await serve(handler, "ws://127.0.0.1:0/");
    try {
      const ws = new WebSocket(server.url);
      ws.on("error", () => {});
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("close", () => reject(new Error("closed before open")));
      });
      const code = new Promise<number>((r) => ws.once("close", (c: number) => r(c)));
      ws.send(HELLO);
      const socket = (ws as unknown as { _socket: net.Socket })._socket;
      socket.write(wsFrameHeader(16 * MiB + 1));
      assert.equal(await within(code, 5000, "the server to close the connection"), 1009);
    } finally {
      await server.close();
    }
  });
});
