/**
 * The recipe killers against a real server process (issue 11, item 2): a
 * wirecall tcp:// server runs in a child process (test/fixtures/pickle-hostile),
 * honest recipe clients (a real Python one and wirecall's own recipe caller)
 * keep calling, and hostile peers that pass the authkey send the frames that
 * used to kill or hang it: EMPTY_DICTs filling a frame (15 MiB; 24 MiB once took a
 * server to 5 GB, the transports now stop frames at 16 MiB), 241-byte nested exceptions,
 * a 154-byte shared-reference request for an echoing handler (2^30 values
 * as a tree; it once hung a server at 7.8 GB), and 12 MiB of
 * `{}` in the JSON idiom. The honest clients must be served throughout, the
 * server must survive, and its peak RSS (VmHWM, sampled too) stay bounded.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { connect, type AnyRemote } from "../src/index.js";
import { clientHandshake } from "../src/transport-sdk.js";
import { decodePickle } from "../protocols/python/pickle-decoder.js";
import { PythonError } from "../protocols/python/python-exceptions.js";
import { FrameDecoder } from "../transports/tcp/frame-decoder.js";
import { nodeHmac } from "../transports/node-hmac.js";
import { emptyDicts, listOfDicts, nestedExceptions, sharedPairs } from "./pickle-killers.js";
import { findPython, findPythons } from "./python-procs.js";
// Registers the Python recipe: tcp:// servers answer recipe clients, `profile: "python"` calls recipe servers.
import "../protocols/python/index.js";
import { stdoutLines } from "./support/child-lines.js";

const FIXTURES = fileURLToPath(new URL("../../test/fixtures/pickle-hostile/", import.meta.url));
const AUTHKEY = "hostile-pickles";
/** The server's heap is capped, as in production: past it V8 aborts, which is what the old decoder did at 5 GB. */
const SERVER_HEAP_MB = 1024;
/** Peak resident memory allowed for the server (baseline is about 60 MB; frames are buffered whole). */
const MAX_RSS_MB = 600;

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length, false);
  out.set(payload, 4);
  return out;
}

/** An authenticated raw connection that sends whatever it is given. */
class HostilePeer {
  readonly #socket: net.Socket;
  readonly #decoder = new FrameDecoder(1 << 26);
  readonly #frames: Uint8Array[] = [];
  #waiter: ((f: Uint8Array | undefined) => void) | undefined;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (c: Buffer) => {
      this.#decoder.push(c);
      for (let f = this.#decoder.next(); f; f = this.#decoder.next()) this.#frames.push(new Uint8Array(f));
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  static async open(port: number, label = "hostile peer"): Promise<HostilePeer> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
      s.once("error", reject);
    });
    const peer = new HostilePeer(socket);
    try {
      await clientHandshake(
        { send: (m) => void socket.write(frame(m)), recv: async () => (await peer.next()) ?? Promise.reject(new Error("closed during the handshake")) },
        new TextEncoder().encode(AUTHKEY),
        { hmac: nodeHmac, timeout: 10_000 },
      );
    } catch (err) {
      socket.destroy();
      throw new Error(`${label}: ${(err as Error).message}`, { cause: err });
    }
    return peer;
  }

  /** The next frame, or undefined once the server closed the connection. */
  next(): Promise<Uint8Array | undefined> {
    const f = this.#frames.shift();
    if (f || this.#closed) return Promise.resolve(f);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /** Sends one frame without waiting for an answer. */
  write(payload: Uint8Array): void {
    this.#socket.write(frame(payload));
  }

  /** Sends one frame and returns the server's answer (a pickled exception) or undefined when it closed. */
  async send(payload: Uint8Array): Promise<Uint8Array | undefined> {
    this.#socket.write(frame(payload));
    return this.next();
  }

  #wake(): void {
    const w = this.#waiter;
    if (!w) return;
    const f = this.#frames.shift();
    if (f || this.#closed) {
      this.#waiter = undefined;
      w(f);
    }
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** The error a refused frame is answered with: a pickled builtin exception carrying wirecall's code. */
function answeredWith(reply: Uint8Array | undefined): { name: string; code: string } {
  assert.ok(reply, "the server closed without answering");
  const e = decodePickle(reply);
  assert.ok(e instanceof PythonError, `expected a pickled exception, got ${String(e)}`);
  return { name: e.name, code: e.code };
}

/** The recipe server fixture in its own process, its heap capped; it prints its URL once listening. */
async function startServer(): Promise<{ server: ChildProcess; serverExit: Promise<number | null>; url: string; port: number }> {
  const server = spawn(process.execPath, [`--max-old-space-size=${SERVER_HEAP_MB}`, `${FIXTURES}server.mjs`], {
    env: { ...process.env, AUTHKEY },
    stdio: ["pipe", "pipe", "inherit"],
    timeout: 170_000,
    killSignal: "SIGKILL",
  });
  const serverExit = new Promise<number | null>((resolve) => server.on("close", (code) => resolve(code)));
  const url = (JSON.parse(await stdoutLines(server)()) as { url: string }).url;
  return { server, serverExit, url, port: Number(new URL(url).port) };
}

/** Close its stdin (it closes its server and exits), SIGKILL after 10 s; nothing when it already exited. */
async function stopServer(server: ChildProcess, serverExit: Promise<number | null>): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  server.stdin?.end();
  const t = setTimeout(() => server.kill("SIGKILL"), 10_000);
  await serverExit;
  clearTimeout(t);
}

const linux = existsSync("/proc/self/status");

describe("pickle: hostile peers against a recipe server in its own process", { skip: !linux && "needs /proc for RSS", timeout: 180_000 }, () => {
  let server: ChildProcess;
  let serverExit: Promise<number | null>;
  let url: string;
  let port: number;
  const peers: HostilePeer[] = [];
  const children: ChildProcess[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  let honest: AnyRemote | undefined;

  before(async () => {
    ({ server, serverExit, url, port } = await startServer());
  });

  after(async () => {
    clearInterval(sampler);
    for (const p of peers) p.destroy();
    await honest?.$close();
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await stopServer(server, serverExit);
  });

  it("serves honest clients throughout, survives, and keeps its RSS bounded", async (t) => {
    const pid = server.pid as number;
    let maxRss = statusKb(pid, "VmRSS");
    sampler = setInterval(() => {
      try {
        maxRss = Math.max(maxRss, statusKb(pid, "VmRSS"));
      } catch {
        // the process is gone: the assertions below say so
      }
    }, 50);

    // Honest client 1: a real Python recipe client (idiom 3), if there is a Python.
    const python = findPython("3.12") ?? findPythons().at(-1)?.bin ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : undefined);
    let pyClient: ChildProcess | undefined;
    let pyLine: (() => Promise<string>) | undefined;
    if (python) {
      pyClient = spawn(python, [`${FIXTURES}honest_client.py`, "127.0.0.1", String(port), AUTHKEY], {
        stdio: ["pipe", "pipe", "inherit"],
        timeout: 170_000,
        killSignal: "SIGKILL",
      });
      children.push(pyClient);
      pyLine = stdoutLines(pyClient);
      assert.equal(await pyLine(), "ready");
    }

    // Honest client 2: wirecall's recipe caller, timing each call.
    const client: AnyRemote = await connect(`${url}?profile=python&idiom=2`, { authkey: AUTHKEY, timeout: 30_000 });
    honest = client;
    let attacking = true;
    let tsCalls = 0;
    let tsWorst = 0;
    const tsLoop = (async () => {
      while (attacking) {
        const t = performance.now();
        assert.equal(await client.add(tsCalls, 1), tsCalls + 1);
        tsWorst = Math.max(tsWorst, performance.now() - t);
        tsCalls++;
      }
    })();

    const started = performance.now();
    const attacks = [
      // A frame of EMPTY_DICTs just under the default maxFrameSize: refused at maxObjects, answered with ValueError(PROTOCOL_ERROR), connection closed.
      (async () => {
        const dicts = emptyDicts(15 << 20);
        for (let i = 0; i < 3; i++) {
          const p = await HostilePeer.open(port);
          peers.push(p);
          const answer = answeredWith(await p.send(dicts));
          assert.deepEqual(answer, { name: "ValueError", code: "PROTOCOL_ERROR" });
          assert.equal(await p.next(), undefined, "the connection closes after a refused pickle");
        }
      })(),
      // 241-byte nested exceptions: decoded in microseconds; not a (name, args, kwargs) request, so an error reply.
      (async () => {
        const p = await HostilePeer.open(port);
        peers.push(p);
        const nested = nestedExceptions(52);
        assert.equal(nested.length, 241);
        for (let i = 0; i < 20; i++) assert.equal(answeredWith(await p.send(nested)).code, "PROTOCOL_ERROR");
      })(),
      // A 154-byte request whose argument is 2^30 values as a tree: echoed back with the memo, as small and as shared.
      (async () => {
        const p = await HostilePeer.open(port);
        peers.push(p);
        const shared = sharedPairs(30, "echo");
        for (let i = 0; i < 4; i++) {
          const reply = await p.send(shared);
          assert.ok(reply && reply.length < 1024, `an echo of ${reply?.length} bytes`);
          const top = decodePickle(reply) as unknown[];
          assert.equal(top[0], top[1]);
        }
      })(),
      // 12 MiB of {} in the JSON idiom: refused at maxObjects, answered in JSON, connection kept.
      (async () => {
        const p = await HostilePeer.open(port);
        peers.push(p);
        const json = new TextEncoder().encode(`["echo", [[${"{},".repeat(4 << 20)}{}]], {}]`);
        for (let i = 0; i < 2; i++) {
          const reply = await p.send(json);
          assert.ok(reply);
          const err = (JSON.parse(new TextDecoder().decode(reply)) as { __error__: { code: string } }).__error__;
          assert.equal(err.code, "PROTOCOL_ERROR");
        }
      })(),
    ];
    // A server that stops answering fails the honest client's timeout: stop there rather than wait for the attackers.
    const results = await Promise.race([Promise.allSettled(attacks), tsLoop.then(() => new Promise<never>(() => {}))]);
    const attackMs = performance.now() - started;
    attacking = false;
    await tsLoop;
    clearInterval(sampler);
    for (const r of results) if (r.status === "rejected") throw r.reason;

    // The honest clients were served during the attack, promptly.
    assert.ok(tsCalls >= 10, `the wirecall recipe client made only ${tsCalls} calls in ${attackMs.toFixed(0)} ms`);
    assert.ok(tsWorst < 10_000, `a wirecall recipe call waited ${tsWorst.toFixed(0)} ms`);
    if (pyClient && pyLine) {
      pyClient.stdin?.end("stop\n");
      const stats = JSON.parse(await pyLine()) as { calls: number; wrong: number; worst: number };
      assert.equal(stats.wrong, 0);
      assert.ok(stats.calls >= 10, `the Python client made only ${stats.calls} calls`);
      assert.ok(stats.worst < 10, `a Python call waited ${stats.worst} s`);
      t.diagnostic(`Python client ${stats.calls} calls, worst ${(stats.worst * 1000).toFixed(0)} ms`);
    }

    // The server survived, still answers, and its memory stayed bounded.
    assert.equal(server.exitCode, null, "the server process exited");
    assert.equal(await client.add(20, 22), 42);
    const peak = Math.max(maxRss, statusKb(pid, "VmHWM")) / 1024;
    t.diagnostic(`attack ${attackMs.toFixed(0)} ms; wirecall client ${tsCalls} calls, worst ${tsWorst.toFixed(0)} ms; server peak RSS ${peak.toFixed(0)} MB`);
    assert.ok(peak < MAX_RSS_MB, `server peak RSS ${peak.toFixed(0)} MB`);
    await client.$close();
    honest = undefined;
    server.stdin?.end();
    assert.equal(await serverExit, 0);
  });
});

describe("pickle: requests pipelined behind a slow call wait undecoded", { skip: !linux && "needs /proc for RSS", timeout: 180_000 }, () => {
  let server: ChildProcess;
  let serverExit: Promise<number | null>;
  let port: number;
  let url: string;
  let peer: HostilePeer | undefined;
  let honest: AnyRemote | undefined;

  before(async () => {
    ({ server, serverExit, url, port } = await startServer());
  });

  after(async () => {
    peer?.destroy();
    await honest?.$close();
    await stopServer(server, serverExit);
  });

  it("16 requests of 200,000 dicts each are answered in order, one decoded at a time, another client served between", async (t) => {
    const pid = server.pid as number;
    const client: AnyRemote = await connect(`${url}?profile=python&idiom=3`, { authkey: AUTHKEY, timeout: 60_000 });
    honest = client;
    const p = await HostilePeer.open(port, "pipelining peer");
    peer = p;
    const call = (name: string, arg: number): Uint8Array =>
      Uint8Array.from([0x80, 2, 0x8c, name.length, ...Buffer.from(name), 0x4a, ...new Uint8Array(new Int32Array([arg]).buffer), 0x85, 0x7d, 0x87, 0x2e]);
    const dicts = listOfDicts(200_000, "echo");
    p.write(call("slow", 1000));
    for (let i = 0; i < 16; i++) p.write(dicts);
    // While they wait behind the slow call (and while they are worked through), another client is served.
    assert.equal(await client.add(1, 2), 3);
    assert.equal(decodePickle((await p.next()) as Uint8Array), 1000);
    for (let i = 0; i < 16; i++) {
      const reply = await p.next();
      assert.ok(reply && reply.length > 200_000 && reply[0] === 0x80, `echo ${i}: ${reply?.length} bytes`);
      if (i === 7) assert.equal(await client.add(i, 1), i + 1);
    }
    assert.equal(await client.add(20, 22), 42);
    // Each decodes to about 13 MB retained (and several times that while it is built); one at a time, RSS stays near one.
    const peak = statusKb(pid, "VmHWM") / 1024;
    t.diagnostic(`server peak RSS ${peak.toFixed(0)} MB`);
    assert.ok(peak < 400, `server peak RSS ${peak.toFixed(0)} MB`);
    await client.$close();
    honest = undefined;
    server.stdin?.end();
    assert.equal(await serverExit, 0);
  });
});
