/**
 * transports/ws/bulk-reader.ts: a `ws` Receiver with the bulk reader in
 * front of it emits exactly what a plain one emits for the same bytes
 * (messages, pings, pongs, the close, the first error and its code), in
 * the same order, however the bytes are cut into chunks: random streams
 * of large and small, binary and text, fragmented, control, oversized,
 * wrongly masked and malformed frames, on both the server and the client
 * side. Whole data messages are taken out of `ws`'s path (checked, so the
 * fast path is what is being compared), and over real sockets a server
 * still refuses a message above maxPayload with PAYLOAD_TOO_LARGE.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as wsModule from "ws";
import { RPCHandler, RpcError, connect, serve } from "../src/index.js";
import { installFrameReader } from "../transports/ws/frame-reader.js";

/** Sizes from here up arrive in several chunks over a socket. */
const BIG = 16 * 1024;

type Receiver = NodeJS.WritableStream & {
  on(event: string, fn: (...args: unknown[]) => void): void;
  write(chunk: Buffer): boolean;
  destroyed: boolean;
};
// ws exports its Receiver (wrapper.mjs); @types/ws does not declare it.
const { Receiver: WsReceiver } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number; maxBufferedChunks?: number }) => Receiver;
};

const MAX_PAYLOAD = 200_000;

type Frame = { fin: boolean; opcode: number; payload: Buffer; masked: boolean; rsv?: number; length?: number };

function encode(f: Frame, key: number[]): Buffer {
  const length = f.length ?? f.payload.length;
  const head: number[] = [(f.fin ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode];
  const m = f.masked ? 0x80 : 0;
  if (length < 126) head.push(m | length);
  else if (length < 0x10000) head.push(m | 126, length >>> 8, length & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  const payload = Buffer.from(f.payload);
  if (f.masked) {
    head.push(...key);
    for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
  }
  return Buffer.concat([Buffer.from(head), payload]);
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Feed `chunks` to a Receiver (with or without the bulk reader); what it emits, in order, and how many messages the bulk reader took. */
async function run(chunks: Buffer[], isServer: boolean, bulk: boolean, maxBufferedChunks = 0): Promise<{ events: string[]; taken: number }> {
  const r = new WsReceiver({ isServer, maxPayload: MAX_PAYLOAD, maxBufferedChunks });
  const events: string[] = [];
  const digest = (b: Buffer): string => `${b.length}:${b.subarray(0, 8).toString("hex")}:${b.subarray(-8).toString("hex")}:${sum(b)}`;
  let taken = 0;
  let failed = false;
  r.on("message", (data, isBinary) => events.push(`message ${isBinary ? "bin" : "text"} ${digest(data as Buffer)}`));
  r.on("ping", (data) => events.push(`ping ${digest(data as Buffer)}`));
  r.on("pong", (data) => events.push(`pong ${digest(data as Buffer)}`));
  r.on("conclude", (code) => events.push(`close ${String(code)}`));
  r.on("error", (err) => {
    failed = true;
    events.push(`error ${(err as { code?: string }).code}`);
  });
  if (bulk) {
    assert.equal(
      installFrameReader({ _receiver: r }, (data: Buffer, isBinary: boolean) => {
        taken++;
        events.push(`message ${isBinary ? "bin" : "text"} ${digest(data)}`);
      }),
      true,
    );
  }
  // As ws does: no more bytes once the receiver failed (it removes its socket listener).
  for (const c of chunks) if (!failed) r.write(c);
  // ws reports errors on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  return { events, taken };
}

function sum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s = (s * 31 + (b[i] as number)) >>> 0;
  return s;
}

function cut(stream: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(stream.subarray(from, c));
    from = c;
  }
  out.push(stream.subarray(from));
  // Copies: each run owns its chunks (the bulk reader unmasks in place).
  return out.filter((c) => c.length > 0);
}

const copies = (chunks: Buffer[]): Buffer[] => chunks.map((c) => Buffer.from(c));

/** A frame as a peer may send it; `masked` is what the receiving side expects unless `wrongMask`. */
function frameArb(masked: boolean): fc.Arbitrary<Frame[]> {
  const big = fc.integer({ min: BIG, max: 70_000 });
  const small = fc.integer({ min: 0, max: 300 });
  const seed = fc.integer({ min: 0, max: 255 });
  const data = (len: fc.Arbitrary<number>, opcode: number): fc.Arbitrary<Frame[]> =>
    fc.tuple(len, seed).map(([n, s]) => [{ fin: true, opcode, payload: bytes(n, s), masked }]);
  const options: fc.WeightedArbitrary<Frame[]>[] = [
    { weight: 6, arbitrary: data(big, 2) },
    { weight: 4, arbitrary: data(small, 2) },
    // Text: valid UTF-8 (ASCII, or any code points), large and small; and arbitrary bytes, mostly not UTF-8.
    { weight: 2, arbitrary: fc.tuple(fc.oneof(big, small), seed).map(([n, s]) => [{ fin: true, opcode: 1, payload: Buffer.alloc(n, 97 + (s % 26)), masked }]) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((t) => [{ fin: true, opcode: 1, payload: Buffer.from(t, "utf8"), masked }]) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => [{ fin: true, opcode: 1, payload: Buffer.from(b), masked }]) },
    // Overlong, surrogate and out-of-range forms, and a large text with one bad byte at its end.
    { weight: 1, arbitrary: fc.constantFrom([0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]).map((b) => [{ fin: true, opcode: 1, payload: Buffer.from(b), masked }]) },
    { weight: 1, arbitrary: big.map((n) => [{ fin: true, opcode: 1, payload: Buffer.concat([Buffer.alloc(n, 98), Buffer.from([0xff])]), masked }]) },
    // A fragmented binary message, large fragments included.
    {
      weight: 2,
      arbitrary: fc.tuple(fc.oneof(big, small), fc.oneof(big, small), seed).map(([a, b, s]) => [
        { fin: false, opcode: 2, payload: bytes(a, s), masked },
        { fin: true, opcode: 0, payload: bytes(b, s + 1), masked },
      ]),
    },
    // A ping between the fragments of a message.
    {
      weight: 1,
      arbitrary: fc.tuple(big, seed).map(([a, s]) => [
        { fin: false, opcode: 2, payload: bytes(a, s), masked },
        { fin: true, opcode: 9, payload: bytes(5, s), masked },
        { fin: true, opcode: 0, payload: bytes(a, s + 2), masked },
      ]),
    },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 125 }), seed).map(([n, s]) => [{ fin: true, opcode: 9, payload: bytes(n, s), masked }]) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 125 }), seed).map(([n, s]) => [{ fin: true, opcode: 10, payload: bytes(n, s), masked }]) },
    // Hostile or wrong: the first one ends the stream with ws's error.
    { weight: 1, arbitrary: fc.constant<Frame[]>([{ fin: true, opcode: 2, payload: bytes(MAX_PAYLOAD + 1, 3), masked }]) },
    { weight: 1, arbitrary: big.map((n) => [{ fin: true, opcode: 2, payload: bytes(n, 4), masked: !masked }]) },
    { weight: 1, arbitrary: big.map((n) => [{ fin: true, opcode: 2, payload: bytes(n, 5), masked, rsv: 1 }]) },
    { weight: 1, arbitrary: big.map((n) => [{ fin: true, opcode: 0, payload: bytes(n, 6), masked }]) },
    // A new message inside a fragmented one.
    {
      weight: 1,
      arbitrary: fc.tuple(small, big).map(([a, b]) => [
        { fin: false, opcode: 2, payload: bytes(a, 7), masked },
        { fin: true, opcode: 2, payload: bytes(b, 8), masked },
      ]),
    },
    { weight: 1, arbitrary: fc.constant<Frame[]>([{ fin: true, opcode: 8, payload: Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]), masked }]) },
  ];
  return fc.oneof(...options);
}

function streamArb(masked: boolean): fc.Arbitrary<{ stream: Buffer; cuts: number[] }> {
  return fc
    .tuple(fc.array(frameArb(masked), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }))
    .map(([frames, cuts, key]) => ({ stream: Buffer.concat(frames.flat().map((f) => encode(f, key))), cuts }));
}

describe("ws bulk reader", () => {
  for (const side of ["server", "client"] as const) {
    const isServer = side === "server";
    it(`${side}: emits what ws alone emits for the same bytes, however they are cut`, async () => {
      let taken = 0;
      await fc.assert(
        fc.asyncProperty(streamArb(isServer), async ({ stream, cuts }) => {
          const chunks = cut(stream, cuts);
          const plain = await run(copies(chunks), isServer, false);
          const bulk = await run(copies(chunks), isServer, true);
          assert.deepEqual(bulk.events, plain.events);
          taken += bulk.taken;
        }),
        { numRuns: 300 },
      );
      // The comparison must have exercised the fast path, not only ws's.
      assert.ok(taken > 100, `only ${taken} messages were read by the frame reader`);
    });

    it(`${side}: a large message cut at every offset of its header and around it`, async () => {
      const key = [0x11, 0x22, 0x33, 0x44];
      const frames = [
        encode({ fin: true, opcode: 2, payload: bytes(10, 1), masked: isServer }, key),
        encode({ fin: true, opcode: 2, payload: bytes(BIG + 3, 2), masked: isServer }, key),
        encode({ fin: true, opcode: 9, payload: bytes(3, 3), masked: isServer }, key),
        encode({ fin: true, opcode: 2, payload: bytes(70_000, 4), masked: isServer }, key),
      ];
      const stream = Buffer.concat(frames);
      const expected = (await run([Buffer.from(stream)], isServer, false)).events;
      assert.equal(expected.length, 4);
      let taken = 0;
      // Every cut within the first 40 bytes of each frame and the last 40 of the stream, and pairs of cuts.
      const points: number[] = [];
      let at = 0;
      for (const f of frames) {
        for (let i = 0; i < 40; i++) points.push(at + i);
        at += f.length;
      }
      for (let i = stream.length - 40; i < stream.length; i++) points.push(i);
      for (const a of points) {
        const one = await run(copies(cut(stream, [a])), isServer, true);
        assert.deepEqual(one.events, expected, `cut at ${a}`);
        const two = await run(copies(cut(stream, [a, a + 1, a + 7])), isServer, true);
        assert.deepEqual(two.events, expected, `cuts at ${a}, +1, +7`);
        taken += one.taken;
      }
      // Each run takes the three data messages.
      assert.equal(taken, points.length * 3);
    });
  }

  it("ws's maxBufferedChunks still applies to a large frame that arrives in many small chunks", async () => {
    const key = [1, 2, 3, 4];
    const stream = encode({ fin: true, opcode: 2, payload: bytes(BIG * 2, 9), masked: true }, key);
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 100) chunks.push(stream.subarray(i, i + 100));
    const plain = await run(copies(chunks), true, false, 64);
    const bulk = await run(copies(chunks), true, true, 64);
    assert.deepEqual(plain.events, ["error WS_ERR_TOO_MANY_BUFFERED_PARTS"]);
    assert.deepEqual(bulk.events, plain.events);
  });

  it("fits the receivers of the installed ws, server and client side (else every message would take ws's slower path)", async () => {
    const wss = new wsModule.WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
    await new Promise((resolve) => wss.once("listening", resolve));
    const accepted = new Promise<wsModule.WebSocket>((resolve) => wss.once("connection", resolve));
    const client = new wsModule.WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}/`, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
    try {
      await new Promise((resolve, reject) => client.once("open", resolve).once("error", reject));
      const server = await accepted;
      const got: string[] = [];
      const done = new Promise<void>((resolve) => {
        const seen = (side: string) => (data: Buffer) => {
          got.push(`${side} ${data.length}`);
          if (got.length === 2) resolve();
        };
        assert.equal(installFrameReader(server, seen("server")), true);
        assert.equal(installFrameReader(client, seen("client")), true);
      });
      // Sent by ws's own Sender (masked from the client), read by the frame readers.
      client.send(bytes(70_000, 1));
      server.send(bytes(100, 2));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the frame readers delivered ${JSON.stringify(got)} within 10 s`)), 10_000);
      });
      await Promise.race([done, late]).finally(() => clearTimeout(timer));
      assert.deepEqual(got.sort(), ["client 100", "server 70000"]);
    } finally {
      client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it("leaves a receiver it does not know alone", () => {
    assert.equal(installFrameReader({}, () => {}), false);
    assert.equal(installFrameReader({ _receiver: { write() {} } }, () => {}), false);
  });
});

describe("ws bulk reader over real sockets", () => {
  it("large binaries arrive intact both ways; a message above maxPayload still closes its connection with PAYLOAD_TOO_LARGE", async () => {
    const handler = new RPCHandler();
    handler.register("echo", (x: Uint8Array) => x);
    handler.register("sum", (x: Uint8Array) => sum(Buffer.from(x.buffer, x.byteOffset, x.byteLength)));
    const server = await serve(handler, "ws://127.0.0.1:0/", { maxPayload: 300_000 });
    const proxy = await connect<{ echo(x: Uint8Array): Uint8Array; sum(x: Uint8Array): number }>(server.url, { serializer: "msgpack" });
    const other = await connect<{ sum(x: Uint8Array): number }>(server.url, { serializer: "msgpack" });
    try {
      const sizes = [BIG - 1, BIG, 65_536, 65_537, 200_000];
      const sent = sizes.map((n, i) => new Uint8Array(bytes(n, i)));
      const got = await Promise.all(sent.map((b) => proxy.echo(b)));
      for (let i = 0; i < sent.length; i++) assert.deepEqual(Buffer.from(got[i] as Uint8Array), Buffer.from(sent[i] as Uint8Array));
      assert.deepEqual(await Promise.all(sent.map((b) => proxy.sum(b))), sent.map((b) => sum(Buffer.from(b))));
      await assert.rejects(other.sum(new Uint8Array(300_001)), (err: RpcError) => err.code === "PAYLOAD_TOO_LARGE" || err.code === "CONNECTION_CLOSED");
      // The first connection is unaffected.
      assert.equal(await proxy.sum(sent[2] as Uint8Array), sum(Buffer.from(sent[2] as Uint8Array)));
    } finally {
      await proxy.$close();
      await other.$close();
      await server.close();
    }
  });
});
