/**
 * Hostile input against the wirecall Pyro4 daemon, running in its own
 * process (test/support/hostile.ts), while an honest Python Pyro4 client
 * and an honest wirecall Pyro4 client keep calling: garbage, bad
 * checksums, huge declared lengths, a wrong HMAC, calls before the
 * handshake, hostile serpent text (deep, wide, giant ints, code), a zlib
 * bomb, a ping flood, silent and stalled connections. Each attack gets the
 * answer it should (a closed connection or a Pyro4 SerializeError), the
 * honest clients see no failure, the daemon lives, its memory stays bounded.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as net from "node:net";
import { deflateSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { connect, type AnyRemote } from "../src/index.js";
import { Flags, MessageDecoder, MsgType, SerializerId, encodeMessage, serializerById, type PyroMessage } from "../protocols/pyro4/index.js";
import { PYRO4_FIXTURES, PYTHON, pyro4Skip } from "./fixtures/pyro4/pyro4-python.js";
import { ServerProcess, honestCaller, within } from "./support/hostile.js";

const skip = pyro4Skip();
const KEY = "hostile key";
const WAIT = 20_000;
const serpent = serializerById(SerializerId.serpent);
const SERPENT = "# serpent utf-8 python3.2\n";

/** A raw socket to the daemon that can send what no Pyro4 client would. */
class Raw {
  readonly socket: net.Socket;
  readonly #decoder: MessageDecoder;
  readonly messages: PyroMessage[] = [];
  readonly closed: Promise<void>;
  #wake: (() => void) | undefined;
  #seq = 0;

  constructor(port: number, key: string | undefined = KEY) {
    this.socket = net.connect({ host: "127.0.0.1", port });
    this.#decoder = new MessageDecoder(key === undefined ? {} : { hmacKey: key });
    this.socket.on("error", () => {});
    this.socket.on("data", (chunk: Buffer) => {
      try {
        this.messages.push(...this.#decoder.push(chunk));
      } catch {
        this.socket.destroy();
      }
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => this.socket.on("close", () => resolve()));
    void this.closed.then(() => this.#wake?.());
  }

  write(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  send(type: number, data: Uint8Array, flags = 0, key: string | undefined = KEY): number {
    const seq = (this.#seq = (this.#seq + 1) & 0xffff);
    this.write(encodeMessage({ type, flags, seq, serializerId: serpent.id, data }, key === undefined ? {} : { hmacKey: key }));
    return seq;
  }

  /** Wait until `n` messages have arrived (or the socket closed). */
  async received(n: number): Promise<PyroMessage[]> {
    await within(
      (async () => {
        while (this.messages.length < n && !this.socket.destroyed) await new Promise<void>((r) => (this.#wake = r));
      })(),
      WAIT,
      `${n} messages from the daemon`,
    );
    return this.messages;
  }

  async handshake(): Promise<void> {
    this.send(MsgType.CONNECT, serpent.dumps({ handshake: "hello", object: "functions" }), Flags.META_ON_CONNECT);
    const [m] = await this.received(1);
    assert.equal(m?.type, MsgType.CONNECTOK);
    this.messages.length = 0;
  }

  /** An INVOKE whose body is `text` (raw serpent); resolves with the answer's decoded body and flags. */
  async invokeRaw(body: Uint8Array, flags = 0, what = "a call"): Promise<{ flags: number; value: unknown }> {
    const seq = this.send(MsgType.INVOKE, body, flags);
    const want = this.messages.length + 1;
    const msgs = await this.received(want);
    const m = msgs[want - 1];
    assert.ok(m, `no answer to ${what}`);
    assert.equal(m.seq, seq);
    return { flags: m.flags, value: serpent.loads(m.data) };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function header(fields: { type?: number; dataSize: number; checksumDelta?: number }): Buffer {
  const b = Buffer.alloc(24);
  b.write("PYRO", 0, "latin1");
  b.writeUInt16BE(48, 4);
  const type = fields.type ?? MsgType.CONNECT;
  b.writeUInt16BE(type, 6);
  b.writeInt32BE(fields.dataSize, 12);
  b.writeUInt16BE(SerializerId.serpent, 16);
  b.writeUInt16BE(((type + 48 + fields.dataSize + SerializerId.serpent + 0x34e9) & 0xffff) ^ (fields.checksumDelta ?? 0), 22);
  return b;
}

const MARKER = `/tmp/wirecall-pyro4-pwned-${process.pid}`;
/** Built before any connection opens: making them blocks this process for a while (the 80 MB bomb). */
const hostileBodies: [string, Uint8Array, number][] = skip
  ? []
  : [
      ["deep nesting", Buffer.from(SERPENT + "[".repeat(200_000)), 0],
      ["a million-digit int", Buffer.from(`${SERPENT}('functions', 'echo', (${"9".repeat(1_000_000)},), {})`), 0],
      ["five million items", Buffer.from(`${SERPENT}('functions', 'echo', ((${"0,".repeat(5_000_000)}),), {})`), 0],
      ["code", Buffer.from(`${SERPENT}__import__('os').system('touch ${MARKER}')`), 0],
      ["unterminated string", Buffer.from(`${SERPENT}('functions', 'echo', ('${"a".repeat(100_000)}`), 0],
      ["a zlib bomb", deflateSync(Buffer.alloc(80 * 1024 * 1024)), Flags.COMPRESSED],
      ["not zlib", Buffer.from("definitely not zlib data"), Flags.COMPRESSED],
    ];

describe("the Pyro4 daemon under hostile input, honest clients served", { skip }, () => {
  let server: ServerProcess;
  let port = 0;
  let honestWire: AnyRemote;
  let wire: ReturnType<typeof honestCaller>;
  let py: ReturnType<typeof spawn>;
  let pyDone: Promise<string>;
  let rss: { stop(): number };

  before(async () => {
    server = await ServerProcess.start([{ url: "pyro://127.0.0.1:0", options: { authkey: KEY, handshakeTimeout: 3000, idleTimeout: 5000 } }]);
    port = Number(new URL(server.urls[0] as string).port);
    rss = server.sampleRss();
    honestWire = await connect(`pyro://127.0.0.1:${port}#functions`, { authkey: KEY });
    wire = honestCaller(honestWire);
    py = spawn(PYTHON, [`${PYRO4_FIXTURES}honest_client.py`, `PYRO:functions@127.0.0.1:${port}`, KEY], { stdio: ["pipe", "pipe", "inherit"], timeout: 120_000, killSignal: "SIGKILL" });
    let out = "";
    py.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
    const ready = new Promise<void>((resolve, reject) => {
      py.stdout?.on("data", () => out.includes("ready") && resolve());
      py.on("exit", (code) => reject(new Error(`the honest Python client exited (${code}) before it was ready`)));
    });
    pyDone = new Promise((resolve) => py.on("exit", () => resolve(out)));
    await within(ready, WAIT, "the honest Python client");
  });

  after(async () => {
    py?.kill("SIGKILL");
    await honestWire?.$close();
    await server?.kill();
  });

  it("garbage, a bad checksum, a 2 GB declared body, a call before the handshake: the connection is closed at once", async () => {
    const attacks: [string, Uint8Array][] = [
      ["HTTP", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + "x".repeat(64))],
      ["bad checksum", Buffer.concat([header({ dataSize: 10, checksumDelta: 1 }), Buffer.alloc(10)])],
      ["2 GB body", header({ dataSize: 0x7fffffff })],
    ];
    for (const [what, bytes] of attacks) {
      const r = new Raw(port);
      r.write(bytes);
      await within(r.closed, WAIT, `the daemon closing the '${what}' connection`);
    }
    const early = new Raw(port);
    early.send(MsgType.INVOKE, serpent.dumpsCall("functions", "add", [1, 2], {}));
    await within(early.closed, WAIT, "the daemon closing a connection that called before the handshake");
    assert.ok(!early.messages.some((m) => m.type === MsgType.RESULT), "a call before the handshake was answered");
  });

  it("a wrong HMAC key gets CONNECTFAIL and a closed connection; nothing it pipelined runs", async () => {
    const r = new Raw(port, "wrong");
    r.write(
      Buffer.concat([
        encodeMessage({ type: MsgType.CONNECT, seq: 0, serializerId: serpent.id, data: serpent.dumps({ handshake: "hello", object: "functions" }) }, { hmacKey: "wrong" }),
        encodeMessage({ type: MsgType.INVOKE, seq: 1, serializerId: serpent.id, data: serpent.dumpsCall("functions", "echo", ["intruder"], {}) }, { hmacKey: "wrong" }),
      ]),
    );
    await within(r.closed, WAIT, "the daemon closing the wrong-key connection");
    // Our decoder (with the wrong key) refuses the daemon's CONNECTFAIL, signed with the right one: nothing was readable, nothing answered.
    assert.ok(!r.messages.some((m) => m.type === MsgType.RESULT));
  });

  it("hostile serpent and bombs are answered with SerializeError; the same connection keeps working", async () => {
    const r = new Raw(port);
    await r.handshake();
    for (const [what, body, flags] of hostileBodies) {
      const t = performance.now();
      const { flags: f, value } = await r.invokeRaw(body, flags, what);
      assert.ok(f & Flags.EXCEPTION, `${what}: not an exception`);
      assert.equal((value as Error).name, "SerializeError", `${what}: ${String(value)}`);
      // Cost in proportion to the bytes (the widest body is 10 MB); generous for a loaded machine.
      assert.ok(performance.now() - t < 30_000, `${what} took ${performance.now() - t} ms`);
      const ok = await r.invokeRaw(serpent.dumpsCall("functions", "echo", [what], {}), 0, `the echo after ${what}`);
      assert.equal(ok.value, what);
    }
    assert.ok(!existsSync(MARKER), "serpent text ran code");
    r.destroy();
  });

  it("a ping flood in one write is answered in order", async () => {
    const r = new Raw(port);
    await r.handshake();
    const n = 2000;
    const pings: Uint8Array[] = [];
    for (let i = 0; i < n; i++) pings.push(encodeMessage({ type: MsgType.PING, seq: i, serializerId: serpent.id, data: Buffer.from("ping") }, { hmacKey: KEY }));
    r.write(Buffer.concat(pings));
    const got = await r.received(n);
    assert.deepEqual(
      got.map((m) => m.seq),
      Array.from({ length: n }, (_, i) => i),
    );
    r.destroy();
  });

  it("silent connections and a stalled half message are closed by the handshake and idle timeouts", async () => {
    const silent = Array.from({ length: 50 }, () => new Raw(port));
    const stalled = new Raw(port);
    await stalled.handshake();
    stalled.write(Buffer.concat([header({ type: MsgType.INVOKE, dataSize: 1000 }), Buffer.alloc(10)]));
    await within(Promise.all([...silent.map((s) => s.closed), stalled.closed]), WAIT, "the daemon closing silent and stalled connections");
  });

  it("the honest clients saw no failure, the daemon lives, its memory stayed bounded", async () => {
    const w = await wire.stop();
    py.stdin?.end();
    const line = (await within(pyDone, WAIT, "the honest Python client's report")).trim().split("\n").pop() as string;
    const p = JSON.parse(line) as { calls: number; failures: string[]; slowest: number };
    assert.deepEqual(w.failures, []);
    assert.deepEqual(p.failures, []);
    assert.ok(w.calls > 10 && p.calls > 10, `wirecall ${w.calls} calls, Python ${p.calls}`);
    assert.ok(server.alive, "the daemon died");
    const peak = rss.stop();
    assert.ok(peak < 600 * 1024 * 1024, `peak RSS ${Math.round(peak / 1048576)} MiB`);
  });
});
