/**
 * transports/ws/frame-writer.ts: the frames it writes are the ones `ws`'s
 * own Sender writes for the same message and masking key, byte for byte,
 * and `ws`'s own Receiver reads them back as the messages sent, in order,
 * whatever their sizes; the 32-bit masking equals the byte-wise XOR at
 * every alignment; ticks are cut at the flush thresholds without
 * reordering; a server's large payload is written as the caller's buffer.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import * as wsModule from "ws";
import { RPCHandler, connect, serve } from "../src/index.js";
import { FLUSH_BYTES, FLUSH_COUNT, FrameWriter, maskInPlace, type RawSocket } from "../transports/ws/frame-writer.js";

type Message = { data: Uint8Array; text: boolean; cuts?: number[] };

// ws exports its Sender and Receiver (wrapper.mjs); @types/ws does not declare them.
const { Sender, Receiver } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
  Receiver: new (options: { isServer: boolean; maxPayload: number; skipUTF8Validation?: boolean }) => NodeJS.WritableStream & {
    on(event: "message", fn: (data: Buffer, isBinary: boolean) => void): void;
    on(event: "error", fn: (err: Error) => void): void;
  };
};

/** A socket that records what is written, write by write. */
class Recorder implements RawSocket {
  writes: Uint8Array[][] = [];
  #corked = 0;
  #batch: Uint8Array[] = [];
  callbacks = 0;
  write(chunk: Uint8Array, cb?: () => void): boolean {
    this.#batch.push(chunk);
    if (cb) this.callbacks++;
    if (this.#corked === 0) this.#end();
    return true;
  }
  cork(): void {
    this.#corked++;
  }
  uncork(): void {
    if (--this.#corked === 0 && this.#batch.length > 0) this.#end();
  }
  #end(): void {
    this.writes.push(this.#batch);
    this.#batch = [];
  }
  bytes(): Buffer {
    return Buffer.concat(this.writes.flat());
  }
}

function writer(socket: Recorder, masked: boolean, open = () => true): FrameWriter {
  return new FrameWriter(socket, masked, () => {}, open);
}

/** Parse `bytes` with ws's own Receiver; resolves with the messages it emits. */
function parse(bytes: Buffer, fromClient: boolean): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    const out: Message[] = [];
    // Text payloads here are arbitrary bytes: this checks framing, not UTF-8.
    const r = new Receiver({ isServer: fromClient, maxPayload: 0, skipUTF8Validation: true });
    r.on("message", (data, isBinary) => out.push({ data: new Uint8Array(data), text: !isBinary }));
    r.on("error", reject);
    // Odd-sized chunks, so that headers and payloads straddle writes.
    for (let i = 0; i < bytes.length; i += 7919) r.write(bytes.subarray(i, i + 7919));
    r.end(() => resolve(out));
  });
}

/** ws's Sender framing of one message, with the masking key our frame carries (or none). */
function wsFrame(m: Message, key: Uint8Array | undefined): Buffer {
  const opts: Record<string, unknown> = { fin: true, opcode: m.text ? 1 : 2, readOnly: true, rsv1: false, mask: key !== undefined };
  if (key) opts.generateMask = (mask: Buffer) => mask.set(key);
  return Buffer.concat(Sender.frame(Buffer.from(m.data), opts));
}

/** Split our output into frames (header sizes per RFC 6455), returning each frame and its key. */
function splitFrames(bytes: Buffer, masked: boolean): { frame: Buffer; key: Uint8Array | undefined }[] {
  const out: { frame: Buffer; key: Uint8Array | undefined }[] = [];
  let p = 0;
  while (p < bytes.length) {
    const len7 = (bytes[p + 1] as number) & 0x7f;
    let h = 2;
    let length = len7;
    if (len7 === 126) {
      length = bytes.readUInt16BE(p + 2);
      h = 4;
    } else if (len7 === 127) {
      length = Number(bytes.readBigUInt64BE(p + 2));
      h = 10;
    }
    const key = masked ? bytes.subarray(p + h, p + h + 4) : undefined;
    if (masked) h += 4;
    out.push({ frame: bytes.subarray(p, p + h + length), key });
    p += h + length;
  }
  return out;
}

const SIZES = [0, 1, 3, 125, 126, 127, 1000, 16 * 1024, 16 * 1024 + 1, 65535, 65536, 70001];

const message = fc.record(
  {
    data: fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(...SIZES).chain((n) => fc.integer({ min: 0, max: 255 }).map((seed) => bytes(n, seed))),
    ),
    text: fc.boolean(),
    // Where to cut the message into parts (sendParts), as fractions of its length.
    cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
  },
  { requiredKeys: ["data", "text"] },
);

/** The message's parts at its cuts (empty parts included), or undefined to send it whole. */
function partsOf(m: Message): Uint8Array[] | undefined {
  if (!m.cuts || m.cuts.length === 0) return undefined;
  const at = m.cuts.map((c) => Math.floor(c * m.data.length)).sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const to of at) {
    parts.push(m.data.subarray(from, to));
    from = to;
  }
  parts.push(m.data.subarray(from));
  return parts;
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

async function sendAll(masked: boolean, messages: Message[]): Promise<Recorder> {
  const socket = new Recorder();
  const w = writer(socket, masked);
  for (const m of messages) {
    const parts = partsOf(m);
    if (parts) w.sendParts(parts, m.text);
    else w.send(m.data, m.text);
  }
  await new Promise((r) => process.nextTick(r));
  assert.equal(w.pending, 0);
  return socket;
}

describe("ws frame writer", () => {
  it("masks as the byte-wise XOR does, at every alignment and length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat(7), fc.nat(600), fc.uint8Array({ minLength: 4, maxLength: 4 }), (src, shift, at0, key) => {
        const at = Math.min(at0, src.length);
        const length = src.length - at;
        // A view at an odd offset of its ArrayBuffer, as pooled Buffers are.
        const backing = new Uint8Array(src.length + 8);
        const buf = backing.subarray(shift, shift + src.length);
        buf.set(src);
        maskInPlace(buf, at, length, key[0] as number, key[1] as number, key[2] as number, key[3] as number);
        for (let i = 0; i < src.length; i++) {
          const want = i < at ? (src[i] as number) : (src[i] as number) ^ (key[(i - at) & 3] as number);
          if (buf[i] !== want) return false;
        }
        return backing.subarray(0, shift).every((b) => b === 0) && backing.subarray(shift + src.length).every((b) => b === 0);
      }),
      { numRuns: 500 },
    );
  });

  for (const masked of [true, false]) {
    const side = masked ? "client (masked)" : "server";
    it(`${side}: ws's Receiver reads back every message, in order`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 80 }), async (messages) => {
          const socket = await sendAll(masked, messages);
          const got = await parse(socket.bytes(), masked);
          assert.equal(got.length, messages.length);
          for (let i = 0; i < messages.length; i++) {
            assert.equal(got[i]?.text, messages[i]?.text);
            assert.deepEqual(got[i]?.data, messages[i]?.data);
          }
        }),
        { numRuns: 60 },
      );
    });

    it(`${side}: each frame is the one ws's Sender writes for the same key, whole or in parts`, async () => {
      const messages: Message[] = SIZES.map((n, i) => ({ data: bytes(n, i), text: i % 3 === 0, ...(i % 2 ? { cuts: [0.1, 0.5, 0.5] } : {}) }));
      const socket = await sendAll(masked, messages);
      const frames = splitFrames(socket.bytes(), masked);
      assert.equal(frames.length, messages.length);
      const keys = new Set<string>();
      for (let i = 0; i < messages.length; i++) {
        const { frame, key } = frames[i] as { frame: Buffer; key: Uint8Array | undefined };
        assert.deepEqual(frame, wsFrame(messages[i] as Message, key), `message ${i} of ${messages[i]?.data.length} bytes`);
        if (key) keys.add(Buffer.from(key).toString("hex"));
      }
      // A fresh key per frame (12 random 32-bit keys all equal by chance: never).
      if (masked) assert.ok(keys.size > 1);
    });
  }

  it("a tick's small messages leave in one write; the flush thresholds cut it without reordering", async () => {
    const socket = new Recorder();
    const w = writer(socket, true);
    for (let i = 0; i < FLUSH_COUNT - 1; i++) w.send(bytes(10, i), false);
    assert.equal(socket.writes.length, 0, "nothing before the tick ends");
    w.send(bytes(10, 99), false);
    assert.equal(socket.writes.length, 1, "written at FLUSH_COUNT messages");
    assert.equal(socket.writes[0]?.length, 1, "as one buffer");
    const big = bytes(FLUSH_BYTES, 7);
    w.send(bytes(5, 1), true);
    w.send(big, false);
    assert.equal(socket.writes.length, 2, "written at FLUSH_BYTES");
    w.send(bytes(5, 2), false);
    await new Promise((r) => process.nextTick(r));
    assert.equal(socket.writes.length, 3, "the rest at the tick's end");
    const got = await parse(socket.bytes(), true);
    assert.equal(got.length, FLUSH_COUNT + 3);
    assert.deepEqual(got[FLUSH_COUNT - 1]?.data, bytes(10, 99));
    assert.equal(got[FLUSH_COUNT]?.text, true);
    assert.deepEqual(got[FLUSH_COUNT + 1]?.data, big);
    assert.deepEqual(got[FLUSH_COUNT + 2]?.data, bytes(5, 2));
    assert.equal(socket.callbacks, 3, "one completion callback per write");
  });

  it("a server writes a large payload as the caller's buffer, without copying it", async () => {
    const socket = new Recorder();
    const w = writer(socket, false);
    const big = bytes(64 * 1024, 3);
    w.send(bytes(20, 1), false);
    w.send(big, false);
    assert.equal(socket.writes.length, 1);
    const parts = socket.writes[0] as Uint8Array[];
    assert.ok(parts.includes(big), "the payload is the buffer given");
  });

  it("a server writes a message's large parts as the caller's buffers, in one frame", async () => {
    const socket = new Recorder();
    const w = writer(socket, false);
    const head = bytes(9, 1);
    const big = bytes(64 * 1024, 3);
    const big2 = bytes(20 * 1024, 4);
    const tail = bytes(3, 5);
    w.sendParts([head, big, big2, tail], false);
    assert.equal(socket.writes.length, 1);
    const parts = socket.writes[0] as Uint8Array[];
    assert.ok(parts.includes(big) && parts.includes(big2), "the large parts are the buffers given");
    assert.ok(parts.every((p) => p.byteLength > 0), "no empty writes");
    const got = await parse(socket.bytes(), false);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]?.data, new Uint8Array(Buffer.concat([head, big, big2, tail])));
  });

  it("writes nothing once the connection is no longer open", async () => {
    const socket = new Recorder();
    let open = true;
    const w = writer(socket, true, () => open);
    w.send(bytes(10, 1), false);
    open = false;
    await new Promise((r) => process.nextTick(r));
    assert.equal(socket.writes.length, 0);
    assert.equal(w.pending, 0);
  });
});

describe("ws frame writer over real sockets", () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  for (const serializer of ["msgpack", "json"] as const) {
    it(`${serializer}: large values (binaries sent as parts with msgpack) and bursts of small calls arrive intact both ways`, async () => {
      const handler = new RPCHandler();
      handler.register("echo", (v: unknown) => v);
      handler.register("add", (a: number, b: number) => a + b);
      const server = await serve(handler, "ws://127.0.0.1:0/", {});
      closers.push(() => server.close());
      const proxy = await connect<{ echo(v: unknown): unknown; add(a: number, b: number): number }>(server.url, { serializer });
      closers.push(() => proxy.$close());
      if (serializer === "msgpack") {
        const value = {
          small: bytes(100, 1),
          at16k: bytes(16 * 1024, 2),
          big: bytes(64 * 1024 + 3, 3),
          list: [bytes(300 * 1024, 4), "between", bytes(17 * 1024, 5)],
        };
        const back = (await proxy.echo(value)) as typeof value;
        assert.deepEqual(new Uint8Array(back.small), value.small);
        assert.deepEqual(new Uint8Array(back.at16k), value.at16k);
        assert.deepEqual(new Uint8Array(back.big), value.big);
        assert.deepEqual(new Uint8Array(back.list[0] as Uint8Array), value.list[0]);
        assert.equal(back.list[1], "between");
        assert.deepEqual(new Uint8Array(back.list[2] as Uint8Array), value.list[2]);
      } else {
        // Text messages: a large string and its UTF-8 past one byte per character.
        const text = "ünïcode ✓ ".repeat(20_000);
        assert.equal(await proxy.echo(text), text);
      }
      // More calls than one write holds (FLUSH_COUNT), in flight at once, each answered with its own result.
      const sums = await Promise.all(Array.from({ length: 3 * FLUSH_COUNT + 5 }, (_, i) => proxy.add(i, 1000)));
      assert.deepEqual(sums, Array.from({ length: 3 * FLUSH_COUNT + 5 }, (_, i) => i + 1000));
    });
  }
});
