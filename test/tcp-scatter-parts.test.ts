/**
 * msgpack in parts (src/serializers/msgpack-parts.ts): the parts joined are
 * byte for byte `encode`, large binaries are parts of their own (the
 * caller's buffer, not a copy), and the receiving side gets views, not
 * copies: the tcp frame decoder hands out a frame that lies within one
 * chunk as a subarray, and msgpack's decode returns bin as a subarray of it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RPCHandler, connect, serve } from "../src/index.js";
import { joinParts } from "../src/connection-base.js";
import { SPLIT_BINARY_MIN } from "../src/serializers/msgpack-parts.js";
import { msgpack } from "../src/serializers/msgpack.js";
import { FrameDecoder } from "../transports/tcp/frame-decoder.js";
import { encodeHeader } from "../transports/tcp/frame-writer.js";

const encodeParts = msgpack.encodeParts as (v: unknown) => Uint8Array | Uint8Array[];
const joined = (p: Uint8Array | Uint8Array[]): Buffer => Buffer.from(Array.isArray(p) ? joinParts(p) : p);

function filled(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

/** Binaries around the split threshold and across the bin 16 / bin 32 boundary, some of them Buffers and views. */
const binary = fc
  .tuple(
    fc.constantFrom(0, 1, 255, 256, SPLIT_BINARY_MIN - 1, SPLIT_BINARY_MIN, 0xffff, 0x10000, 0x10001, 100_000),
    fc.nat(255),
    fc.constantFrom("u8", "buffer", "view"),
  )
  .map(([n, seed, kind]) => {
    const b = filled(n + 8, seed);
    if (kind === "view") return b.subarray(4, 4 + n);
    return kind === "buffer" ? Buffer.from(b.buffer, 0, n) : b.subarray(0, n);
  });

const leaf = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), binary);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("value"), { maxLength: 20 }), fc.dictionary(fc.string(), tie("value"), { maxKeys: 20 })),
}));
/** Envelopes as the session writes them: calls, replies, with kwargs and a header now and then. */
const envelope = fc.oneof(
  fc.tuple(fc.constant(0), fc.nat(), fc.string(), fc.array(value, { maxLength: 20 })),
  fc.tuple(fc.constant(0), fc.nat(), fc.string(), fc.array(value, { maxLength: 4 }), fc.dictionary(fc.string(), value, { maxKeys: 4 })),
  fc.tuple(fc.constant(1), fc.nat(), value),
  fc.tuple(fc.constant(1), fc.nat(), value, fc.record({ meta: fc.dictionary(fc.string(), fc.string()) })),
  value,
);

describe("msgpack in parts", () => {
  it("property: the parts joined are byte for byte encode(x), for random envelopes with random binaries", () => {
    fc.assert(
      fc.property(envelope, (x) => {
        assert.ok(joined(encodeParts(x)).equals(Buffer.from(msgpack.encode(x))));
      }),
      { numRuns: 300 },
    );
  });

  it("property: every binary of at least SPLIT_BINARY_MIN bytes in args or a result is a part of its own, the caller's buffer", () => {
    fc.assert(
      fc.property(fc.array(binary, { minLength: 1, maxLength: 6 }), fc.boolean(), (bins, reply) => {
        const env = reply ? [1, 7, { list: bins }] : [0, 7, "f", bins];
        const parts = encodeParts(env);
        const big = bins.filter((b) => b.byteLength >= SPLIT_BINARY_MIN);
        if (big.length === 0) return assert.ok(!Array.isArray(parts), "no large binary: one buffer");
        assert.ok(Array.isArray(parts));
        for (const b of big) assert.ok(parts.includes(b), `the ${b.byteLength}-byte binary is a part, not a copy`);
        assert.equal(parts.length, 2 * big.length + 1 - (big.at(-1) === bins.at(-1) ? 1 : 0), "small pieces between them are joined");
      }),
      { numRuns: 100 },
    );
  });

  it("a frame without large binaries is one buffer, as encode makes it", () => {
    for (const v of [[0, 1, "add", [1, 2]], [1, 1, filled(SPLIT_BINARY_MIN - 1, 0)], [1, 2, new Map([["a", filled(SPLIT_BINARY_MIN, 0)]])]]) {
      const p = encodeParts(v);
      assert.ok(p instanceof Uint8Array);
      assert.ok(Buffer.from(p).equals(Buffer.from(msgpack.encode(v))));
    }
  });

  it("refuses what encode refuses (a Float64Array), with the same SERIALIZE_ERROR", () => {
    const bad = [0, 1, "f", [filled(SPLIT_BINARY_MIN, 0), new Float64Array(4)]];
    assert.throws(() => encodeParts(bad), { code: "SERIALIZE_ERROR" });
  });
});

describe("receiving large binaries: views, not copies", () => {
  it("a frame within one chunk decodes to a bin that is a view of the chunk", () => {
    const bin = filled(100_000, 3);
    const payload = msgpack.encode([1, 9, bin]);
    const chunk = Buffer.concat([encodeHeader(payload.length), payload]);
    const decoder = new FrameDecoder(1 << 24);
    decoder.push(chunk);
    const frame = decoder.next() as Uint8Array;
    assert.equal(frame.buffer, chunk.buffer, "the frame is a subarray of the chunk");
    const [, , out] = msgpack.decode(frame) as [number, number, Uint8Array];
    assert.equal(out.buffer, chunk.buffer, "the bin is a subarray of the frame");
    assert.deepEqual(new Uint8Array(out), bin);
  });

  it("over mem:// (no sendParts of its own: parts joined) a 1 MiB argument and result arrive intact", async () => {
    const handler = new RPCHandler();
    handler.register("echo", (x: unknown) => x);
    const server = await serve(handler, "mem://scatter-parts", { authkey: false });
    const proxy = await connect<{ echo(x: Uint8Array): Promise<Uint8Array> }>(server.url, { authkey: false, serializer: "msgpack" });
    try {
      const big = filled(1 << 20, 5);
      assert.deepEqual(new Uint8Array(await proxy.echo(big)), big);
    } finally {
      await proxy.$close();
      await server.close();
    }
  });
});
