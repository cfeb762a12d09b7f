/**
 * Hand-driven peers that speak the wirecall protocol frame by frame, for
 * tests that send what no wirecall client would or read what it would hide:
 * one over any registered transport's `Connection` (mem, tcp, ws...), and
 * one over a bare tcp socket (for a peer that stops reading, or floods).
 * Both keep what arrives in a `FrameQueue`, so every wait is bounded and a
 * test can wait for the first frame that matches while others queue.
 */
import * as net from "node:net";
import { getTransport, parseEndpoint, type Connection } from "../../src/transport-sdk.js";
import { FrameDecoder } from "../../transports/tcp/frame-decoder.js";
import { Deferred, within } from "./async.js";
import { tcpFrame } from "./hostile.js";

/** A failing test, never a hung one: the longest any single wait may take. */
export const BOUND = 20_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** How a raw peer turns values into frames and frames into values. */
export interface RawCodec<T> {
  encode(v: unknown): Uint8Array | string;
  decode(frame: Uint8Array): T;
  /** Whether frames go as binary where the transport tells text from binary. */
  readonly binary?: boolean;
}

/** JSON text, as a peer in another language writes it. */
export const JSON_TEXT: RawCodec<unknown> = {
  encode: (v) => JSON.stringify(v),
  decode: (f) => JSON.parse(dec.decode(f)) as unknown,
  binary: false,
};

/** Bytes as they are: `send` takes a string or bytes, frames arrive as bytes. */
export const BYTES: RawCodec<Uint8Array> = {
  encode: (v) => v as Uint8Array | string,
  decode: (f) => f,
  binary: true,
};

/** Frames in arrival order, with bounded waits for the next one or the first that matches. */
export class FrameQueue<T> {
  readonly frames: T[] = [];
  #ended = false;
  #error: Error | undefined;
  /** Settled by the next push or end; made only while someone waits. */
  #arrived: Deferred<void> | undefined;
  readonly #closed = new Deferred<Error | undefined>();
  /** Resolves with the close reason when the connection closed. */
  readonly closed = this.#closed.promise;

  /** `keep`: frames nobody took beyond this many are dropped, oldest first (for floods nobody reads whole). */
  constructor(private readonly keep = Infinity) {}

  get isClosed(): boolean {
    return this.#ended;
  }

  push(frame: T): void {
    this.frames.push(frame);
    if (this.frames.length > this.keep) this.frames.splice(0, this.frames.length - Math.ceil(this.keep / 10));
    this.#wake();
  }

  /** The connection closed: waits with nothing left to take reject with `err` (or a plain reason). */
  end(err?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err;
    this.#closed.resolve(err);
    this.#wake();
  }

  /** The next frame in arrival order. */
  next(what = "a frame", ms = BOUND): Promise<T> {
    return this.until(() => true, what, ms);
  }

  /** The first frame `match` accepts, taken out of the queue; the frames before it stay queued. */
  async until(match: (frame: T) => boolean, what: string, ms = BOUND): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0] as T;
      if (this.#ended) throw this.#error ?? new Error(`the peer closed the connection while waiting for ${what}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      this.#arrived ??= new Deferred<void>();
      await within(this.#arrived.promise, left, what).catch(() => {});
    }
  }

  #wake(): void {
    const arrived = this.#arrived;
    this.#arrived = undefined;
    arrived?.resolve();
  }
}

/** A raw peer on a transport's `Connection`: frames in, frames out, nothing of the session in between. */
export interface RawPeer<T> {
  readonly conn: Connection;
  readonly queue: FrameQueue<T>;
  /** Resolves with the close reason when the connection closed. */
  readonly closed: Promise<Error | undefined>;
  /** What the server answered to the hello, when the peer was opened with one. */
  readonly hello: Record<string, unknown> | undefined;
  /** Encode and send `v`; returns the frame's size in bytes. */
  send(v: unknown): number;
  next(what?: string, ms?: number): Promise<T>;
  until(match: (frame: T) => boolean, what: string, ms?: number): Promise<T>;
  close(): void;
}

export interface RawPeerOptions<T> {
  /** Default `JSON_TEXT`. */
  codec?: RawCodec<T>;
  /** Sent first as JSON text; the server's JSON answer is read (whatever the codec) into `hello`. */
  hello?: Record<string, unknown>;
  /** See `FrameQueue`. */
  keep?: number;
}

/** Connect to `url` over its registered transport (import the transport first) and speak frames by hand. */
export async function rawPeer<T>(url: string, options: RawPeerOptions<T> & { codec: RawCodec<T> }): Promise<RawPeer<T>>;
export async function rawPeer(url: string, options?: RawPeerOptions<unknown>): Promise<RawPeer<unknown>>;
export async function rawPeer<T>(url: string, options: RawPeerOptions<T> = {}): Promise<RawPeer<T>> {
  const codec = options.codec ?? (JSON_TEXT as RawCodec<T>);
  const ep = parseEndpoint(url);
  const conn = await (await getTransport(ep.scheme)).connect(ep.url, {});
  const queue = new FrameQueue<T>(options.keep);
  let helloAnswer: Deferred<Uint8Array> | undefined;
  if (options.hello !== undefined) helloAnswer = new Deferred<Uint8Array>();
  conn.open({
    frame(f) {
      if (helloAnswer) {
        const d = helloAnswer;
        helloAnswer = undefined;
        d.resolve(f);
      } else queue.push(codec.decode(f));
    },
    drain() {},
    close(err) {
      helloAnswer?.reject(err ?? new Error("the peer closed the connection before answering the hello"));
      queue.end(err);
    },
  });
  const write = (payload: Uint8Array | string, binary: boolean): number => {
    const bytes = typeof payload === "string" ? enc.encode(payload) : payload;
    conn.send(bytes, !binary);
    return bytes.byteLength;
  };
  let hello: Record<string, unknown> | undefined;
  if (helloAnswer !== undefined) {
    const answer = helloAnswer.promise;
    try {
      write(JSON.stringify(options.hello), false);
      hello = JSON.parse(dec.decode(await within(answer, BOUND, "the hello's answer"))) as Record<string, unknown>;
    } catch (err) {
      conn.close();
      throw err;
    }
  }
  return {
    conn,
    queue,
    closed: queue.closed,
    hello,
    send: (v) => write(codec.encode(v), codec.binary !== false),
    next: (what, ms) => queue.next(what, ms),
    until: (match, what, ms) => queue.until(match, what, ms),
    close: () => conn.close(),
  };
}

/** A raw peer on a bare tcp socket (no HMAC challenge), for what needs the socket: pausing, flooding. */
export class RawTcpPeer<T> {
  readonly queue: FrameQueue<T>;
  private constructor(
    readonly socket: net.Socket,
    private readonly codec: RawCodec<T>,
    maxFrame: number,
  ) {
    this.queue = new FrameQueue<T>();
    const decoder = new FrameDecoder(maxFrame);
    socket.on("data", (c: Buffer) => {
      decoder.push(c);
      for (let f = decoder.next(); f; f = decoder.next()) this.queue.push(codec.decode(f.slice()));
    });
    socket.on("error", () => {});
    socket.on("close", () => this.queue.end());
  }

  /** `maxFrame`: the largest frame the server may send this peer. */
  static async open<T = unknown>(url: string, codec: RawCodec<T> = JSON_TEXT as RawCodec<T>, maxFrame = 1 << 20): Promise<RawTcpPeer<T>> {
    const u = new URL(url);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => resolve(s));
      s.once("error", reject);
    });
    return new RawTcpPeer(socket, codec, maxFrame);
  }

  get closed(): boolean {
    return this.queue.isClosed;
  }

  /** Encode and write `v`; false when the socket's buffer is full (as `socket.write`). */
  send(v: unknown): boolean {
    return this.socket.write(tcpFrame(this.codec.encode(v)));
  }

  /** Write many frames in one go, waiting for drain between batches (the attacker's own backpressure). */
  async flood(values: Iterable<unknown>): Promise<void> {
    let batch: Buffer[] = [];
    for (const v of values) {
      batch.push(tcpFrame(this.codec.encode(v)));
      if (batch.length === 512) {
        if (!this.socket.write(Buffer.concat(batch))) await new Promise((r) => this.socket.once("drain", r));
        batch = [];
      }
    }
    if (batch.length) this.socket.write(Buffer.concat(batch));
  }

  next(what = "a frame from the server", ms = BOUND): Promise<T> {
    return this.queue.next(what, ms);
  }

  until(match: (frame: T) => boolean, what: string, ms = BOUND): Promise<T> {
    return this.queue.until(match, what, ms);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
