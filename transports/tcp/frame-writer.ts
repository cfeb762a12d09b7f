/**
 * Writes length-prefixed frames to a socket, coalescing the frames sent in
 * one tick into as few writes as possible. Knows nothing of reading.
 *
 * Modes (benchmarks/tcp-coalesce.mjs measures them):
 * - "gather" (default): frames queued in the same tick go out on the next
 *   `process.nextTick`; small ones are copied with their headers into one
 *   buffer, big payloads are written as they are (no copy), so a tick costs
 *   one write, or one writev when big payloads are mixed in.
 * - "cork": each frame is written at once (header, then payload) inside
 *   `socket.cork()`, uncorked on the next tick: one writev per tick, no copies.
 * - "none": each frame is written at once as two writes.
 *
 * A frame may come as parts (`writeParts`, scatter/gather): one length
 * prefix for their total, then the parts, each treated like a frame's
 * payload above (a large binary value is written as it is, never copied).
 */

/** What the writer needs from a socket (net.Socket and tls.TLSSocket qualify). */
export interface FrameSink {
  write(chunk: Uint8Array): boolean;
  cork(): void;
  uncork(): void;
}

export type CoalesceMode = "gather" | "cork" | "none";

/** Payloads up to this size are copied into the gathered buffer; bigger ones are written as they are. */
const GATHER_COPY_LIMIT = 16 * 1024;
/** Largest length a 4-byte prefix carries; longer frames use -1 and an 8-byte length. */
const MAX_SHORT = 0x7fff_ffff;

/**
 * An empty array with room for one element. A first push into `[]` gives it
 * 17 slots (152 bytes), kept for as long as the array lives: per idle
 * connection that is memory for nothing, as one item at a time is the
 * usual case.
 */
export function smallArray<T>(): T[] {
  const a: T[] = [undefined as T];
  a.pop();
  return a;
}

/** Header size for a payload of `length` bytes. */
export function headerSize(length: number): number {
  return length > MAX_SHORT ? 12 : 4;
}

/** Write the length prefix of a `length`-byte frame into `out` at `at`; returns the position after it. */
export function writeHeader(out: Uint8Array, at: number, length: number): number {
  if (length <= MAX_SHORT) {
    out[at] = length >>> 24;
    out[at + 1] = (length >>> 16) & 0xff;
    out[at + 2] = (length >>> 8) & 0xff;
    out[at + 3] = length & 0xff;
    return at + 4;
  }
  out[at] = out[at + 1] = out[at + 2] = out[at + 3] = 0xff;
  const high = Math.floor(length / 0x1_0000_0000);
  const low = length >>> 0;
  for (let i = 0; i < 4; i++) {
    out[at + 4 + i] = (high >>> (24 - 8 * i)) & 0xff;
    out[at + 8 + i] = (low >>> (24 - 8 * i)) & 0xff;
  }
  return at + 12;
}

/** The length prefix of a `length`-byte frame, alone. */
export function encodeHeader(length: number): Uint8Array {
  const h = new Uint8Array(headerSize(length));
  writeHeader(h, 0, length);
  return h;
}

export class FrameWriter {
  readonly #socket: FrameSink;
  readonly #mode: CoalesceMode;
  /** Frames, or frames in parts, in order. */
  #queue: (Uint8Array | readonly Uint8Array[])[];
  #pending = 0;
  #scheduled = false;
  /** Inside {@link hold}..{@link release}: "gather" frames wait for the release, not for the next tick. */
  #held = false;
  #lastWrite = true;
  readonly #onFlush: ((socket: FrameSink) => void) | undefined;

  /**
   * `onFlush` runs after each deferred flush, given the socket (so the
   * owner can re-check its buffer level; one function can serve every
   * writer).
   */
  constructor(socket: FrameSink, mode: CoalesceMode = "gather", onFlush?: (socket: FrameSink) => void) {
    this.#socket = socket;
    this.#mode = mode;
    this.#onFlush = onFlush;
    this.#queue = smallArray();
  }

  /** The deferred flush: one function for every writer (it comes back as the tick's argument), not a closure each. */
  static #tick(w: FrameWriter): void {
    w.flush();
    w.#onFlush?.(w.#socket);
  }

  /** Bytes queued here that the socket has not been given yet. */
  get pending(): number {
    return this.#pending;
  }

  /** What the socket's last `write` returned (false: its buffer is above its own high-water mark). */
  get lastWrite(): boolean {
    return this.#lastWrite;
  }

  /** Queue one frame. The writer keeps a reference until it is written; the caller must not modify it. */
  write(frame: Uint8Array): void {
    switch (this.#mode) {
      case "gather":
        this.#queue.push(frame);
        this.#pending += headerSize(frame.length) + frame.length;
        if (!this.#scheduled && !this.#held) {
          this.#scheduled = true;
          process.nextTick(FrameWriter.#tick, this);
        }
        return;
      case "cork":
        if (!this.#scheduled) {
          this.#scheduled = true;
          this.#socket.cork();
          process.nextTick(FrameWriter.#tick, this);
        }
        this.#socket.write(encodeHeader(frame.length));
        this.#lastWrite = this.#socket.write(frame);
        return;
      case "none":
        this.#socket.write(encodeHeader(frame.length));
        this.#lastWrite = this.#socket.write(frame);
        return;
    }
  }

  /** Queue one frame given as parts (their concatenation); same ownership rule as `write`. */
  writeParts(parts: readonly Uint8Array[]): void {
    let length = 0;
    for (const p of parts) length += p.length;
    switch (this.#mode) {
      case "gather":
        this.#queue.push(parts);
        this.#pending += headerSize(length) + length;
        if (!this.#scheduled && !this.#held) {
          this.#scheduled = true;
          process.nextTick(FrameWriter.#tick, this);
        }
        return;
      case "cork":
        if (!this.#scheduled) {
          this.#scheduled = true;
          this.#socket.cork();
          process.nextTick(FrameWriter.#tick, this);
        }
        this.#writeEach(length, parts);
        return;
      case "none":
        this.#socket.cork();
        this.#writeEach(length, parts);
        this.#socket.uncork();
        return;
    }
  }

  /**
   * While the owner delivers the frames of one read (whose answers may be
   * written at once, synchronously): frames written until {@link release}
   * go out together then, with no tick scheduled for them.
   */
  hold(): void {
    this.#held = true;
  }

  /** End a {@link hold}: hand what it gathered to the socket now. Returns true when something was written. */
  release(): boolean {
    this.#held = false;
    if (this.#scheduled || this.#queue.length === 0) return false;
    this.flush();
    return true;
  }

  #writeEach(length: number, parts: readonly Uint8Array[]): void {
    this.#socket.write(encodeHeader(length));
    for (const p of parts) this.#lastWrite = this.#socket.write(p);
  }

  /** Hand everything queued to the socket now. Returns what the socket's write returned. */
  flush(): boolean {
    if (this.#mode === "cork") {
      if (this.#scheduled) {
        this.#scheduled = false;
        this.#socket.uncork();
      }
      return this.#lastWrite;
    }
    this.#scheduled = false;
    const frames = this.#queue;
    if (frames.length === 0) return this.#lastWrite;
    this.#pending = 0;
    const one = frames.length === 1 ? frames[0] : undefined;
    if (one instanceof Uint8Array && one.length <= GATHER_COPY_LIMIT) {
      // One small frame (a sequential caller's answer): the queue is kept for the next one.
      frames.pop();
      const out = Buffer.allocUnsafe(headerSize(one.length) + one.length);
      out.set(one, writeHeader(out, 0, one.length));
      return (this.#lastWrite = this.#socket.write(out));
    }
    this.#queue = smallArray();
    let size = 0;
    for (const f of frames) {
      if (f instanceof Uint8Array) {
        size += headerSize(f.length) + (f.length <= GATHER_COPY_LIMIT ? f.length : 0);
        continue;
      }
      let length = 0;
      for (const p of f) {
        length += p.length;
        if (p.length <= GATHER_COPY_LIMIT) size += p.length;
      }
      size += headerSize(length);
    }
    const slab = Buffer.allocUnsafe(size);
    let pos = 0;
    let start = 0;
    let parts: Uint8Array[] | undefined;
    for (const f of frames) {
      if (f instanceof Uint8Array) {
        pos = writeHeader(slab, pos, f.length);
        if (f.length <= GATHER_COPY_LIMIT) {
          slab.set(f, pos);
          pos += f.length;
        } else {
          (parts ??= []).push(slab.subarray(start, pos), f);
          start = pos;
        }
        continue;
      }
      let length = 0;
      for (const p of f) length += p.length;
      pos = writeHeader(slab, pos, length);
      for (const p of f) {
        if (p.length <= GATHER_COPY_LIMIT) {
          slab.set(p, pos);
          pos += p.length;
        } else {
          (parts ??= []).push(slab.subarray(start, pos), p);
          start = pos;
        }
      }
    }
    if (!parts) return (this.#lastWrite = this.#socket.write(slab));
    if (pos > start) parts.push(slab.subarray(start, pos));
    this.#socket.cork();
    let ok = true;
    for (const p of parts) if (p.length > 0) ok = this.#socket.write(p);
    this.#socket.uncork();
    return (this.#lastWrite = ok);
  }
}
