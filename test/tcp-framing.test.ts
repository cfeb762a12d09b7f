/**
 * The TCP framing on raw bytes: the decoder fed fixtures split at every
 * offset, hostile length prefixes, a property test, and the writer's output.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import { FrameDecoder } from "../transports/tcp/frame-decoder.js";
import { FrameWriter, encodeHeader, type CoalesceMode, type FrameSink } from "../transports/tcp/frame-writer.js";

const MAX = 1 << 20;
const u8 = (b: Uint8Array) => new Uint8Array(b);

/** Python's send_bytes: struct.pack("!i", n), or -1 and struct.pack("!Q", n) above 2**31 - 1. */
function shortForm(payload: Uint8Array): Uint8Array {
  const b = Buffer.alloc(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  b.set(payload, 4);
  return b;
}
/** The 8-byte form, which Python only writes for huge frames but any reader must accept for any size. */
function longForm(payload: Uint8Array): Uint8Array {
  const b = Buffer.alloc(12 + payload.length);
  b.writeInt32BE(-1, 0);
  b.writeBigUInt64BE(BigInt(payload.length), 4);
  b.set(payload, 12);
  return b;
}
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** Feed `chunks`, collect every frame (copied), stop at the first error. */
function decode(chunks: Uint8Array[], max = MAX): { frames: Uint8Array[]; error?: RpcError; decoder: FrameDecoder } {
  const decoder = new FrameDecoder(max);
  const frames: Uint8Array[] = [];
  try {
    for (const c of chunks) {
      decoder.push(c);
      for (let f = decoder.next(); f; f = decoder.next()) frames.push(u8(f));
    }
  } catch (err) {
    return { frames, error: err as RpcError, decoder };
  }
  return { frames, decoder };
}

const payloads = [new Uint8Array(0), new Uint8Array([42]), new TextEncoder().encode('[0,1,"add",[2,3]]'), Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)];
const fixture = concat([...payloads.map(shortForm), longForm(new Uint8Array([7, 8, 9])), shortForm(new Uint8Array([1, 2]))]);
const expected = [...payloads, new Uint8Array([7, 8, 9]), new Uint8Array([1, 2])];

describe("tcp framing: decoder", () => {
  it("decodes a fixture split into two at every offset", () => {
    for (let i = 0; i <= fixture.length; i++) {
      const { frames, error, decoder } = decode([fixture.subarray(0, i), fixture.subarray(i)]);
      assert.equal(error, undefined);
      assert.deepEqual(frames, expected, `split at ${i}`);
      assert.equal(decoder.partial, false);
    }
  });

  it("decodes a fixture fed one byte at a time, and in three pieces at every pair of offsets", () => {
    const bytes = [...fixture].map((b) => new Uint8Array([b]));
    assert.deepEqual(decode(bytes).frames, expected);
    const head = fixture.subarray(0, 40); // the first frames, to keep the pair loop small
    const want = decode([head]).frames;
    for (let i = 0; i <= head.length; i++) {
      for (let j = i; j <= head.length; j++) {
        assert.deepEqual(decode([head.subarray(0, i), head.subarray(i, j), head.subarray(j)]).frames, want, `split at ${i},${j}`);
      }
    }
  });

  it("hands out subarrays of the chunk when a frame lies within it (no copy)", () => {
    const chunk = concat([shortForm(new Uint8Array([1, 2, 3])), shortForm(new Uint8Array([4]))]);
    const d = new FrameDecoder(MAX);
    d.push(chunk);
    const a = d.next() as Uint8Array;
    const b = d.next() as Uint8Array;
    assert.equal(a.buffer, chunk.buffer);
    assert.equal(b.buffer, chunk.buffer);
    assert.deepEqual(u8(a), new Uint8Array([1, 2, 3]));
    assert.equal(d.next(), undefined);
  });

  it("stops between frames: next() returns one frame at a time", () => {
    const d = new FrameDecoder(MAX);
    d.push(fixture);
    assert.deepEqual(u8(d.next() as Uint8Array), expected[0]);
    assert.ok(d.buffered > 0);
    let n = 1;
    while (d.next()) n++;
    assert.equal(n, expected.length);
  });

  it("waits on truncated frames and headers without failing", () => {
    for (const cut of [1, 3, 4, 10, 11, 12, 14]) {
      const bytes = concat([longForm(new Uint8Array(5))]).subarray(0, cut);
      const { frames, error, decoder } = decode([bytes]);
      assert.deepEqual(frames, []);
      assert.equal(error, undefined);
      assert.ok(decoder.partial);
    }
  });

  it("rejects an oversized length as soon as the prefix is read, before any body", () => {
    const r = decode([new Uint8Array([0x00, 0x10, 0x00, 0x01])], 1 << 20); // 1 MiB + 1, no body sent
    assert.equal(r.error?.code, "PAYLOAD_TOO_LARGE");
    const huge = decode([new Uint8Array([0x7f, 0xff, 0xff, 0xff])]);
    assert.equal(huge.error?.code, "PAYLOAD_TOO_LARGE");
    const long = Buffer.alloc(12);
    long.writeInt32BE(-1, 0);
    long.writeBigUInt64BE(2n ** 63n + 5n, 4);
    assert.equal(decode([long]).error?.code, "PAYLOAD_TOO_LARGE");
    long.writeBigUInt64BE(BigInt(MAX) + 1n, 4);
    assert.equal(decode([long]).error?.code, "PAYLOAD_TOO_LARGE");
    // Exactly at the limit is fine.
    assert.deepEqual(decode([shortForm(new Uint8Array(16))], 16).frames, [new Uint8Array(16)]);
    assert.equal(decode([shortForm(new Uint8Array(17))], 16).error?.code, "PAYLOAD_TOO_LARGE");
  });

  it("rejects negative lengths other than -1 with PROTOCOL_ERROR", () => {
    for (const n of [-2, -1000, -0x80000000]) {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n, 0);
      assert.equal(decode([b]).error?.code, "PROTOCOL_ERROR", `length ${n}`);
    }
  });

  it("reads garbage text as an oversized length (what an HTTP request or a stray client looks like)", () => {
    assert.equal(decode([new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")]).error?.code, "PAYLOAD_TOO_LARGE");
  });

  it("property: any frames, split at any points, decode to the same frames", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ payload: fc.uint8Array({ maxLength: 700 }), long: fc.boolean() }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (frames, cuts) => {
          const stream = concat(frames.map((f) => (f.long ? longForm(f.payload) : shortForm(f.payload))));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let from = 0;
          for (const p of points) {
            chunks.push(stream.subarray(from, p));
            from = p;
          }
          chunks.push(stream.subarray(from));
          const r = decode(chunks);
          assert.equal(r.error, undefined);
          assert.deepEqual(r.frames, frames.map((f) => u8(f.payload)));
          assert.equal(r.decoder.partial, false);
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** A socket stand-in that records what was written, and when corked. */
class RecordingSink implements FrameSink {
  writes: Uint8Array[][] = [[]];
  corked = 0;
  write(chunk: Uint8Array): boolean {
    (this.writes[this.writes.length - 1] as Uint8Array[]).push(u8(chunk));
    if (this.corked === 0) this.writes.push([]);
    return true;
  }
  cork(): void {
    this.corked++;
  }
  uncork(): void {
    if (--this.corked === 0) this.writes.push([]);
  }
  /** Syscall-sized batches: writes made while corked count as one. */
  batches(): Uint8Array[] {
    return this.writes.filter((w) => w.length > 0).map((w) => concat(w));
  }
}

describe("tcp framing: writer", () => {
  it("writes Python's length prefixes, including the -1 + 8-byte form above 2 GiB - 1", () => {
    assert.deepEqual(u8(encodeHeader(0)), new Uint8Array([0, 0, 0, 0]));
    assert.deepEqual(u8(encodeHeader(300)), new Uint8Array([0, 0, 1, 44]));
    assert.deepEqual(u8(encodeHeader(0x7fffffff)), new Uint8Array([0x7f, 0xff, 0xff, 0xff]));
    assert.deepEqual(u8(encodeHeader(0x80000000)), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]));
    assert.deepEqual(u8(encodeHeader(2 ** 40 + 3)), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0, 0, 0, 0, 3]));
  });

  for (const mode of ["gather", "cork", "none"] as CoalesceMode[]) {
    it(`(${mode}) produces a stream the decoder reads back, big payloads included`, async () => {
      const sink = new RecordingSink();
      const w = new FrameWriter(sink, mode);
      const frames = [new Uint8Array([1]), new Uint8Array(0), new Uint8Array(40_000).fill(3), new Uint8Array([4, 5]), new Uint8Array(20_000).fill(6)];
      for (const f of frames) w.write(f);
      await new Promise<void>((resolve) => process.nextTick(resolve));
      const batches = sink.batches();
      if (mode === "none") assert.equal(batches.length, frames.length * 2);
      else assert.equal(batches.length, 1, "one write (or one corked writev) per tick");
      assert.deepEqual(decode([concat(batches)]).frames, frames);
    });
  }

  it("(gather) between hold and release, frames wait for the release and leave in one write, with no tick", async () => {
    const sink = new RecordingSink();
    const w = new FrameWriter(sink, "gather");
    w.hold();
    w.write(new Uint8Array([1]));
    w.writeParts([new Uint8Array([2]), new Uint8Array([3])]);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.equal(sink.batches().length, 0, "held frames do not go out on a tick");
    assert.equal(w.release(), true);
    const batches = sink.batches();
    assert.equal(batches.length, 1);
    assert.deepEqual(decode(batches).frames, [new Uint8Array([1]), new Uint8Array([2, 3])]);
    assert.equal(w.release(), false, "nothing left to write");
    // After the release, writes go out on the next tick again.
    w.write(new Uint8Array([4]));
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.equal(sink.batches().length, 2);
  });

  it("(gather) a frame queued on a tick before a hold still goes out on that tick", async () => {
    const sink = new RecordingSink();
    const w = new FrameWriter(sink, "gather");
    w.write(new Uint8Array([1]));
    w.hold();
    w.write(new Uint8Array([2]));
    assert.equal(w.release(), false, "the tick already scheduled writes both");
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.deepEqual(decode(sink.batches()).frames, [new Uint8Array([1]), new Uint8Array([2])]);
  });

  it("(gather) writes big payloads as they are, without copying them", async () => {
    const seen: Uint8Array[] = [];
    const sink: FrameSink = { write: (c) => (seen.push(c), true), cork: () => {}, uncork: () => {} };
    const w = new FrameWriter(sink, "gather");
    const big = new Uint8Array(100_000);
    w.write(new Uint8Array([1]));
    w.write(big);
    w.flush();
    assert.ok(seen.includes(big));
  });
});
