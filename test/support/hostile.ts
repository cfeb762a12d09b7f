/**
 * Harness for hostile tests: a wirecall server in a child process (its memory
 * is measured alone, and a crash there fails the test instead of the test
 * runner), RSS sampled from /proc, an honest client that keeps calling, and
 * raw peers for tcp and ws that can send what no wirecall client would.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { WebSocket } from "ws";
import type { AnyRemote } from "../../src/index.js";
import { clientHandshake, type ChallengeIO } from "../../src/transport-sdk.js";
import { nodeHmac } from "../../transports/node-hmac.js";
import { FrameDecoder } from "../../transports/tcp/frame-decoder.js";
import { encodeHeader } from "../../transports/tcp/frame-writer.js";
export { within } from "./async.js";

const FIXTURE = new URL("../fixtures/hostile/server.js", import.meta.url);

export interface ServerSpec {
  url: string;
  options?: Record<string, unknown>;
}

/** A line the fixture printed about a peer it dropped before the core saw it. */
export interface HandshakeEvent {
  event: "handshakeError";
  url: string;
  code?: string;
  cause?: string;
}

/** The server fixture (test/fixtures/hostile/server.ts) running in a child process. */
export class ServerProcess {
  readonly urls: string[];
  readonly events: HandshakeEvent[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  private constructor(child: ChildProcess, urls: string[], exited: Promise<number | null>) {
    this.#child = child;
    this.urls = urls;
    this.#exited = exited;
    void exited.then((code) => {
      this.#exitCode = code;
    });
  }

  /** Start the servers; resolves with their URLs once they listen (rejects after `timeout` ms). `fixture`: another server script speaking the same stdout protocol. */
  static start(servers: ServerSpec[], timeout = 20_000, fixture: URL = FIXTURE): Promise<ServerProcess> {
    const child = spawn(process.execPath, [fixture.pathname, JSON.stringify({ servers })], { stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
    return new Promise((resolve, reject) => {
      let proc: ServerProcess | undefined;
      let buffered = "";
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`the server fixture did not print its URLs within ${timeout} ms`));
      }, timeout);
      child.stdout?.setEncoding("utf8");
      child.stdout?.on("data", (text: string) => {
        buffered += text;
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = JSON.parse(buffered.slice(0, nl)) as { urls?: string[] } & HandshakeEvent;
          buffered = buffered.slice(nl + 1);
          if (line.urls && !proc) {
            clearTimeout(timer);
            proc = new ServerProcess(child, line.urls, exited);
            resolve(proc);
          } else if (line.event) {
            proc?.events.push(line);
          }
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        if (!proc) reject(new Error(`the server fixture exited (${code}) before listening`));
      });
    });
  }

  get pid(): number {
    return this.#child.pid as number;
  }

  /** Still running (it did not crash or abort). */
  get alive(): boolean {
    return this.#exitCode === undefined;
  }

  /** Resident set size now, bytes (VmRSS of /proc/<pid>/status). */
  rss(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    assert.ok(m, "no VmRSS in /proc/<pid>/status");
    return Number(m[1]) * 1024;
  }

  /** Sample RSS every `every` ms until `stop()`, which returns the largest value seen. */
  sampleRss(every = 20): { stop(): number } {
    let max = this.rss();
    const sample = (): void => {
      try {
        if (this.alive) max = Math.max(max, this.rss());
      } catch {
        // It exited between the check and the read; `alive` tells the test.
      }
    };
    const timer = setInterval(sample, every);
    return {
      stop: () => {
        clearInterval(timer);
        sample();
        return max;
      },
    };
  }

  /** Stop the child (SIGTERM, then SIGKILL after `grace` ms) and wait for it to exit. */
  async kill(grace = 3000): Promise<void> {
    if (!this.alive) return;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), grace);
    await this.#exited;
    clearTimeout(timer);
  }
}

/**
 * Call `proxy.add` back to back until `stop()`; every call must succeed.
 * Reports how many calls were made and the slowest one, ms.
 */
export function honestCaller(proxy: AnyRemote): { stop(): Promise<{ calls: number; failures: unknown[]; slowest: number }> } {
  let running = true;
  let calls = 0;
  let slowest = 0;
  const failures: unknown[] = [];
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      try {
        const r = await proxy.add(calls, 1);
        if (r !== calls + 1) failures.push(new Error(`add(${calls}, 1) returned ${String(r)}`));
      } catch (err) {
        failures.push(err);
      }
      slowest = Math.max(slowest, performance.now() - t);
      calls++;
      // Yield to timers and I/O between calls, so the attack runs alongside.
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { calls, failures, slowest };
    },
  };
}

/** `promise`, or a rejection naming `what` after `timeout` ms. */
/** One length-prefixed tcp frame. */
export function tcpFrame(payload: string | Uint8Array): Buffer {
  const p = Buffer.from(payload);
  return Buffer.concat([encodeHeader(p.length), p]);
}

export const HELLO = '{"wirecall":1,"serializer":"json"}';

/** A raw tcp socket tracked until it closes. */
export interface RawSocket {
  socket: net.Socket;
  /** The server closed or dropped it. */
  closed: boolean;
  /** Resolves when it closed. */
  whenClosed: Promise<void>;
}

function track(socket: net.Socket): RawSocket {
  let done!: () => void;
  const raw: RawSocket = { socket, closed: false, whenClosed: new Promise<void>((r) => (done = r)) };
  socket.on("error", () => {});
  socket.on("end", () => {
    raw.closed = true;
    socket.destroy();
  });
  socket.on("close", () => {
    raw.closed = true;
    done();
  });
  return raw;
}

/**
 * A raw tcp peer (tls for a `tls://` URL, trusting `ca`) that passed the
 * HMAC challenge (when `authkey` is given) and sent its hello.
 */
export async function tcpPeer(url: string, authkey?: string, ca?: string): Promise<RawSocket> {
  const u = new URL(url);
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s =
      u.protocol === "tls:"
        ? tls.connect({ host: u.hostname, port: Number(u.port), ...(ca === undefined ? {} : { ca }) }, () => resolve(s))
        : net.connect({ host: u.hostname, port: Number(u.port) }, () => resolve(s));
    s.once("error", reject);
  });
  if (authkey !== undefined) {
    const decoder = new FrameDecoder(1024);
    const frames: Uint8Array[] = [];
    let wake: (() => void) | undefined;
    const onData = (c: Buffer): void => {
      decoder.push(c);
      for (let f = decoder.next(); f; f = decoder.next()) frames.push(f.slice());
      wake?.();
    };
    socket.on("data", onData);
    const io: ChallengeIO = {
      send: (m) => void socket.write(tcpFrame(m)),
      recv: async () => {
        while (frames.length === 0) await new Promise<void>((r) => (wake = r));
        return frames.shift() as Uint8Array;
      },
    };
    await clientHandshake(io, new TextEncoder().encode(authkey), { hmac: nodeHmac, timeout: 10_000 });
    socket.off("data", onData);
  }
  socket.write(tcpFrame(HELLO));
  // Whatever the server answers (the hello's answer) is read and dropped.
  socket.resume();
  return track(socket);
}

/** A raw WebSocket peer (the `ws` client) with what it learnt of its closing. */
export interface RawWs {
  ws: WebSocket;
  closed: boolean;
  /** Resolves when it closed. */
  whenClosed: Promise<void>;
  closeCode?: number;
  closeReason?: string;
  /** Messages received and not yet taken by {@link nextMessage}. */
  messages: Uint8Array[];
  wake?: () => void;
}

/** The next message the server sent. */
async function nextMessage(raw: RawWs): Promise<Uint8Array> {
  while (raw.messages.length === 0) {
    if (raw.closed) throw new Error("the WebSocket closed");
    await new Promise<void>((r) => (raw.wake = r));
  }
  return raw.messages.shift() as Uint8Array;
}

/** Open a `ws` client without authenticating. */
export async function wsPeer(url: string): Promise<RawWs> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  let done!: () => void;
  const raw: RawWs = { ws, closed: false, whenClosed: new Promise<void>((r) => (done = r)), messages: [] };
  ws.on("error", () => {});
  // From the start: the server's first message can come in the same packet as the upgrade's answer.
  ws.on("message", (m: Buffer) => {
    // Only the handshake is read; later answers are dropped.
    if (raw.messages.length < 4) raw.messages.push(m);
    raw.wake?.();
  });
  ws.on("close", (code: number, reason: Buffer) => {
    raw.closed = true;
    raw.closeCode = code;
    raw.closeReason = reason.toString();
    raw.wake?.();
    done();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("close", () => reject(new Error(`the WebSocket to ${url} closed before it opened`)));
  });
  return raw;
}

/** A `ws` client that passed the HMAC challenge (when `authkey` is given) and sent its hello. */
export async function wsAuthenticatedPeer(url: string, authkey?: string): Promise<RawWs> {
  const raw = await wsPeer(url);
  const ws = raw.ws;
  if (authkey !== undefined) {
    const io: ChallengeIO = { send: (m) => ws.send(m), recv: () => nextMessage(raw) };
    await clientHandshake(io, new TextEncoder().encode(authkey), { hmac: nodeHmac, refuseLegacyMd5: true, timeout: 10_000 });
  }
  ws.send(HELLO);
  return raw;
}

/**
 * The header of a client-to-server WebSocket frame (masked, with a zero key,
 * so the payload goes out as is) announcing `length` bytes: what a peer
 * writes to start a message it may never finish.
 */
export function wsFrameHeader(length: number, { opcode = 2, fin = true } = {}): Buffer {
  const first = (fin ? 0x80 : 0) | opcode;
  if (length < 126) return Buffer.from([first, 0x80 | length, 0, 0, 0, 0]);
  if (length < 65536) return Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff, 0, 0, 0, 0]);
  const h = Buffer.alloc(14);
  h[0] = first;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/** The socket under a `ws` client, to write raw frames (tests only; nothing else writes meanwhile). */
export function wsRawSocket(raw: RawWs): net.Socket {
  const socket = (raw.ws as unknown as { _socket?: net.Socket })._socket;
  assert.ok(socket, "the ws client has no socket");
  return socket;
}

/** Write `total` bytes of zeros to `socket` in 64 KiB pieces, honouring backpressure; stops early when `stop()` says so. */
export async function writeZeros(socket: net.Socket, total: number, stop: () => boolean): Promise<number> {
  const piece = Buffer.alloc(64 * 1024);
  let sent = 0;
  while (sent < total && !stop() && !socket.destroyed) {
    const n = Math.min(piece.length, total - sent);
    sent += n;
    if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off("drain", done);
          socket.off("close", done);
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
      });
    }
  }
  return sent;
}
