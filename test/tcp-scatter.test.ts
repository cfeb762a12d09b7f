/**
 * Scatter/gather on tcp://: large binary values leave as their own buffers
 * (Serializer.encodeParts, Connection.sendParts, one writev), and the bytes
 * on the wire are exactly those of `msgpack.encode` of the same envelope.
 * Real sockets on 127.0.0.1: a raw node:net peer reads what a wirecall
 * client and server write; the transport's backpressure holds with parts.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { RPCHandler, connect, serve, type Server } from "../src/index.js";
import { msgpack } from "../src/serializers/msgpack.js";
import type { Connection, ConnectionSink } from "../src/transport.js";
import { tcpTransport } from "../transports/tcp/index.js";
import { encodeHeader, type CoalesceMode } from "../transports/tcp/frame-writer.js";
import { Deferred, within } from "./support/async.js";

const BOUND = 20_000;
const KiB64 = 64 * 1024;
const MiB = 1024 * 1024;

/** `n` bytes that differ from one position to the next (a misplaced part cannot go unnoticed). */
function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const frameOf = (payload: Uint8Array): Buffer => Buffer.concat([encodeHeader(payload.length), payload]);

/** Every byte a socket receives, and frames split off the front on demand. */
class Tap {
  #buf = Buffer.alloc(0);
  #chunks: Buffer[] = [];
  #want: { n: number; d: Deferred<void> } | undefined;
  #closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.#chunks.push(d);
      this.#check();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = true;
      this.#want?.d.reject(new Error("the socket closed"));
    });
  }

  get length(): number {
    return this.#buf.length + this.#chunks.reduce((n, c) => n + c.length, 0);
  }

  #check(): void {
    const w = this.#want;
    if (w && this.length >= w.n) {
      this.#want = undefined;
      w.d.resolve();
    }
  }

  /** The next `n` bytes, exactly as they arrived. */
  async take(n: number): Promise<Buffer> {
    if (this.length < n) {
      if (this.#closed) throw new Error("the socket closed");
      const d = new Deferred<void>();
      this.#want = { n, d };
      await within(d.promise, BOUND, `${n} bytes`);
    }
    this.#buf = Buffer.concat([this.#buf, ...this.#chunks]);
    this.#chunks = [];
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** The next frame's payload (4-byte length prefix; these tests never send 2 GiB). */
  async frame(): Promise<Buffer> {
    const n = (await this.take(4)).readInt32BE(0);
    assert.ok(n >= 0, "short length prefix");
    return this.take(n);
  }
}

/** Decoded Buffers as plain Uint8Arrays, for deepEqual against what was sent. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return new Uint8Array(x);
  return Array.isArray(x) ? x.map(plain) : x;
}

const hello = (serializer: string) => frameOf(Buffer.from(JSON.stringify({ wirecall: 1, serializer })));

describe("tcp scatter/gather: the wire is byte for byte msgpack.encode", () => {
  const servers: Server[] = [];
  const sockets: net.Socket[] = [];
  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => s.close()));
  });

  it("a server's replies carrying 64 KiB and 1 MiB results (returned views and fresh buffers), with small replies between", async () => {
    const handler = new RPCHandler();
    handler.register("echo", (x: unknown) => x);
    handler.register("make", (n: number, seed: number) => pattern(n, seed));
    handler.register("add", (a: number, b: number) => a + b);
    const where: string = "tcp://127.0.0.1:0";
    const server = await serve(handler, where, { authkey: false });
    servers.push(server);
    const socket = net.connect(Number(new URL(server.url).port), "127.0.0.1");
    sockets.push(socket);
    const tap = new Tap(socket);
    socket.write(hello("msgpack"));
    const answer = JSON.parse((await tap.frame()).toString()) as { serializer: string };
    assert.equal(answer.serializer, "msgpack");

    const calls: [number, string, unknown[], unknown][] = [
      [1, "echo", [pattern(KiB64, 1)], pattern(KiB64, 1)],
      [2, "add", [1, 2], 3],
      [3, "make", [MiB, 2], pattern(MiB, 2)],
      [4, "add", [3, 4], 7],
      [5, "echo", [{ data: pattern(MiB, 3), note: "n" }], { data: pattern(MiB, 3), note: "n" }],
      [6, "make", [KiB64, 4], pattern(KiB64, 4)],
    ];
    // One write: the server reads them from the same chunks and answers in one tick.
    socket.write(Buffer.concat(calls.map(([id, name, args]) => frameOf(msgpack.encode([0, id, name, args])))));
    const replies = new Map<number, Buffer>();
    for (let i = 0; i < calls.length; i++) {
      const f = await tap.frame();
      const id = (msgpack.decode(f) as unknown[])[1] as number;
      replies.set(id, f);
    }
    for (const [id, name, , result] of calls) {
      const got = replies.get(id);
      assert.ok(got, `reply ${id} (${name})`);
      assert.ok(Buffer.from(msgpack.encode([1, id, result])).equals(got), `reply ${id} (${name}) is byte for byte encode([1, id, result])`);
    }
  });

  for (const mode of ["gather", "cork", "none"] as CoalesceMode[]) {
    it(`(${mode}) a client's calls with 64 KiB and 1 MiB arguments, in order with small calls around them`, async () => {
      const received: Buffer[] = [];
      const raw = net.createServer((socket) => {
        sockets.push(socket);
        const tap = new Tap(socket);
        void (async () => {
          await tap.frame(); // the client's hello
          socket.write(hello("msgpack"));
          for (;;) {
            const f = await tap.frame();
            received.push(f);
            const [, id, name, args] = msgpack.decode(f) as [number, number, string, unknown[]];
            const result = name === "add" ? (args[0] as number) + (args[1] as number) : args[0];
            socket.write(frameOf(msgpack.encode([1, id, result])));
          }
        })().catch(() => socket.destroy());
      });
      await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
      const port = (raw.address() as net.AddressInfo).port;
      const url: string = `tcp://127.0.0.1:${port}`;
      const proxy = await connect<{ echo(x: unknown): Promise<unknown>; add(a: number, b: number): Promise<number> }>(url, {
        authkey: false,
        serializer: "msgpack",
        coalesce: mode,
      });
      try {
        const args: unknown[][] = [[1, 2], [pattern(KiB64, 5)], [3, 4], [pattern(MiB, 6)], [5, 6], [[pattern(KiB64, 7), "x", pattern(MiB, 8)]], [7, 8]];
        // Sent in one tick: the writer gathers small frames and big parts into one writev.
        const results = await within(
          Promise.all(args.map((a) => (a.length === 2 ? proxy.add(a[0] as number, a[1] as number) : proxy.echo(a[0])))),
          BOUND,
          "the answers",
        );
        assert.deepEqual(results.map((r) => (typeof r === "number" ? r : "bytes")), [3, "bytes", 7, "bytes", 11, "bytes", 15]);
        assert.deepEqual(new Uint8Array(results[3] as Uint8Array), pattern(MiB, 6));
        assert.equal(received.length, args.length);
        received.forEach((f, i) => {
          const env = msgpack.decode(f) as [number, number, string, unknown[]];
          assert.deepEqual(plain(env[3]), args[i], `call ${i} arrived in order, intact`);
          assert.ok(Buffer.from(msgpack.encode(env)).equals(f), `call ${i} is byte for byte encode(envelope)`);
        });
      } finally {
        await proxy.$close();
        await new Promise<void>((resolve) => raw.close(() => resolve()));
      }
    });
  }
});

/** A sink that records what a connection delivers. */
class Recorder implements ConnectionSink {
  frames: Uint8Array[] = [];
  drains = 0;
  readonly drained = new Deferred<void>();
  readonly closed = new Deferred<Error | undefined>();
  #want: { n: number; d: Deferred<void> } | undefined;
  frame(f: Uint8Array): void {
    this.frames.push(f);
    if (this.#want && this.frames.length >= this.#want.n) this.#want.d.resolve();
  }
  drain(): void {
    this.drains++;
    this.drained.resolve();
  }
  close(err?: Error): void {
    this.closed.resolve(err);
  }
  async count(n: number): Promise<void> {
    if (this.frames.length >= n) return;
    const d = new Deferred<void>();
    this.#want = { n, d };
    await within(d.promise, BOUND, `${n} frames`);
  }
}

describe("tcp scatter/gather: backpressure with parts", () => {
  it("sendParts returns false above the high-water mark, stays false until drain, and the frames arrive whole and in order", async () => {
    const accepted = new Deferred<Connection>();
    const listener = await tcpTransport.listen(new URL("tcp://127.0.0.1:0"), { authkey: false }, (c) => accepted.resolve(c));
    const client = await tcpTransport.connect(new URL(listener.url), { authkey: false, highWaterMark: 64 * 1024 });
    const server = await within(accepted.promise, BOUND, "the accepted connection");
    const atServer = new Recorder();
    const atClient = new Recorder();
    try {
      server.open(atServer);
      // The server reads nothing yet: the bytes pile up in the kernel and then in the client's socket.
      server.pause();
      client.open(atClient);
      assert.ok(client.sendParts, "tcp connections write parts");
      const sent: Uint8Array[] = [];
      let refused = -1;
      for (let i = 0; i < 24; i++) {
        const big = pattern(MiB, i);
        const small = new Uint8Array([i, 1, 2]);
        const parts = [small, big, small];
        const ok: boolean = i % 2 === 0 ? client.sendParts(parts) : client.send(Buffer.concat(parts));
        sent.push(Buffer.concat(parts));
        if (!ok && refused < 0) refused = i;
        if (refused >= 0) assert.equal(ok, false, `frame ${i}: send keeps returning false until drain`);
      }
      assert.equal(refused, 0, "the first 1 MiB frame is above the 64 KiB mark");
      // Let the writer flush: with the peer not reading, 24 MiB cannot all leave, so no drain yet.
      for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      assert.equal(atClient.drains, 0, "no drain while the peer does not read");
      server.resume();
      await atServer.count(sent.length);
      sent.forEach((f, i) => assert.ok(Buffer.from(atServer.frames[i] as Uint8Array).equals(f), `frame ${i} whole and in order`));
      await within(atClient.drained.promise, BOUND, "drain");
      assert.equal(atClient.drains, 1, "one drain");
      assert.equal(client.sendParts([new Uint8Array([9])]), true, "writable again after drain");
      await atServer.count(sent.length + 1);
    } finally {
      client.close();
      server.close();
      await listener.close();
      await within(Promise.all([atClient.closed.promise, atServer.closed.promise]), BOUND, "both ends closed");
    }
  });
});
