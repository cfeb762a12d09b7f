/**
 * The `Connection` contract, twice: once against src/connection-base.ts
 * itself through a minimal adapter (every rule, deterministically, plus a
 * random-operation model check), and once against every real transport's
 * connection (mem, tcp, tls, ws, zmq) on real loopback sockets, raw, below
 * the core.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConnectionBase } from "../src/connection-base.js";
import { RpcError, type LooseOptions } from "../src/index.js";
import { getTransport, parseEndpoint, type Connection, type ConnectionSink, type Listener } from "../src/transport-sdk.js";
import { Deferred } from "./conformance.js";
import { makeTestCerts } from "./tcp-certs.js";
import { within } from "./support/async.js";

/** Every microtask queued so far has run (and those they queued). */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A frame numbered `seq`, `size` bytes long (at least 5), recognisable at any size. */
function numbered(seq: number, size = 16): Uint8Array {
  const f = new Uint8Array(Math.max(5, size));
  f[0] = 0xab; // never a hello, a challenge or an empty goodbye on any transport
  new DataView(f.buffer).setUint32(1, seq);
  for (let i = 5; i < f.length; i++) f[i] = (seq + i) & 0xff;
  return f;
}

function seqOf(f: Uint8Array): number {
  assert.equal(f[0], 0xab, "not a numbered frame");
  const seq = new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(1);
  for (let i = 5; i < f.length; i += 997) assert.equal(f[i], (seq + i) & 0xff, `frame ${seq} corrupted at byte ${i}`);
  return seq;
}

/** A sink that records everything, refuses calls it must never get, and lets a test wait for counts. */
class Recorder implements ConnectionSink {
  readonly frames: Uint8Array[] = [];
  drains = 0;
  readonly closes: (Error | undefined)[] = [];
  /** Set while a test is inside a Connection method that must not call the sink re-entrantly. */
  guard = false;
  readonly violations: string[] = [];
  onFrame: ((f: Uint8Array) => void) | undefined;
  #waiters: { done: () => boolean; d: Deferred<void> }[] = [];

  frame(f: Uint8Array): void {
    if (this.guard) this.violations.push("frame() re-entrantly");
    if (this.closes.length > 0) this.violations.push("frame() after close()");
    this.frames.push(f);
    this.onFrame?.(f);
    this.#check();
  }
  drain(): void {
    if (this.guard) this.violations.push("drain() re-entrantly");
    if (this.closes.length > 0) this.violations.push("drain() after close()");
    this.drains++;
    this.#check();
  }
  close(err?: Error): void {
    if (this.guard) this.violations.push("close() re-entrantly");
    this.closes.push(err);
    this.#check();
  }
  seqs(): number[] {
    return this.frames.map(seqOf);
  }
  until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
    if (done()) return Promise.resolve();
    const d = new Deferred<void>();
    this.#waiters.push({ done, d });
    return within(d.promise, ms, what);
  }
  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.done()) return true;
      w.d.resolve();
      return false;
    });
  }
}

/** Call `fn` with the sink guarded: any sink call inside it is a violation. */
function guarded(sink: Recorder, fn: () => void): void {
  sink.guard = true;
  try {
    fn();
  } finally {
    sink.guard = false;
  }
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

// ---- the base alone ---------------------------------------------------------

/** The smallest adapter: records what the base asks of it. */
class Probe extends ConnectionBase {
  readonly transport = "probe";
  readonly remoteAddress = undefined;
  readonly calls: string[] = [];
  readonly written: Uint8Array[] = [];
  /** What `write` returns: false plays a full outgoing buffer. */
  writeOk = true;

  constructor(holdBeforeOpen?: number) {
    super(holdBeforeOpen === undefined ? {} : { holdBeforeOpen });
  }
  protected write(frame: Uint8Array): boolean {
    this.written.push(frame);
    return this.writeOk;
  }
  protected pauseReading(): void {
    this.calls.push("pauseReading");
  }
  protected resumeReading(): void {
    this.calls.push("resumeReading");
  }
  protected closeTransport(err: Error | undefined): void {
    this.calls.push(`closeTransport(${err?.message ?? ""})`);
  }
  push(frame: Uint8Array): void {
    this.deliver(frame);
  }
  end(err?: Error): void {
    this.ended(err);
  }
  lowWater(): void {
    this.drained();
  }
  handshakeRead(max: number): Promise<Uint8Array> {
    return this.receiveBeforeOpen(max);
  }
  get isFlowing(): boolean {
    return this.flowing;
  }
}

/** An adapter that keeps bytes itself and hands them over only while the base is flowing (as tcp and mem do). */
class PullProbe extends Probe {
  readonly buffer: Uint8Array[] = [];
  protected override resumeReading(): void {
    super.resumeReading();
    this.pull();
  }
  pull(): void {
    while (this.isFlowing && this.buffer.length > 0) this.push(this.buffer.shift() as Uint8Array);
  }
}

function opened(conn: Connection): Recorder {
  const sink = new Recorder();
  guarded(sink, () => conn.open(sink));
  return sink;
}

describe("connection base: delivery", () => {
  it("holds frames delivered before open and hands them over in order after open, never inside open()", async () => {
    const c = new Probe(Number.MAX_SAFE_INTEGER);
    for (const i of range(5)) c.push(numbered(i));
    const sink = opened(c);
    assert.equal(sink.frames.length, 0);
    await tick();
    assert.deepEqual(sink.seqs(), range(5));
    // Once the held frames are out, a frame goes straight through in the same call.
    c.push(numbered(5));
    assert.deepEqual(sink.seqs(), range(6));
    assert.deepEqual(sink.violations, []);
  });

  it("keeps order when frames arrive between open() and the first delivery", async () => {
    const c = new Probe(Number.MAX_SAFE_INTEGER);
    c.push(numbered(0));
    const sink = opened(c);
    c.push(numbered(1));
    c.push(numbered(2));
    assert.equal(sink.frames.length, 0);
    await tick();
    assert.deepEqual(sink.seqs(), [0, 1, 2]);
  });

  it("refuses a second open()", () => {
    const c = new Probe();
    opened(c);
    assert.throws(() => c.open(new Recorder()), { code: "INTERNAL_ERROR" });
  });

  it("pause holds frames and stops reading once; resume delivers them on a later tick, then reads again", async () => {
    const c = new Probe();
    const sink = opened(c);
    await tick();
    c.pause();
    c.pause();
    assert.deepEqual(c.calls.filter((x) => x === "pauseReading"), ["pauseReading"]);
    for (const i of range(4)) c.push(numbered(i));
    await tick();
    assert.equal(sink.frames.length, 0);
    guarded(sink, () => c.resume());
    assert.equal(sink.frames.length, 0);
    c.calls.length = 0;
    await tick();
    assert.deepEqual(sink.seqs(), range(4));
    assert.deepEqual(c.calls, ["resumeReading"]);
    assert.deepEqual(sink.violations, []);
  });

  it("a pause from inside sink.frame stops delivery at once; the rest follows the resume", async () => {
    const c = new Probe(Number.MAX_SAFE_INTEGER);
    for (const i of range(6)) c.push(numbered(i));
    const sink = opened(c);
    sink.onFrame = (f) => {
      if (seqOf(f) === 2) c.pause();
    };
    await tick();
    assert.deepEqual(sink.seqs(), [0, 1, 2]);
    c.resume();
    await tick();
    assert.deepEqual(sink.seqs(), range(6));
  });

  it("a pull adapter delivers from resumeReading() while flowing, and stops when the core pauses", async () => {
    const c = new PullProbe();
    for (const i of range(10)) c.buffer.push(numbered(i));
    const sink = opened(c);
    sink.onFrame = (f) => {
      if (seqOf(f) === 3) c.pause();
    };
    await tick();
    assert.deepEqual(sink.seqs(), range(4));
    assert.equal(c.buffer.length, 6);
    c.resume();
    await tick();
    assert.deepEqual(sink.seqs(), range(10));
  });
});

describe("connection base: before open", () => {
  it("stops reading after one held frame by default, and reads again for a handshake read", async () => {
    const c = new Probe();
    c.push(numbered(0));
    assert.deepEqual(c.calls, ["pauseReading"]);
    c.push(numbered(1)); // a transport that cannot pause still gets its frames held
    assert.deepEqual(c.calls, ["pauseReading"]);
    assert.equal(seqOf(await c.handshakeRead(100)), 0);
    assert.deepEqual(c.calls, ["pauseReading"], "one frame is still held: keep the peer waiting");
    assert.equal(seqOf(await c.handshakeRead(100)), 1);
    assert.deepEqual(c.calls, ["pauseReading", "resumeReading"]);
    const next = c.handshakeRead(100);
    c.push(numbered(2));
    assert.equal(seqOf(await next), 2);
  });

  it("holds up to holdBeforeOpen bytes before it stops reading", () => {
    const c = new Probe(100);
    c.push(numbered(0, 60));
    assert.deepEqual(c.calls, []);
    c.push(numbered(1, 60));
    assert.deepEqual(c.calls, ["pauseReading"]);
  });

  it("a handshake read refuses an oversized frame, a second concurrent read, and a read after open", async () => {
    const c = new Probe();
    c.push(numbered(0, 50));
    await assert.rejects(c.handshakeRead(10), { code: "PAYLOAD_TOO_LARGE" });
    const waiting = c.handshakeRead(10);
    await assert.rejects(c.handshakeRead(10), { code: "INTERNAL_ERROR" });
    c.push(numbered(1, 50));
    await assert.rejects(waiting, { code: "PAYLOAD_TOO_LARGE" });
    opened(c);
    await assert.rejects(c.handshakeRead(10), { code: "INTERNAL_ERROR" });
  });

  it("a handshake read rejects with the reason when the transport ends or is closed", async () => {
    const a = new Probe();
    const r1 = a.handshakeRead(10);
    a.end(new RpcError("AUTH_FAILED", "gone"));
    await assert.rejects(r1, { code: "AUTH_FAILED" });
    await assert.rejects(a.handshakeRead(10), { code: "AUTH_FAILED" });
    const b = new Probe();
    const r2 = b.handshakeRead(10);
    b.close();
    await assert.rejects(r2, { code: "CONNECTION_CLOSED" });
  });

  it("close() before open(): the sink hears close once, on a later tick, and no frame", async () => {
    const c = new Probe(Number.MAX_SAFE_INTEGER);
    c.push(numbered(0));
    c.close(new RpcError("SHUTTING_DOWN", "bye"));
    const sink = opened(c);
    await tick();
    assert.equal(sink.frames.length, 0);
    assert.equal(sink.closes.length, 1);
    assert.equal((sink.closes[0] as RpcError).code, "SHUTTING_DOWN");
  });

  it("ended() before open(): held frames are delivered, then close", async () => {
    const c = new Probe(Number.MAX_SAFE_INTEGER);
    c.push(numbered(0));
    c.push(numbered(1));
    c.end();
    c.push(numbered(2)); // after the end: dropped
    const sink = opened(c);
    await tick();
    assert.deepEqual(sink.seqs(), [0, 1]);
    assert.deepEqual(sink.closes, [undefined]);
  });
});

describe("connection base: close", () => {
  it("close() is idempotent: the transport closes once with the first reason, the sink closes once after, never inside close()", async () => {
    const c = new Probe();
    const sink = opened(c);
    await tick();
    guarded(sink, () => c.close(new RpcError("PROTOCOL_ERROR", "first")));
    guarded(sink, () => c.close(new RpcError("TIMEOUT", "second")));
    c.end(new RpcError("CONNECTION_CLOSED", "third"));
    assert.equal(sink.closes.length, 0);
    await tick();
    assert.deepEqual(c.calls.filter((x) => x.startsWith("closeTransport")), ["closeTransport(first)"]);
    assert.equal(sink.closes.length, 1);
    assert.equal((sink.closes[0] as RpcError).code, "PROTOCOL_ERROR");
    assert.deepEqual(sink.violations, []);
  });

  it("close() drops frames not yet delivered; frames arriving later are dropped too", async () => {
    const c = new Probe();
    const sink = opened(c);
    await tick();
    c.pause();
    c.push(numbered(0));
    c.close();
    c.push(numbered(1));
    c.resume();
    await tick();
    assert.equal(sink.frames.length, 0);
    assert.deepEqual(sink.closes, [undefined]);
  });

  it("close() from inside sink.frame stops delivery and closes the sink once", async () => {
    const c = new Probe(Number.MAX_SAFE_INTEGER);
    for (const i of range(5)) c.push(numbered(i));
    const sink = opened(c);
    sink.onFrame = (f) => {
      if (seqOf(f) === 1) c.close();
    };
    await tick();
    assert.deepEqual(sink.seqs(), [0, 1]);
    assert.deepEqual(sink.closes, [undefined]);
    assert.deepEqual(sink.violations, []);
  });

  it("a transport that ended delivers what it held first, waiting for resume; its reason stands over a later close()", async () => {
    const c = new Probe();
    const sink = opened(c);
    await tick();
    c.pause();
    c.push(numbered(0));
    c.push(numbered(1));
    c.end(new RpcError("CONNECTION_CLOSED", "peer left"));
    await tick();
    assert.equal(sink.closes.length, 0, "held frames come before the close");
    c.resume();
    await tick();
    assert.deepEqual(sink.seqs(), [0, 1]);
    assert.equal(sink.closes.length, 1);
    assert.equal(sink.closes[0]?.message, "peer left");
    c.close(new RpcError("TIMEOUT", "late"));
    await tick();
    assert.equal(sink.closes.length, 1);
    assert.deepEqual(c.calls.filter((x) => x.startsWith("closeTransport")), [], "an ended transport is not closed again");
  });

  it("close() after ended() while paused drops the held frames and closes the sink with the transport's reason", async () => {
    const c = new Probe();
    const sink = opened(c);
    await tick();
    c.pause();
    c.push(numbered(0));
    c.end(new RpcError("CONNECTION_CLOSED", "peer left"));
    c.close();
    await tick();
    assert.equal(sink.frames.length, 0);
    assert.equal(sink.closes.length, 1);
    assert.equal(sink.closes[0]?.message, "peer left");
  });

  it("send after close() or ended() returns false and writes nothing", async () => {
    const a = new Probe();
    opened(a);
    a.close();
    assert.equal(a.send(numbered(0)), false);
    assert.equal(a.written.length, 0);
    const b = new Probe();
    opened(b);
    b.end();
    assert.equal(b.send(numbered(0)), false);
    assert.equal(b.written.length, 0);
  });
});

describe("connection base: drain", () => {
  it("send returns false from the first full write until drained(), then the sink hears drain once", async () => {
    const c = new Probe();
    const sink = opened(c);
    await tick();
    assert.equal(c.send(numbered(0)), true);
    c.writeOk = false;
    assert.equal(c.send(numbered(1)), false);
    c.writeOk = true;
    assert.equal(c.send(numbered(2)), false, "still blocked until the transport reports drained()");
    assert.equal(c.written.length, 3, "a refused send still queues its frame");
    c.lowWater();
    c.lowWater();
    assert.equal(sink.drains, 1);
    assert.equal(c.send(numbered(3)), true);
    c.lowWater();
    assert.equal(sink.drains, 1, "a drain that nobody waited for is not reported");
  });

  it("no drain after close", async () => {
    const c = new Probe();
    const sink = opened(c);
    c.writeOk = false;
    c.send(numbered(0));
    c.close();
    c.lowWater();
    await tick();
    assert.equal(sink.drains, 0);
  });
});

describe("connection base: random operations keep the contract", () => {
  type Op =
    | { k: "deliver" }
    | { k: "pause" }
    | { k: "resume" }
    | { k: "close" }
    | { k: "end" }
    | { k: "open" }
    | { k: "tick" }
    | { k: "send"; ok: boolean }
    | { k: "drained" };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.constant<Op>({ k: "deliver" }),
    fc.constant<Op>({ k: "deliver" }),
    fc.constant<Op>({ k: "pause" }),
    fc.constant<Op>({ k: "resume" }),
    fc.constant<Op>({ k: "close" }),
    fc.constant<Op>({ k: "end" }),
    fc.constant<Op>({ k: "open" }),
    fc.constant<Op>({ k: "tick" }),
    fc.boolean().map<Op>((ok) => ({ k: "send", ok })),
    fc.constant<Op>({ k: "drained" }),
  );

  it("ordered, exactly-once close, nothing after close, nothing re-entrant", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.boolean(), async (ops, pull) => {
        const c = pull ? new PullProbe(Number.MAX_SAFE_INTEGER) : new Probe(Number.MAX_SAFE_INTEGER);
        const sink = new Recorder();
        let seq = 0;
        let isOpen = false;
        let closedLocally = false;
        let ended = false;
        let blocked = false;
        let lastSent: boolean | undefined;
        const arrived: number[] = []; // what the transport delivered while it was up, in order
        for (const o of ops) {
          switch (o.k) {
            case "deliver": {
              // A pull transport reads nothing more once it ended or closed (tcp discards, mem drops).
              if (c instanceof PullProbe && (closedLocally || ended)) break;
              const f = numbered(seq++);
              if (!closedLocally && !ended) arrived.push(seqOf(f));
              if (c instanceof PullProbe) {
                c.buffer.push(f);
                c.pull();
              } else {
                c.push(f);
              }
              break;
            }
            case "pause":
              guarded(sink, () => c.pause());
              break;
            case "resume":
              guarded(sink, () => c.resume());
              break;
            case "close":
              guarded(sink, () => c.close());
              closedLocally = true;
              break;
            case "end":
              // A pull transport ends once its own buffer is delivered (tcp on FIN, mem on the peer's close).
              if (c instanceof PullProbe && c.buffer.length > 0) break;
              c.end();
              ended = true;
              break;
            case "open":
              if (isOpen) break;
              guarded(sink, () => c.open(sink));
              isOpen = true;
              break;
            case "tick":
              await tick();
              break;
            case "send": {
              const before = c.written.length;
              c.writeOk = o.ok;
              lastSent = c.send(numbered(0));
              if (closedLocally || ended) {
                assert.equal(lastSent, false);
                assert.equal(c.written.length, before);
              } else {
                assert.equal(lastSent, o.ok && !blocked);
                if (!o.ok) blocked = true;
              }
              break;
            }
            case "drained": {
              const drains = sink.drains;
              c.lowWater();
              const expected: number = blocked && isOpen && !closedLocally && !ended ? 1 : 0;
              assert.equal(sink.drains - drains, expected);
              if (expected) blocked = false;
              break;
            }
          }
        }
        if (!isOpen) c.open(sink);
        c.resume();
        await tick();
        assert.deepEqual(sink.violations, []);
        const got = sink.seqs();
        // In order, and a prefix of what arrived: a local close may cut it short, nothing else may.
        assert.deepEqual(got, arrived.slice(0, got.length));
        if (!closedLocally) {
          // Nothing was closed locally: everything that arrived is delivered once the core reads.
          if (c instanceof PullProbe) assert.deepEqual(got.length + c.buffer.length, arrived.length);
          else assert.equal(got.length, arrived.length);
        }
        assert.equal(sink.closes.length, closedLocally || ended ? 1 : 0);
        const transportCloses = c.calls.filter((x) => x.startsWith("closeTransport")).length;
        assert.ok(transportCloses <= 1);
      }),
      { numRuns: 400 },
    );
  });
});

// ---- every real transport ----------------------------------------------------

interface Target {
  name: string;
  url: string;
  server?: LooseOptions;
  client?: LooseOptions;
  /** Can a paused server make a sender see `send() === false` within a few MB? (zmq: the ROUTER keeps reading for its other peers.) */
  drain: boolean;
}

interface Pair {
  client: Connection;
  /** Resolves once the server has the connection (zmq: after the client's first frame). */
  server: Promise<Connection>;
  done(): Promise<void>;
}

async function pairOf(t: Target): Promise<Pair> {
  const ep = parseEndpoint(t.url);
  const transport = await getTransport(ep.scheme);
  const accepted = new Deferred<Connection>();
  const listener: Listener = await transport.listen(ep.url, { ...t.server }, (c) => accepted.resolve(c));
  const client = await transport.connect(parseEndpoint(listener.url).url, { ...t.client });
  return {
    client,
    server: within(accepted.promise, 10_000, `${t.name}: the server's connection`),
    async done() {
      client.close();
      const s = await accepted.promise.catch(() => undefined);
      s?.close();
      await listener.close();
    },
  };
}

/** Both ends open and frame 0 delivered to the server (zmq's server sees a connection only once it has a frame). */
async function started(p: Pair): Promise<{ clientSink: Recorder; server: Connection; sink: Recorder }> {
  const clientSink = opened(p.client);
  p.client.send(numbered(0));
  const server = await p.server;
  const sink = opened(server);
  await sink.until(() => sink.frames.length === 1, "the first frame");
  return { clientSink, server, sink };
}

/** Long enough for frames sent on loopback to have arrived: only to show that they were held, never to wait for a result. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
  await new Promise((resolve) => setTimeout(resolve, 30));
  for (let i = 0; i < 5; i++) await tick();
}

function connectionContract(t: Target): void {
  describe(`connection contract over ${t.name}`, { timeout: 60_000 }, () => {
    it("holds frames sent before open and delivers them in order after open, not inside open()", async () => {
      const p = await pairOf(t);
      try {
        const clientSink = opened(p.client);
        for (const i of range(50)) p.client.send(numbered(i, 1 + ((i * 7919) % 40_000)));
        const server = await p.server;
        await settle();
        const sink = opened(server);
        assert.equal(sink.frames.length, 0);
        await sink.until(() => sink.frames.length >= 50, "50 frames");
        assert.deepEqual(sink.seqs(), range(50));
        assert.deepEqual([...sink.violations, ...clientSink.violations], []);
      } finally {
        await p.done();
      }
    });

    it("delivers in order both ways at once, small frames and one that spans many reads", async () => {
      const p = await pairOf(t);
      try {
        const clientSink = opened(p.client);
        p.client.send(numbered(0));
        const server = await p.server;
        const serverSink = opened(server);
        const n = 300;
        for (const i of range(n - 1, 1)) p.client.send(numbered(i, i === 150 ? 300_000 : 8 + (i % 100)));
        for (const i of range(n)) server.send(numbered(i, i === 10 ? 300_000 : 8 + (i % 50)));
        await serverSink.until(() => serverSink.frames.length >= n, `${n} frames at the server`);
        await clientSink.until(() => clientSink.frames.length >= n, `${n} frames at the client`);
        assert.deepEqual(serverSink.seqs(), range(n));
        assert.deepEqual(clientSink.seqs(), range(n));
      } finally {
        await p.done();
      }
    });

    it("pause holds frames until resume; resume delivers them in order, not inside resume()", async () => {
      const p = await pairOf(t);
      try {
        const { server, sink } = await started(p);
        server.pause();
        for (const i of range(20, 1)) p.client.send(numbered(i, 100 + i * 1000));
        await settle();
        assert.equal(sink.frames.length, 1, "a paused connection delivered frames");
        guarded(sink, () => server.resume());
        assert.equal(sink.frames.length, 1);
        await sink.until(() => sink.frames.length === 21, "the held frames");
        assert.deepEqual(sink.seqs(), range(21));
        assert.deepEqual(sink.violations, []);
      } finally {
        await p.done();
      }
    });

    if (t.drain) {
      it("send returns false above the high-water mark while the peer is paused, keeps doing so, and drain fires once it reads", async () => {
        const p = await pairOf(t);
        try {
          const { clientSink, server, sink } = await started(p);
          server.pause();
          let sent = 1;
          while (p.client.send(numbered(sent++, 256 * 1024))) {
            assert.ok(sent < 2000, "send() never reported backpressure");
            await tick();
          }
          assert.equal(p.client.send(numbered(sent++, 16)), false, "send() must keep returning false until drain");
          assert.equal(clientSink.drains, 0);
          server.resume();
          await clientSink.until(() => clientSink.drains > 0, "drain");
          await sink.until(() => sink.frames.length === sent, "every frame, the refused ones included");
          assert.deepEqual(sink.seqs(), range(sent));
          assert.equal(clientSink.drains, 1);
        } finally {
          await p.done();
        }
      });
    }

    it("close flushes what was sent: the peer gets every frame, then its sink closes once; close is idempotent", async () => {
      const p = await pairOf(t);
      try {
        const clientSink = opened(p.client);
        p.client.send(numbered(0));
        const server = await p.server;
        const sink = opened(server);
        for (const i of range(99, 1)) p.client.send(numbered(i, 10 + i * 100));
        guarded(clientSink, () => p.client.close());
        guarded(clientSink, () => p.client.close(new RpcError("TIMEOUT", "later")));
        assert.equal(p.client.send(numbered(1000)), false);
        await sink.until(() => sink.closes.length > 0, "the server's close");
        assert.deepEqual(sink.seqs(), range(100));
        await clientSink.until(() => clientSink.closes.length > 0, "the client's close");
        assert.equal(server.send(numbered(1001)), false);
        server.close();
        await settle();
        assert.equal(sink.closes.length, 1);
        assert.equal(clientSink.closes.length, 1);
        assert.deepEqual([...sink.violations, ...clientSink.violations], []);
      } finally {
        await p.done();
      }
    });

    it("both ends closing at once: each sink closes exactly once", async () => {
      const p = await pairOf(t);
      try {
        const { clientSink, server, sink } = await started(p);
        server.close(new RpcError("SHUTTING_DOWN", "server"));
        p.client.close();
        await sink.until(() => sink.closes.length > 0, "the server's close");
        await clientSink.until(() => clientSink.closes.length > 0, "the client's close");
        server.close();
        p.client.close();
        await settle();
        assert.equal(sink.closes.length, 1);
        assert.equal(clientSink.closes.length, 1);
        assert.equal((sink.closes[0] as RpcError).code, "SHUTTING_DOWN");
      } finally {
        await p.done();
      }
    });

    it("a peer that closes while we are paused: held frames first, after resume, then the close", async () => {
      const p = await pairOf(t);
      try {
        const { server, sink } = await started(p);
        server.pause();
        for (const i of range(9, 1)) p.client.send(numbered(i));
        p.client.close();
        await settle();
        assert.equal(sink.frames.length, 1);
        assert.equal(sink.closes.length, 0, "closed before the held frames were delivered");
        server.resume();
        await sink.until(() => sink.closes.length > 0, "the server's close");
        assert.deepEqual(sink.seqs(), range(10));
      } finally {
        await p.done();
      }
    });

    it("a connection closed before open: its sink hears the close once, on open, and no frame", async () => {
      const p = await pairOf(t);
      try {
        opened(p.client);
        p.client.send(numbered(0));
        const server = await p.server;
        server.close(new RpcError("SHUTTING_DOWN", "not now"));
        const sink = opened(server);
        await sink.until(() => sink.closes.length > 0, "the close");
        await settle();
        assert.equal(sink.closes.length, 1);
        assert.equal(sink.frames.length, 0);
      } finally {
        await p.done();
      }
    });
  });
}

const certs = makeTestCerts();
const targets: Target[] = [
  { name: "mem", url: "mem://0", drain: true },
  { name: "tcp", url: "tcp://127.0.0.1:0", drain: true },
  { name: "tls", url: "tls://127.0.0.1:0", server: { cert: certs.server.cert, key: certs.server.key }, client: { ca: certs.server.cert }, drain: true },
  { name: "ws", url: "ws://127.0.0.1:0/contract", server: { keepAlive: 0 }, client: { keepAlive: 0 }, drain: true },
  { name: "zmq", url: "zmq+tcp://127.0.0.1:0", drain: false },
];
for (const t of targets) connectionContract(t);

describe("connection contract: every transport was checked", () => {
  // The zmq target needs the optional zeromq package; a missing one fails here loudly instead of passing by skipping.
  it("zeromq is installed, so the zmq contract ran", async () => {
    await assert.doesNotReject(getTransport("zmq+tcp"), "the zeromq package is missing: the zmq connection contract could not run");
  });
});

describe("connection contract: zmq specifics", () => {
  it("frames ZeroMQ received before the server went away are delivered before the close", async () => {
    const { Dealer, Router } = await import("zeromq");
    const router = new Router({ linger: 2000 });
    await router.bind("tcp://127.0.0.1:*");
    const ep = parseEndpoint(`zmq+${router.lastEndpoint}`);
    const transport = await getTransport(ep.scheme);
    const client = await transport.connect(ep.url, {});
    // A second socket on the same server: its disconnect event says when ZeroMQ has seen the server go.
    const witness = new Dealer({ linger: 0 });
    const witnessLost = new Promise<void>((resolve) => witness.events.on("disconnect", () => resolve()));
    witness.connect(router.lastEndpoint as string);
    try {
      const sink = opened(client);
      client.send(numbered(0));
      const [identity] = await within(router.receive(), 10_000, "the client's first message");
      client.pause();
      // Replies, then the server is gone: the replies sit in ZeroMQ's queue while the client is paused.
      // (The read already waiting takes the first; the rest stay in ZeroMQ.)
      for (const i of [1, 2, 3]) await router.send([identity as Buffer, Buffer.alloc(0), Buffer.from(numbered(i))]);
      router.close();
      await within(witnessLost, 10_000, "ZeroMQ to see the server go");
      await settle();
      assert.equal(sink.frames.length, 0);
      client.resume();
      await sink.until(() => sink.closes.length > 0, "the close");
      assert.deepEqual(sink.seqs(), [1, 2, 3]);
      assert.equal((sink.closes[0] as RpcError).code, "CONNECTION_CLOSED");
    } finally {
      client.close();
      witness.close();
      if (!router.closed) router.close();
    }
  });
});
