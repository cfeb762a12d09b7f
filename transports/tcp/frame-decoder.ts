/**
 * Splits a byte stream into frames, as Python's `multiprocessing.connection`
 * reads them: a 4-byte big-endian signed length, or -1 followed by an 8-byte
 * big-endian length, then that many bytes. Knows nothing of sockets.
 *
 * Pull-based so the reader can stop between frames (backpressure): `push`
 * stores a chunk, `next` returns one frame or undefined. A frame that lies
 * within one chunk is handed out as a subarray of it (no copy); a frame that
 * spans chunks is copied once when complete, into memory of its own (so a
 * value decoded from it, a msgpack bin view, keeps only that frame alive).
 * Memory held is what the peer actually sent, never what a length prefix
 * announced.
 *
 * With a {@link ReadAccount} (servers), the bytes of the unfinished frame
 * are reported to the server's shared budget each time `next` runs out of
 * complete frames; when the budget refuses them, `next` drops everything
 * held and throws PAYLOAD_TOO_LARGE.
 */
import { RpcError } from "../../src/transport-sdk.js";
import type { ReadAccount } from "../read-budget.js";
import { smallArray } from "./frame-writer.js";

/** Length prefix value announcing an 8-byte length. */
const LONG_FORM = -1;
const SHORT_HEADER = 4;
const LONG_HEADER = 12;
const EMPTY = new Uint8Array(0);

export class FrameDecoder {
  /** Largest frame accepted; a larger length prefix throws PAYLOAD_TOO_LARGE before any of the body is kept. */
  maxFrameSize: number;
  #chunks: Uint8Array[] = smallArray();
  #head = 0; // index of the first unread chunk
  #offset = 0; // read position in that chunk
  #buffered = 0; // unread bytes in all chunks
  #length = -1; // body length of the frame being read; -1 while its header is incomplete
  readonly #account: ReadAccount | undefined;

  constructor(maxFrameSize: number, account?: ReadAccount) {
    this.maxFrameSize = maxFrameSize;
    this.#account = account;
  }

  /** Unread bytes held. */
  get buffered(): number {
    return this.#buffered;
  }

  /** True while bytes of an incomplete frame (or its header) are held. */
  get partial(): boolean {
    return this.#buffered > 0 || this.#length > 0;
  }

  /** The connection is gone: what the unfinished frame held goes back to the server's budget. Idempotent. */
  release(): void {
    this.#account?.release();
  }

  /** Store a chunk. The decoder keeps a reference; the caller must not modify it. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The next complete frame, or undefined when more bytes are needed.
   * Throws `RpcError` PAYLOAD_TOO_LARGE or PROTOCOL_ERROR on a bad length
   * prefix; the stream cannot be resynchronised after that.
   */
  next(): Uint8Array | undefined {
    if (this.#length < 0 && this.#buffered >= SHORT_HEADER) {
      // The common case: a whole short-form frame in the first chunk, handed out as a view of it.
      const c = this.#chunks[this.#head] as Uint8Array;
      const o = this.#offset;
      if (o + SHORT_HEADER <= c.length) {
        const n = ((c[o] as number) << 24) | ((c[o + 1] as number) << 16) | ((c[o + 2] as number) << 8) | (c[o + 3] as number);
        const end = o + SHORT_HEADER + n;
        if (n > 0 && n <= this.maxFrameSize && end <= c.length) {
          const frame = c.subarray(o + SHORT_HEADER, end);
          this.#buffered -= SHORT_HEADER + n;
          if (end === c.length) this.#dropHead();
          else this.#offset = end;
          if (this.#account !== undefined && this.#account.held !== 0) this.#account.release();
          return frame;
        }
      }
    }
    if (this.#length < 0) {
      if (this.#buffered < SHORT_HEADER) return this.#incomplete();
      const n = this.#int32(0);
      let length: number;
      if (n === LONG_FORM) {
        if (this.#buffered < LONG_HEADER) return this.#incomplete();
        const high = this.#int32(4) >>> 0;
        // Above 2^53 the value is not exact, but it is far above any limit anyway.
        length = high * 0x1_0000_0000 + (this.#int32(8) >>> 0);
        this.#check(length);
        this.#skip(LONG_HEADER);
      } else if (n < 0) {
        throw new RpcError("PROTOCOL_ERROR", `negative frame length ${n}`);
      } else {
        length = n;
        this.#check(length);
        this.#skip(SHORT_HEADER);
      }
      this.#length = length;
    }
    if (this.#buffered < this.#length) return this.#incomplete();
    const frame = this.#take(this.#length);
    this.#length = -1;
    // The unfinished frame is finished. The bytes after it (more frames, perhaps one unfinished)
    // are reported when the caller runs out of frames, on a new clock; nothing is done per frame.
    if (this.#account !== undefined && this.#account.held !== 0) this.#account.release();
    return frame;
  }

  /** Out of complete frames: report what the unfinished one holds. */
  #incomplete(): undefined {
    const a = this.#account;
    if (a !== undefined && a.held !== this.#buffered && !a.hold(this.#buffered)) this.#refuse();
    return undefined;
  }

  /** The server's budget for unfinished frames is spent: drop this one (the stream is lost anyway). */
  #refuse(): never {
    const held = this.#buffered;
    this.#chunks = smallArray();
    this.#head = 0;
    this.#offset = 0;
    this.#buffered = 0;
    this.#length = -1;
    const a = this.#account as ReadAccount;
    a.release();
    throw new RpcError(
      "PAYLOAD_TOO_LARGE",
      `the server holds too many unfinished frames to take ${held} more bytes of this one (maxBufferedBytes ${a.limits.maxBufferedBytes}); send smaller frames or retry later`,
    );
  }

  #check(length: number): void {
    if (length > this.maxFrameSize) {
      throw new RpcError("PAYLOAD_TOO_LARGE", `frame of ${length} bytes exceeds maxFrameSize ${this.maxFrameSize}`);
    }
  }

  /** Big-endian int32 at `at` bytes past the read position (the caller checked it is buffered). */
  #int32(at: number): number {
    const c = this.#chunks[this.#head] as Uint8Array;
    const o = this.#offset + at;
    if (o + 4 <= c.length) return ((c[o] as number) << 24) | ((c[o + 1] as number) << 16) | ((c[o + 2] as number) << 8) | (c[o + 3] as number);
    return (this.#byteAt(at) << 24) | (this.#byteAt(at + 1) << 16) | (this.#byteAt(at + 2) << 8) | this.#byteAt(at + 3);
  }

  #byteAt(at: number): number {
    let i = this.#head;
    let pos = this.#offset + at;
    for (;;) {
      const c = this.#chunks[i++] as Uint8Array;
      if (pos < c.length) return c[pos] as number;
      pos -= c.length;
    }
  }

  #skip(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const c = this.#chunks[this.#head] as Uint8Array;
      const left = c.length - this.#offset;
      if (n < left) {
        this.#offset += n;
        return;
      }
      n -= left;
      this.#dropHead();
    }
  }

  #take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    this.#buffered -= n;
    const first = this.#chunks[this.#head] as Uint8Array;
    const left = first.length - this.#offset;
    if (n <= left) {
      const frame = first.subarray(this.#offset, this.#offset + n);
      if (n === left) this.#dropHead();
      else this.#offset += n;
      return frame;
    }
    // Every byte is written below: no zero-fill (a 64 KiB frame spans two socket reads, so this is the common case for large payloads).
    const frame = Buffer.allocUnsafeSlow(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[this.#head] as Uint8Array;
      const part = Math.min(c.length - this.#offset, n - filled);
      frame.set(c.subarray(this.#offset, this.#offset + part), filled);
      filled += part;
      if (this.#offset + part === c.length) this.#dropHead();
      else this.#offset += part;
    }
    return frame;
  }

  #dropHead(): void {
    this.#chunks[this.#head++] = EMPTY;
    this.#offset = 0;
    if (this.#head === this.#chunks.length) {
      // One chunk at a time is the usual case: its array is kept (a new one would be allocated per read).
      if (this.#head === 1) this.#chunks.pop();
      else this.#chunks = smallArray();
      this.#head = 0;
    } else if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
