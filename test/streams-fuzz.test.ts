/**
 * Fuzz the stream and reference frames (kinds 5-12, and calls and answers
 * carrying reference lists) with fast-check against a live server session
 * over mem://, under json and msgpack. Each run opens a connection, sets up
 * live state (a stalled stream the server produces, a `ref()` object it
 * exported, a stream it reads), sends random frames with random and live
 * ids, then checks: the connection still answers a call, the CPU spent stays
 * within a fixed allowance plus one per byte sent, and once the peer lets go
 * of what it set up the server's tables are empty but for what the fuzz
 * itself handed over (references in stream items, freed when collected).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { RPCHandler, json, msgpack, ref, serve, type CallContext, type Serializer, type Server } from "../src/index.js";
import "../transports/memory/index.js";
import { Deferred } from "./support/async.js";
import { rawPeer, type RawCodec } from "./support/raw-peer.js";

const TIME_FIXED_MS = 250;
const TIME_PER_BYTE_MS = 0.01; // 10 µs per byte, both ends in this process
const RUNS = Number(process.env.WIRECALL_FUZZ_RUNS ?? 150);

/** CPU time of this process, ms. */
function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface RawPeer {
  send(env: unknown): number;
  /** The next frame that is the answer to call `id` (others are skipped). */
  answer(id: number, timeout?: number): Promise<unknown[]>;
  /** The next frame of `kind` about `id`. */
  await(kind: number, id: number, timeout?: number): Promise<unknown[]>;
  close(): void;
  closed: boolean;
}

async function openPeer(url: string, s: Serializer): Promise<RawPeer> {
  const codec: RawCodec<unknown[]> = {
    encode: (v) => s.encode(v),
    decode(f) {
      try {
        const v = s.decode(f);
        return Array.isArray(v) ? v : [v];
      } catch {
        return ["undecodable"];
      }
    },
    binary: s.binary !== false,
  };
  // Frames nobody waits for are dropped beyond 10,000, so the queue stays short.
  const peer = await rawPeer(url, { codec, hello: { wirecall: 1, serializer: s.name, refs: 1 }, keep: 10_000 });
  assert.equal(peer.hello?.refs, 1);
  return {
    send: (env) => peer.send(env),
    answer: (id, timeout = 10_000) => peer.until((f) => (f[0] === 1 || f[0] === 2) && f[1] === id, `the answer to call ${id}`, timeout),
    await: (kind, id, timeout = 10_000) => peer.until((f) => f[0] === kind && f[1] === id, `frame [${kind}, ${id}]`, timeout),
    close: () => peer.close(),
    get closed() {
      return peer.queue.isClosed;
    },
  };
}

// ---- what the fuzz sends -------------------------------------------------------

/**
 * Ids the setup makes live on each new connection: the stalled stream and
 * the object the server exports (its first two exports), and the stream it reads.
 */
const LIVE = { stream: 1, object: 2, upstream: 7 } as const;

const anyId = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(LIVE.stream, LIVE.object, LIVE.upstream) },
  { weight: 2, arbitrary: fc.nat({ max: 20 }) },
  { weight: 1, arbitrary: fc.oneof(fc.nat(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 3 }), fc.constant(null), fc.constant(2 ** 53)) },
);
const value = fc.jsonValue({ maxDepth: 3 });
const pathKey = fc.oneof(fc.nat({ max: 6 }), fc.constantFrom("__proto__", "constructor", "a", "0"), fc.string({ maxLength: 3 }));
const refEntry = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.array(pathKey, { maxLength: 4 }), fc.constantFrom("f", "o", "s", "r", "x"), anyId) },
  { weight: 1, arbitrary: value },
);
const refList = fc.oneof({ weight: 4, arbitrary: fc.array(refEntry, { maxLength: 6 }) }, { weight: 1, arbitrary: value });
const wireError = fc.oneof(fc.record({ name: fc.string({ maxLength: 8 }), message: fc.string({ maxLength: 8 }), code: fc.string({ maxLength: 8 }) }), value);
const callId = fc.integer({ min: 1000, max: 1_000_000 });
const method = fc.constantFrom("echo", "nope", "hello", "", "_secret", "constructor", "__proto__", "toString", "greeter.hello");
/** Args shaped so that reference paths often land on a null placeholder. */
const args = fc.array(fc.oneof(fc.constant(null), value, fc.record({ a: fc.constant(null), b: value })), { maxLength: 3 });

const frame: fc.Arbitrary<unknown[]> = fc.oneof(
  fc.tuple(fc.constant(8), anyId, value),
  fc.tuple(fc.constant(8), anyId, fc.oneof(fc.constant(null), fc.record({ a: fc.constant(null) })), refList),
  fc.tuple(fc.constant(9), anyId, fc.oneof(fc.integer(), fc.constantFrom(0, 1, 2 ** 30, 2 ** 30 + 1, 2 ** 31, -1), fc.double(), value)),
  fc.tuple(fc.constant(10), anyId),
  fc.tuple(fc.constant(11), anyId, wireError),
  fc.tuple(fc.constant(12), anyId),
  fc.tuple(fc.constant(6), anyId),
  fc.tuple(fc.constant(7), anyId),
  fc.tuple(fc.constant(5), callId, anyId, method, args, fc.constant(null)),
  fc.tuple(fc.constant(5), callId, anyId, method, args, fc.constant(null), refList),
  fc.tuple(fc.constant(5), anyId, anyId, value, value, value, value, value),
  fc.tuple(fc.constant(0), callId, fc.constantFrom("echo", "nope"), args, fc.constant(null), refList),
  fc.tuple(fc.constant(1), anyId, value, refList),
  fc.tuple(fc.constant(2), anyId, wireError),
  fc.tuple(fc.constant(4), anyId),
  fc.tuple(fc.integer({ min: 5, max: 12 })).chain(([k]) => fc.array(value, { maxLength: 6 }).map((rest) => [k, ...rest])),
);

/** References the fuzz hands the server in items of the stream it reads: freed when collected, not before. */
function itemRefs(frames: unknown[][]): number {
  let n = 0;
  for (const f of frames) if (f[0] === 8 && f[1] === LIVE.upstream && f.length === 4 && Array.isArray(f[3])) n += f[3].length;
  return n;
}

// ---- the server ----------------------------------------------------------------------

class Greeter {
  hello(name: unknown): string {
    return `hello ${String(name)}`;
  }
  _secret(): string {
    return "no";
  }
}

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register(
    "stalled",
    (ctx: CallContext) => {
      const stopped = new Deferred();
      ctx.signal.addEventListener("abort", () => stopped.resolve(), { once: true });
      return (async function* () {
        yield 0;
        yield 1;
        yield 2;
        await stopped.promise;
      })();
    },
    { context: true },
  );
  h.register("greeter", () => ref(new Greeter()));
  h.register("sum", async (items: AsyncIterable<unknown>) => {
    let n = 0;
    for await (const x of items) if (typeof x === "number") n += x;
    return n;
  });
  h.register("echo", (v: unknown) => v);
  h.register("refCount", (ctx: CallContext) => (ctx as unknown as { origin: { references?: unknown } }).origin.references, { context: true });
  return h;
}

for (const serializer of [json, msgpack]) {
  describe(`stream and reference frames fuzzed against a live session (${serializer.name})`, () => {
    let server: Server;
    before(async () => {
      server = await serve(handler(), `mem://streams-fuzz-${serializer.name}`);
    });
    after(async () => {
      await server?.close();
    });

    it(`never crashes, answers afterwards, costs CPU per byte, leaves nothing behind (${RUNS} runs)`, async () => {
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 40 }), async (frames) => {
          runs++;
          const peer = await openPeer(server.url, serializer);
          try {
            // Live state: a stalled stream and an object the server exports, a stream it reads.
            peer.send([0, 1, "stalled", []]);
            assert.deepEqual(await peer.answer(1), [1, 1, null, [[[2], "s", LIVE.stream]]]);
            peer.send([0, 2, "greeter", []]);
            assert.deepEqual(await peer.answer(2), [1, 2, null, [[[2], "o", LIVE.object]]]);
            peer.send([0, 3, "sum", [null], null, [[[3, 0], "s", LIVE.upstream]]]);
            await peer.await(9, LIVE.upstream);
            peer.send([9, LIVE.stream, 2]);
            const live = frames;

            const t0 = cpuNow();
            let bytes = 0;
            for (const f of live) bytes += peer.send(f);
            peer.send([0, 900_000_001, "echo", ["still here"]]);
            const answer = await peer.answer(900_000_001);
            const ms = cpuNow() - t0;
            assert.deepEqual(answer, [1, 900_000_001, "still here"]);
            const bound = TIME_FIXED_MS + bytes * TIME_PER_BYTE_MS;
            assert.ok(ms <= bound, `${ms.toFixed(0)} ms of CPU for ${bytes} bytes of frames (bound ${bound.toFixed(0)} ms)`);

            // Let go of the setup: stop the stream, release the object, end the upstream.
            peer.send([12, LIVE.stream]);
            peer.send([6, LIVE.object]);
            peer.send([10, LIVE.upstream]);
            // A stopped producer finishes a few turns later (its source's `return()` runs): ask until it has, a bounded number of times.
            const handed = itemRefs(live);
            let refs = { exports: -1, imports: -1, streams: -1 };
            for (let i = 0; i < 50; i++) {
              peer.send([0, 900_000_002 + i, "refCount", []]);
              refs = ((await peer.answer(900_000_002 + i)) as [number, number, typeof refs])[2];
              if (refs.exports === 0 && refs.imports + refs.streams <= handed) break;
              await new Promise((r) => setImmediate(r));
            }
            assert.equal(refs.exports, 0, `exports left: ${JSON.stringify(refs)}`);
            assert.ok(refs.imports + refs.streams <= handed, `left ${JSON.stringify(refs)}, the fuzz handed over ${handed} in items`);
          } finally {
            peer.close();
          }
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: 240_000, verbose: 1 },
      );
      assert.ok(runs >= Math.min(RUNS, 20), `only ${runs} runs`);
    });
  });
}
