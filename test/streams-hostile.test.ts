/**
 * Hostile stream and reference frames against a tcp server in a child
 * process (test/fixtures/streams-hostile/server.ts) while an honest client
 * keeps calling it: a credit flood (and credit past 2^30) on endless
 * streams from a peer that stops reading, thousands of streams asked for
 * and never read, frames for ids that do not exist, calls on unknown
 * references and items past their credit. Asserts the honest client's
 * service, the server's survival and RSS, tables bounded during the attack
 * and empty after it, and the codes the attackers were answered with.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connect, type AnyRemote } from "../src/index.js";
import "../transports/tcp/index.js";
import { ServerProcess, honestCaller, within } from "./support/hostile.js";
import { JSON_TEXT, RawTcpPeer, type RawCodec } from "./support/raw-peer.js";

const FIXTURE = new URL("./fixtures/streams-hostile/server.js", import.meta.url);
const MiB = 1024 * 1024;
/** The live-export bounds per connection (src/refs/ref-session.ts). */
const MAX_EXPORTS = 4096;
const MAX_STREAMS = 256;

type RawPeer = RawTcpPeer<unknown[]>;

/** Frames as arrays (the hello's answer too, as its only element). */
const ARRAYS: RawCodec<unknown[]> = {
  encode: JSON_TEXT.encode,
  decode(f) {
    const v = JSON_TEXT.decode(f);
    return Array.isArray(v) ? v : [v];
  },
};

/** A raw tcp peer speaking JSON with `"refs": 1`, that can stop reading and send what no client would. */
async function openPeer(url: string): Promise<RawPeer> {
  const peer = await RawTcpPeer.open(url, ARRAYS, 64 * MiB);
  peer.send({ wirecall: 1, serializer: "json", refs: 1 });
  const hello = (await peer.until((f) => typeof f[0] === "object" && f[0] !== null, "the hello's answer", 10_000))[0] as { refs?: number };
  assert.equal(hello.refs, 1);
  return peer;
}

/** Answers to calls `from..to` (inclusive), by id: the result or the error code. */
async function answers(peer: RawPeer, from: number, to: number, timeout: number): Promise<Map<number, unknown>> {
  const out = new Map<number, unknown>();
  const end = Date.now() + timeout;
  while (out.size < to - from + 1) {
    const f = await peer.until((x) => (x[0] === 1 || x[0] === 2) && typeof x[1] === "number" && x[1] >= from && x[1] <= to, `answers to calls ${from}-${to} (${out.size} so far)`, end - Date.now());
    out.set(f[1] as number, f[0] === 1 ? f : (f[2] as { code: string }).code);
  }
  return out;
}

describe("a streams server against hostile stream and reference frames, in a child process", { timeout: 240_000 }, () => {
  let proc: ServerProcess | undefined;
  let honest: AnyRemote | undefined;
  const peers: RawPeer[] = [];
  after(async () => {
    for (const p of peers) p.destroy();
    await honest?.$close();
    await proc?.kill();
  });

  it("serves an honest client through a credit flood, unread streams, unknown ids and items past credit; tables stay bounded and end empty", async (t) => {
    proc = await ServerProcess.start([{ url: "tcp://127.0.0.1:0" }], 20_000, FIXTURE);
    const server = proc;
    const url = server.urls[0] as string;
    honest = await connect(url, { timeout: 15_000 });
    for (let i = 0; i < 200; i++) assert.equal(await honest.add(i, 1), i + 1);
    let n = 0;
    for await (const _ of (await honest.count(2000)) as AsyncIterable<number>) n++;
    assert.equal(n, 2000);
    const rss0 = server.rss();
    const sampler = server.sampleRss();
    const caller = honestCaller(honest);

    // A: endless streams, credit far past any window (and past 2^30 in total), then it stops reading.
    const a = await openPeer(url);
    peers.push(a);
    const A_STREAMS = 32;
    await a.flood(Array.from({ length: A_STREAMS }, (_, i) => [0, i + 1, "ticks", []]));
    const aReplies = await answers(a, 1, A_STREAMS, 20_000);
    const ids = [...aReplies.values()].map((r) => (((r as unknown[])[3] as unknown[][])[0] as unknown[])[2] as number);
    a.socket.pause();
    await a.flood(
      (function* () {
        for (let round = 0; round < 50; round++) for (const id of ids) yield [9, id, 2 ** 30];
        for (const id of ids) for (const bad of [2 ** 30 + 1, 0, -1, 1.5, "1", null]) yield [9, id, bad];
      })(),
    );

    // B: streams asked for and never read, past MAX_STREAMS; then references never released, past MAX_EXPORTS.
    const b = await openPeer(url);
    peers.push(b);
    const B_STREAMS = MAX_STREAMS + 500;
    const B_REFS = MAX_EXPORTS - MAX_STREAMS + 100;
    await b.flood(Array.from({ length: B_STREAMS }, (_, i) => [0, i + 1, "count", [3]]));
    await b.flood(Array.from({ length: B_REFS }, (_, i) => [0, B_STREAMS + i + 1, "greeter", []]));

    // C: frames for ids that do not exist, and keeps/stops for ids it never had.
    const c = await openPeer(url);
    peers.push(c);
    await c.flood(
      (function* () {
        for (let i = 0; i < 20_000; i++) {
          const id = 1 + ((i * 7919) % 100_000);
          switch (i % 7) {
            case 0: yield [6, id]; break;
            case 1: yield [7, id]; break;
            case 2: yield [12, id]; break;
            case 3: yield [10, id]; break;
            case 4: yield [11, id, { name: "E", message: "m", code: "X" }]; break;
            case 5: yield [8, id, "item", [[[2], "f", id]]]; break;
            default: yield [9, id, 5]; break;
          }
        }
      })(),
    );

    // D: calls on references that do not exist, then items past the credit of a stream the server reads.
    const d = await openPeer(url);
    peers.push(d);
    const D_CALLS = 3000;
    await d.flood(Array.from({ length: D_CALLS }, (_, i) => [5, i + 1, 100_000 + i, i % 2 ? "hello" : "", [i]]));
    d.send([0, 90_001, "sum", [null], null, [[[3, 0], "s", 1]]]);
    const credit = await d.until((f) => f[0] === 9 && f[1] === 1, "the server's credit for the upstream", 20_000);
    await d.flood(Array.from({ length: (credit[2] as number) + 10 }, (_, i) => [8, 1, i]));

    // Verdicts the attackers can read.
    const bAnswers = [...(await answers(b, 1, B_STREAMS + B_REFS, 60_000)).entries()];
    const tally = (from: number, to: number) => {
      const part = bAnswers.filter(([id]) => id >= from && id <= to).map(([, v]) => v);
      return { given: part.filter((v) => Array.isArray(v)).length, refused: part.filter((v) => v === "REFERENCE_LIMIT").length };
    };
    assert.deepEqual(tally(1, B_STREAMS), { given: MAX_STREAMS, refused: 500 }, "unread streams one connection may hold");
    assert.deepEqual(tally(B_STREAMS + 1, B_STREAMS + B_REFS), { given: MAX_EXPORTS - MAX_STREAMS, refused: 100 }, "references one connection may hold");
    const dAnswers = await answers(d, 1, D_CALLS, 60_000);
    assert.deepEqual(new Set(dAnswers.values()), new Set(["REFERENCE_RELEASED"]));
    const overCredit = await d.until((f) => f[0] === 2 && f[1] === null, "the connection-level error for items past credit", 20_000);
    assert.equal((overCredit[2] as { code: string }).code, "PROTOCOL_ERROR");
    const sumAnswer = await d.until((f) => (f[0] === 1 || f[0] === 2) && f[1] === 90_001, "sum's answer", 20_000);
    assert.equal(sumAnswer[0], 2, "sum should fail: its stream broke its credit");
    // C is answered with connection-level errors at most (one per malformed frame kind), and is still connected.
    c.send([0, 777, "add", [1, 2]]);
    assert.deepEqual(await c.until((f) => f[1] === 777, "C's call", 20_000), [1, 777, 3]);

    // While A stays stalled: tables bounded by what the peers hold.
    const during = (await honest.stats()) as { exports: number; imports: number; streams: number };
    assert.ok(during.exports <= MAX_EXPORTS + A_STREAMS, `exports during the attack: ${JSON.stringify(during)}`);
    assert.ok(during.exports >= MAX_EXPORTS, `B's unread streams and references are not all held: ${JSON.stringify(during)}`);
    assert.ok(during.imports + during.streams <= 2, `imports/streams during the attack: ${JSON.stringify(during)}`);

    const results = await caller.stop();
    const peak = sampler.stop();
    t.diagnostic(`honest calls: ${results.calls}, slowest ${results.slowest.toFixed(0)} ms; RSS ${(rss0 / MiB).toFixed(0)} -> peak ${(peak / MiB).toFixed(0)} MiB; stats ${JSON.stringify(during)}`);
    assert.deepEqual(results.failures, []);
    assert.ok(results.calls > 0);
    assert.ok(results.slowest < 8000, `an honest call took ${results.slowest.toFixed(0)} ms`);
    assert.ok(server.alive, "the server died");
    assert.ok(peak < rss0 + 96 * MiB, `RSS grew by ${((peak - rss0) / MiB).toFixed(0)} MiB`);

    // The attackers leave: every table is empty again, and honest streams still flow.
    for (const p of peers.splice(0)) p.destroy();
    await within(
      (async () => {
        for (;;) {
          const s = (await honest.stats()) as { exports: number; imports: number; streams: number; connections: number };
          if (s.exports === 0 && s.imports === 0 && s.streams === 0) return;
          await new Promise((r) => setImmediate(r));
        }
      })(),
      20_000,
      "the server's tables to empty after the attackers left",
    );
    n = 0;
    for await (const _ of (await honest.count(2000)) as AsyncIterable<number>) n++;
    assert.equal(n, 2000);
  });
});
