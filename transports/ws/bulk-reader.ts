/**
 * Reads large binary messages of a Node WebSocket ahead of `ws`'s own
 * receiver, which costs about five times the work per byte of a 64 KiB
 * message (it copies the payload out of the socket's chunks, then unmasks
 * it a byte at a time unless the optional native `bufferutil` is installed;
 * a server also pauses and resumes its socket for every chunk larger than
 * the receiver's 16 KiB buffer). Here the payload is copied once and
 * unmasked 32 bits at a time (frame-writer.ts's `maskInPlace`), and a frame
 * that arrived in one chunk is a view of it, as in `ws`.
 *
 * It sits between the socket and `ws`'s receiver (in place of the
 * receiver's `write`, which `ws` calls with each chunk), follows the frame
 * headers, and takes out of the byte stream only what is unambiguous:
 * one whole binary frame (FIN set, opcode 2, no RSV bits, masked exactly
 * when this is the server) of at least {@link BULK_MIN} bytes and at most
 * `maxPayload`, starting while `ws`'s receiver waits at a frame boundary
 * outside a fragmented message. Every other byte (control frames, text,
 * fragments, small or oversized frames, anything malformed) goes to `ws`
 * unchanged and in order, so `ws` still enforces every rule and limit and
 * answers pings and closes; removing whole frames leaves it a valid stream.
 * Should `ws` hold unfinished work when a taken frame ends, the frame is
 * handed to it as received instead.
 *
 * Memory: a frame's bytes are kept as views of the chunks they came in
 * (in proportion to the bytes received, as `ws` keeps them; its
 * `maxBufferedChunks` applies: past it the frame is given to `ws`, which
 * refuses it) and joined once the frame is complete.
 */
import { maskInPlace } from "./frame-writer.js";

/** Binary frames at least this long are read here; smaller ones cost `ws` little. */
export const BULK_MIN = 16 * 1024;

/** What is read from `ws`'s receiver (a `Writable`); checked once by {@link installBulkReader}. */
interface WsReceiver {
  write(chunk: Buffer): boolean;
  readonly writableLength: number;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  _errored: boolean;
  _opcode: number;
  _isServer: boolean;
  _maxPayload: number;
  _maxBufferedChunks?: number;
  _allowSynchronousEvents: boolean;
  _extensions: object;
  _binaryType: string;
}

/** `ws`'s receiver state between frames (GET_INFO). */
const GET_INFO = 0;
const OPCODE_CLOSE = 0x8;
const MAX_HEADER = 14;

const HEADER = 0;
/** Payload of a frame left to `ws`. */
const PASS = 1;
/** Payload of a frame read here. */
const BULK = 2;
/** After a close frame: everything goes to `ws`, which ignores it. */
const DONE = 3;

/**
 * Put a {@link BulkReader} in front of the receiver of `ws` (a `ws`
 * WebSocket). Returns false, changing nothing, when the receiver is not
 * the one this was written against (then `ws` reads everything itself).
 */
export function installBulkReader(ws: unknown, deliver: (message: Buffer) => void): boolean {
  const receiver = (ws as { _receiver?: Partial<WsReceiver> } | null)?._receiver;
  if (!receiver || !isKnownReceiver(receiver)) return false;
  const reader = new BulkReader(receiver, deliver);
  const write = (chunk: Buffer): boolean => reader.write(chunk);
  Object.defineProperty(receiver, "write", { value: write, configurable: true, writable: true });
  return true;
}

function isKnownReceiver(r: Partial<WsReceiver>): r is WsReceiver {
  return (
    typeof r.write === "function" &&
    typeof r._state === "number" &&
    typeof r._bufferedBytes === "number" &&
    typeof r._fragmented === "number" &&
    typeof r._errored === "boolean" &&
    typeof r._opcode === "number" &&
    typeof r._isServer === "boolean" &&
    typeof r._maxPayload === "number" &&
    // Messages emitted as they are parsed, no extension, Buffers: what the taken frames must match.
    r._allowSynchronousEvents === true &&
    typeof r._extensions === "object" &&
    r._extensions !== null &&
    Object.keys(r._extensions).length === 0 &&
    r._binaryType === "nodebuffer"
  );
}

export class BulkReader {
  readonly #receiver: WsReceiver;
  /** The receiver's own `write`. */
  readonly #pass: (chunk: Buffer) => boolean;
  readonly #deliver: (message: Buffer) => void;
  readonly #masked: boolean;
  #mode = HEADER;
  readonly #header = Buffer.alloc(MAX_HEADER);
  #headerHave = 0;
  /** Payload bytes of the current frame still to come (PASS, BULK). */
  #remaining = 0;
  // The frame being read here: its length, masking key and the views of its bytes so far.
  #length = 0;
  #headerSize = 0;
  #pieces: Buffer[] = [];

  constructor(receiver: WsReceiver, deliver: (message: Buffer) => void) {
    this.#receiver = receiver;
    const write = receiver.write;
    this.#pass = (chunk) => write.call(receiver, chunk);
    this.#deliver = deliver;
    this.#masked = receiver._isServer;
  }

  /**
   * One chunk from the socket. Returns false when `ws`'s receiver asked for
   * the socket to pause (it then resumes it on its 'drain'), as its own
   * `write` does; true when none of the chunk went to it.
   */
  write(chunk: Buffer): boolean {
    if (this.#mode === DONE) return this.#pass(chunk);
    let ok = true;
    /** Start of the bytes of `chunk` still owed to `ws`. */
    let from = 0;
    /** Where a header still incomplete at the chunk's end began in it (held here, not owed). */
    let heldFrom = 0;
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      const mode = this.#mode;
      if (mode === BULK) {
        const n = Math.min(this.#remaining, end - at);
        this.#pieces.push(chunk.subarray(at, at + n));
        at += n;
        from = at;
        this.#remaining -= n;
        if (this.#remaining > 0) ok = this.#checkPieces() && ok;
        else {
          this.#mode = HEADER;
          ok = this.#finish() && ok;
        }
        continue;
      }
      if (mode === PASS) {
        const n = Math.min(this.#remaining, end - at);
        at += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#mode = HEADER;
        continue;
      }
      if (mode === DONE) break;
      // HEADER: read in place when the chunk holds it whole, else gathered
      // here (a header continued from the last chunk starts this one).
      const start = at;
      let h: Buffer;
      let hAt: number;
      let size: number;
      if (this.#headerHave === 0 && end - at >= 2 && end - at >= (size = headerSize(chunk[at + 1] as number))) {
        h = chunk;
        hAt = at;
        at += size;
      } else {
        size = 2;
        while (at < end) {
          size = this.#headerHave < 2 ? 2 : headerSize(this.#header[1] as number);
          if (this.#headerHave >= size) break;
          const n = Math.min(size - this.#headerHave, end - at);
          this.#header.set(chunk.subarray(at, at + n), this.#headerHave);
          this.#headerHave += n;
          at += n;
        }
        if (this.#headerHave >= 2) size = headerSize(this.#header[1] as number);
        if (this.#headerHave < 2 || this.#headerHave < size) {
          heldFrom = start;
          continue;
        }
        h = this.#header;
        hAt = 0;
        this.#headerHave = 0;
      }
      const b0 = h[hAt] as number;
      const length = payloadLength(h, hAt);
      if (this.#candidate(b0, h[hAt + 1] as number, length)) {
        // `ws` reads what came before the header first, then says whether it waits at a frame boundary.
        if (start > from) ok = this.#pass(chunk.subarray(from, start)) && ok;
        from = start;
        if (h !== this.#header) this.#header.set(chunk.subarray(hAt, hAt + size), 0);
        if (idle(this.#receiver)) {
          this.#length = length;
          this.#headerSize = size;
          this.#remaining = length;
          this.#mode = BULK;
          from = at;
          continue;
        }
      }
      if (h === this.#header) {
        // A header gathered here goes to `ws` ahead of what follows it.
        if (start > from) ok = this.#pass(chunk.subarray(from, start)) && ok;
        ok = this.#pass(Buffer.from(this.#header.subarray(0, size))) && ok;
        from = at;
      }
      this.#remaining = length;
      if ((b0 & 0x0f) === OPCODE_CLOSE) {
        this.#mode = DONE;
        break;
      }
      this.#mode = length > 0 ? PASS : HEADER;
    }
    const owedEnd = this.#mode === HEADER && this.#headerHave > 0 ? heldFrom : end;
    if (owedEnd > from) ok = this.#pass(chunk.subarray(from, owedEnd)) && ok;
    return ok;
  }

  /** Whether the frame that starts with b0, b1 and has `length` payload bytes may be read here (if `ws` is idle). */
  #candidate(b0: number, b1: number, length: number): boolean {
    const maxPayload = this.#receiver._maxPayload;
    return b0 === 0x82 && (b1 & 0x80) === (this.#masked ? 0x80 : 0) && length >= BULK_MIN && (maxPayload <= 0 || length <= maxPayload);
  }

  /** Past `ws`'s limit on buffered chunks, the frame goes to `ws` as received (it refuses it). */
  #checkPieces(): boolean {
    const limit = this.#receiver._maxBufferedChunks ?? 0;
    if (limit <= 0 || this.#pieces.length < limit) return true;
    const ok = this.#handOver();
    this.#mode = PASS;
    return ok;
  }

  /** The frame read here, to `ws` as it arrived: its header, then its bytes so far. */
  #handOver(): boolean {
    const pieces = this.#pieces;
    this.#pieces = [];
    let ok = this.#pass(Buffer.from(this.#header.subarray(0, this.#headerSize)));
    for (const p of pieces) ok = this.#pass(p) && ok;
    return ok;
  }

  /** The frame's last byte has come: deliver it, unmasked, or hand it to `ws` if `ws` is no longer idle. */
  #finish(): boolean {
    if (!idle(this.#receiver)) return this.#handOver();
    const pieces = this.#pieces;
    this.#pieces = [];
    const length = this.#length;
    let message: Buffer;
    if (pieces.length === 1) message = pieces[0] as Buffer;
    else {
      message = Buffer.allocUnsafe(length);
      let at = 0;
      for (const p of pieces) {
        message.set(p, at);
        at += p.length;
      }
    }
    if (this.#masked) {
      const k = this.#headerSize - 4;
      const h = this.#header;
      maskInPlace(message, 0, length, h[k] as number, h[k + 1] as number, h[k + 2] as number, h[k + 3] as number);
    }
    this.#deliver(message);
    return true;
  }
}

/** `ws`'s receiver waits for a frame, outside a fragmented message, with nothing pending or failed. */
function idle(r: WsReceiver): boolean {
  return (
    r._state === GET_INFO &&
    r._bufferedBytes === 0 &&
    r._fragmented === 0 &&
    !r._errored &&
    r._opcode !== OPCODE_CLOSE &&
    r.writableLength === 0 &&
    !r.destroyed &&
    !r.writableEnded
  );
}

/** Header bytes announced by the second byte (mask bit and length form). */
function headerSize(b1: number): number {
  const len7 = b1 & 0x7f;
  return (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
}

/** The payload length of the header at `at` (whole); beyond 2^53 - 1 it reads as Infinity. */
function payloadLength(h: Uint8Array, at: number): number {
  const len7 = (h[at + 1] as number) & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return ((h[at + 2] as number) << 8) | (h[at + 3] as number);
  const hi = (((h[at + 2] as number) << 24) | ((h[at + 3] as number) << 16) | ((h[at + 4] as number) << 8) | (h[at + 5] as number)) >>> 0;
  const lo = (((h[at + 6] as number) << 24) | ((h[at + 7] as number) << 16) | ((h[at + 8] as number) << 8) | (h[at + 9] as number)) >>> 0;
  if (hi > 0x1fffff) return Infinity;
  return hi * 0x1_0000_0000 + lo;
}
