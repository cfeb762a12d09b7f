/**
 * Reads the data messages of a Node WebSocket ahead of `ws`'s own
 * receiver, which spends about twice the CPU on a small message (its
 * parser's state machine and events) and five times on a 64 KiB one: it
 * copies the payload out of the socket's chunks, then unmasks it a byte at
 * a time unless the optional native `bufferutil` is installed, and a
 * server pauses and resumes its socket for every chunk larger than the
 * receiver's 16 KiB buffer. Here a payload that arrived in one chunk is a
 * view of it (as in `ws`), one that spans chunks is copied once, and both
 * are unmasked 32 bits at a time (frame-writer.ts's `maskInPlace`).
 *
 * It sits between the socket and `ws`'s receiver (in place of the
 * receiver's `write`, which `ws` calls with each chunk), follows the frame
 * headers, and takes out of the byte stream only what is unambiguous: one
 * whole unfragmented text or binary message (FIN set, no RSV bits, masked
 * exactly when this is the server, at most `maxPayload` bytes, text valid
 * UTF-8) starting while `ws`'s receiver waits at a frame boundary outside
 * a fragmented message. Every other byte (control frames, fragments,
 * oversized, wrongly masked or malformed frames, invalid text) goes to
 * `ws` unchanged and in order, so `ws` still enforces every rule and limit
 * and answers pings and closes; removing whole frames leaves it a valid
 * stream. Should `ws` hold unfinished work when a taken frame ends, the
 * frame is handed to it as received instead.
 *
 * Memory: a frame's bytes are kept as views of the chunks they came in
 * (in proportion to the bytes received, as `ws` keeps them; its
 * `maxBufferedChunks` applies: past it the frame is given to `ws`, which
 * refuses it) and joined once the frame is complete.
 */
import { isUtf8 } from "node:buffer";
import { maskInPlace } from "./frame-writer.js";

/** What is read from `ws`'s receiver (a `Writable`); checked once by {@link installFrameReader}. */
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
  _skipUTF8Validation?: boolean;
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
const TAKE = 2;
/** After a close frame: everything goes to `ws`, which ignores it. */
const DONE = 3;

/**
 * Put a {@link FrameReader} in front of the receiver of `ws` (a `ws`
 * WebSocket). Returns false, changing nothing, when the receiver is not
 * the one this was written against (then `ws` reads everything itself).
 */
export function installFrameReader(ws: unknown, deliver: (message: Buffer, isBinary: boolean) => void): boolean {
  const receiver = (ws as { _receiver?: Partial<WsReceiver> } | null)?._receiver;
  if (!receiver || !isKnownReceiver(receiver)) return false;
  const reader = new FrameReader(receiver, deliver);
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

export class FrameReader {
  readonly #receiver: WsReceiver;
  /** The receiver's own `write`. */
  readonly #write: (chunk: Buffer) => boolean;
  readonly #deliver: (message: Buffer, isBinary: boolean) => void;
  readonly #masked: boolean;
  readonly #checkUtf8: boolean;
  #mode = HEADER;
  readonly #header = Buffer.alloc(MAX_HEADER);
  #headerHave = 0;
  /** Payload bytes of the current frame still to come (PASS, TAKE). */
  #remaining = 0;
  // The frame being read here: its length, header size (the masking key ends it), kind and the views of its bytes so far.
  #length = 0;
  #headerSize = 0;
  #text = false;
  #pieces: Buffer[] = [];
  /** `ws`'s receiver was idle when last asked, and has been given nothing since (only writes change it). */
  #idle = false;

  constructor(receiver: WsReceiver, deliver: (message: Buffer, isBinary: boolean) => void) {
    this.#receiver = receiver;
    this.#write = receiver.write;
    this.#deliver = deliver;
    this.#masked = receiver._isServer;
    this.#checkUtf8 = receiver._skipUTF8Validation !== true;
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
      if (mode === TAKE) {
        const n = Math.min(this.#remaining, end - at);
        // A whole chunk is kept as it is (no view object of its own, as `ws` keeps it).
        this.#pieces.push(n === end && at === 0 ? chunk : chunk.subarray(at, at + n));
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
        if (this.#isIdle()) {
          if (h !== this.#header) this.#header.set(chunk.subarray(hAt, hAt + size), 0);
          this.#length = length;
          this.#headerSize = size;
          this.#text = b0 === 0x81;
          if (length <= end - at) {
            // The whole payload is in this chunk: the message is a view of it.
            const message = chunk.subarray(at, at + length);
            at += length;
            from = at;
            ok = this.#complete(message, message) && ok;
            continue;
          }
          this.#remaining = length;
          this.#mode = TAKE;
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

  /** Bytes for `ws`'s receiver, through its own `write`. */
  #pass(bytes: Buffer): boolean {
    this.#idle = false;
    return this.#write.call(this.#receiver, bytes);
  }

  #isIdle(): boolean {
    if (!this.#idle) this.#idle = idle(this.#receiver);
    return this.#idle;
  }

  /** Whether the frame that starts with b0, b1 and has `length` payload bytes may be read here (if `ws` is idle). */
  #candidate(b0: number, b1: number, length: number): boolean {
    const maxPayload = this.#receiver._maxPayload;
    return (b0 === 0x82 || b0 === 0x81) && (b1 & 0x80) === (this.#masked ? 0x80 : 0) && (maxPayload <= 0 || length <= maxPayload);
  }

  /** Past `ws`'s limit on buffered chunks, the frame goes to `ws` as received (it refuses it). */
  #checkPieces(): boolean {
    const limit = this.#receiver._maxBufferedChunks ?? 0;
    if (limit <= 0 || this.#pieces.length < limit) return true;
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#mode = PASS;
    return this.#handOver(pieces);
  }

  /** The frame read here, to `ws` as it arrived: its header, then its bytes so far. */
  #handOver(pieces: readonly Buffer[] | Buffer): boolean {
    let ok = this.#pass(Buffer.from(this.#header.subarray(0, this.#headerSize)));
    if (!Array.isArray(pieces)) return this.#pass(pieces as Buffer) && ok;
    for (const p of pieces as readonly Buffer[]) ok = this.#pass(p) && ok;
    return ok;
  }

  /** The frame's last byte has come: its bytes joined (a view when they came in one piece). */
  #finish(): boolean {
    const pieces = this.#pieces;
    this.#pieces = [];
    if (!this.#isIdle()) return this.#handOver(pieces);
    if (pieces.length === 1) return this.#complete(pieces[0] as Buffer, pieces);
    const message = Buffer.allocUnsafe(this.#length);
    let at = 0;
    for (const p of pieces) {
      message.set(p, at);
      at += p.length;
    }
    return this.#complete(message, pieces);
  }

  /**
   * Deliver `message`, unmasked; invalid UTF-8 in a text message is handed
   * to `ws` as received instead (it closes with 1007). `received` is the
   * frame's payload as it came (`message` itself when one view).
   */
  #complete(message: Buffer, received: readonly Buffer[] | Buffer): boolean {
    const h = this.#header;
    const k = this.#headerSize - 4;
    if (this.#masked) maskInPlace(message, 0, message.length, h[k] as number, h[k + 1] as number, h[k + 2] as number, h[k + 3] as number);
    if (this.#text && this.#checkUtf8 && !isUtf8(message)) {
      // Masking again restores a view's bytes; a joined copy left the pieces as they were.
      const view = received === message || (Array.isArray(received) && received[0] === message);
      if (this.#masked && view) maskInPlace(message, 0, message.length, h[k] as number, h[k + 1] as number, h[k + 2] as number, h[k + 3] as number);
      return this.#handOver(received);
    }
    this.#deliver(message, !this.#text);
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
