/**
 * The incremental Pyro4 message decoder: feed it the bytes of a stream as
 * they arrive, take whole messages out. It knows nothing of sockets.
 *
 * Cost is bounded by what is present: the declared body size is checked
 * against `maxMessageSize` as soon as the header is in (before any body
 * byte is buffered), annotation chunk lengths are checked against the bytes
 * of the annotation area, the chunk count against `maxAnnotations`, and the
 * HMAC is verified before a message is handed out. After an error the
 * decoder is spent: the stream cannot be resynchronised, close the
 * connection.
 */
import { ErrorCodes, RpcError } from "../../src/errors.js";
import { pyro4Limits, type Pyro4Limits } from "./limits.js";
import { HEADER_SIZE, decodeHeader, verifyHmac, type HmacKey, type PyroHeader, type PyroMessage } from "./message.js";

export interface MessageDecoderOptions {
  /** The HMAC key both sides share (Python's `_pyroHmacKey`); without one, a message carrying an HMAC is refused. */
  hmacKey?: HmacKey;
  /** Only `maxMessageSize` and `maxAnnotations` apply here. */
  limits?: Partial<Pyro4Limits>;
}

/** An error from a message whose header was valid: a front-end can still answer it (`seq`, `serializerId`). */
export class Pyro4MessageError extends RpcError {
  constructor(
    code: string,
    message: string,
    /** The header of the offending message. */
    readonly header: PyroHeader,
  ) {
    super(code, message);
  }
}

export class MessageDecoder {
  readonly #key: HmacKey | undefined;
  readonly #maxMessageSize: number;
  readonly #maxAnnotations: number;
  #chunks: Uint8Array[] = [];
  /** Index of the first unconsumed chunk (shifting the array would cost O(chunks) per message). */
  #head = 0;
  #scratch: Uint8Array | undefined;
  #scratchStart = 0;
  #scratchLen = 0;
  #buffered = 0;
  #header: PyroHeader | undefined;
  #failed: RpcError | undefined;

  constructor(options: MessageDecoderOptions = {}) {
    this.#key = options.hmacKey;
    const lim = pyro4Limits(options.limits);
    this.#maxMessageSize = lim.maxMessageSize;
    this.#maxAnnotations = lim.maxAnnotations;
  }

  /** Bytes held that are not yet part of a returned message. */
  get buffered(): number {
    return this.#buffered;
  }

  /** The header of the message being received, once its 24 bytes are in. */
  get pendingHeader(): PyroHeader | undefined {
    return this.#header;
  }

  /**
   * Add bytes; return every message now complete, in order. Throws an
   * `RpcError` (`PROTOCOL_ERROR`, `PAYLOAD_TOO_LARGE`, `AUTH_FAILED`) for a
   * bad message, and again on every later call.
   */
  push(chunk: Uint8Array): PyroMessage[] {
    if (this.#failed) throw this.#failed;
    if (chunk.length > 0) {
      this.#append(chunk);
      this.#buffered += chunk.length;
    }
    const out: PyroMessage[] = [];
    try {
      for (;;) {
        if (!this.#header) {
          if (this.#buffered < HEADER_SIZE) break;
          this.#header = this.#checkSizes(decodeHeader(this.#peek(HEADER_SIZE)));
        }
        const h = this.#header;
        const total = HEADER_SIZE + h.annotationsSize + h.dataSize;
        if (this.#buffered < total) break;
        const bytes = this.#take(total);
        this.#header = undefined;
        out.push(this.#message(h, bytes));
      }
    } catch (err) {
      this.#failed = err instanceof RpcError ? err : new RpcError(ErrorCodes.PROTOCOL_ERROR, `Pyro4: ${String(err)}`, { cause: err });
      this.#chunks = [];
      this.#head = 0;
      this.#scratch = undefined;
      this.#buffered = 0;
      throw this.#failed;
    }
    return out;
  }

  #checkSizes(h: PyroHeader): PyroHeader {
    const size = h.dataSize + h.annotationsSize;
    if (size > this.#maxMessageSize) {
      throw new Pyro4MessageError(ErrorCodes.PAYLOAD_TOO_LARGE, `Pyro4: message of ${size} bytes exceeds the limit of ${this.#maxMessageSize} (limits.maxMessageSize)`, h);
    }
    return h;
  }

  #message(h: PyroHeader, bytes: Uint8Array): PyroMessage {
    const annotations = new Map<string, Uint8Array>();
    const end = HEADER_SIZE + h.annotationsSize;
    let at = HEADER_SIZE;
    while (at < end) {
      if (end - at < 6) throw new Pyro4MessageError(ErrorCodes.PROTOCOL_ERROR, "Pyro4: truncated annotation chunk header", h);
      if (annotations.size >= this.#maxAnnotations) {
        throw new Pyro4MessageError(ErrorCodes.PROTOCOL_ERROR, `Pyro4: more than ${this.#maxAnnotations} annotations (limits.maxAnnotations)`, h);
      }
      let key = "";
      for (let i = 0; i < 4; i++) {
        const c = bytes[at + i] as number;
        if (c < 0x20 || c > 0x7e) throw new Pyro4MessageError(ErrorCodes.PROTOCOL_ERROR, "Pyro4: annotation key is not 4 printable ASCII characters", h);
        key += String.fromCharCode(c);
      }
      const len = ((bytes[at + 4] as number) << 8) | (bytes[at + 5] as number);
      if (len > end - at - 6) throw new Pyro4MessageError(ErrorCodes.PROTOCOL_ERROR, `Pyro4: annotation ${key} declares ${len} bytes, only ${end - at - 6} present`, h);
      if (annotations.has(key)) throw new Pyro4MessageError(ErrorCodes.PROTOCOL_ERROR, `Pyro4: annotation ${key} appears twice`, h);
      annotations.set(key, bytes.subarray(at + 6, at + 6 + len));
      at += 6 + len;
    }
    const data = bytes.subarray(end);
    try {
      verifyHmac(this.#key, data, annotations);
    } catch (err) {
      throw new Pyro4MessageError((err as RpcError).code, (err as RpcError).message, h);
    }
    annotations.delete("HMAC");
    return { type: h.type, flags: h.flags, seq: h.seq, serializerId: h.serializerId, annotations, data };
  }

  /**
   * Small chunks (a peer trickling bytes) are copied into a shared scratch
   * buffer so that each costs its bytes, not an object per read.
   */
  #append(chunk: Uint8Array): void {
    if (chunk.length >= SMALL_CHUNK) {
      this.#flushScratch();
      this.#chunks.push(chunk);
      return;
    }
    if (!this.#scratch || this.#scratchLen + chunk.length > this.#scratch.length) {
      this.#flushScratch();
      this.#scratch = new Uint8Array(SCRATCH_SIZE);
      this.#scratchStart = this.#scratchLen = 0;
    }
    this.#scratch.set(chunk, this.#scratchLen);
    this.#scratchLen += chunk.length;
  }

  #flushScratch(): void {
    if (this.#scratch && this.#scratchLen > this.#scratchStart) {
      this.#chunks.push(this.#scratch.subarray(this.#scratchStart, this.#scratchLen));
      this.#scratchStart = this.#scratchLen;
    }
    if (this.#scratch && this.#scratchLen === this.#scratch.length) this.#scratch = undefined;
    if (!this.#scratch) this.#scratchLen = this.#scratchStart = 0;
  }

  /** The first `n` buffered bytes (n <= buffered), without consuming them. */
  #peek(n: number): Uint8Array {
    this.#flushScratch();
    const first = this.#chunks[this.#head] as Uint8Array;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (let i = this.#head; at < n; i++) {
      const c = this.#chunks[i] as Uint8Array;
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
    }
    return out;
  }

  /** Consume the first `n` buffered bytes (n <= buffered): a view when they sit in one chunk, else one copy. */
  #take(n: number): Uint8Array {
    this.#flushScratch();
    const first = this.#chunks[this.#head] as Uint8Array;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      this.#consume(first, n);
    } else {
      out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const c = this.#chunks[this.#head] as Uint8Array;
        const k = Math.min(c.length, n - at);
        out.set(c.subarray(0, k), at);
        at += k;
        this.#consume(c, k);
      }
    }
    this.#buffered -= n;
    return out;
  }

  #consume(c: Uint8Array, k: number): void {
    if (k < c.length) {
      this.#chunks[this.#head] = c.subarray(k);
      return;
    }
    this.#chunks[this.#head++] = EMPTY;
    // Drop consumed slots now and then, so the array does not grow with the stream.
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
/** Chunks shorter than this are copied into the scratch buffer. */
const SMALL_CHUNK = 1024;
const SCRATCH_SIZE = 16 * 1024;
