/**
 * Writes the data messages of a Node WebSocket as RFC 6455 frames straight
 * to the socket `ws` runs over, coalescing the messages sent in one tick
 * into one write. The bytes are those `ws`'s own Sender writes (one final
 * frame per message, no extensions, a fresh random masking key per frame
 * from the client), so peers see no difference; what changes is the work:
 *
 * - `ws` sends each message on its own (two buffers, two option objects
 *   and a stream entry per message, a syscall each unless corked); here a
 *   tick's small messages are copied with their headers into one buffer;
 * - a client masks with a byte loop in `ws` unless the optional native
 *   `bufferutil` is installed (about 0.1 ms for 64 KiB); here the payload
 *   is copied and masked 32 bits at a time;
 * - a server's large payloads are written as they are, never copied, and
 *   so are the large parts of a message given as parts (`sendParts`, a
 *   serializer's scatter/gather): still one frame, its length the parts'
 *   total, so the wire is the same as for the joined bytes.
 *
 * A tick's messages are written once they reach {@link FLUSH_COUNT} or
 * {@link FLUSH_BYTES} rather than all at the tick's end, so the peer can
 * start on the first ones while the rest are encoded: both ends then work
 * at once instead of in turn.
 *
 * Control frames (ping, pong, close) stay `ws`'s: RFC 6455 lets them fall
 * between any two frames. Only valid while `ws` sends nothing itself
 * between our frames, which holds with permessage-deflate off (the
 * transport never negotiates it) and no Blob sends.
 */
import { randomFillSync } from "node:crypto";
import { endianness } from "node:os";

/** What the writer needs from the socket under `ws` (a net.Socket or tls.TLSSocket). */
export interface RawSocket {
  write(chunk: Uint8Array, cb?: (err?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
}

/** Messages queued in one tick that are written at once. */
export const FLUSH_COUNT = 32;
/** Bytes queued in one tick that are written at once (a 64 KiB message goes out by itself). */
export const FLUSH_BYTES = 64 * 1024;
/** A server copies payloads up to this size next to their headers; bigger ones are written as they are. */
const COPY_LIMIT = 16 * 1024;
/** Below this the 32-bit masking loop costs more than it saves. */
const WORD_MASK_MIN = 64;
const LITTLE_ENDIAN = endianness() === "LE";

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const FIN = 0x80;

/** Masking keys are drawn from a pool refilled from the CSPRNG, as `ws` does (four bytes a frame). */
const POOL_SIZE = 8 * 1024;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolAt = POOL_SIZE;

/** Header bytes of a frame with `length` payload bytes. */
function headerSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** One message: its bytes, or its parts (scatter/gather) whose concatenation they are. */
type Message = Uint8Array | readonly Uint8Array[];

function messageLength(m: Message): number {
  if (m instanceof Uint8Array) return m.byteLength;
  let length = 0;
  for (const p of m) length += p.byteLength;
  return length;
}

export class FrameWriter {
  readonly #socket: RawSocket;
  readonly #masked: boolean;
  readonly #written: () => void;
  readonly #open: () => boolean;
  #frames: Message[] = [];
  #opcodes: number[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #tick = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /**
   * `masked`: the client side (RFC 6455 masks client-to-server frames).
   * `written` runs once each write has been handed to the operating system.
   * `open` says whether data may still go out: once `ws` has begun the
   * closing handshake (a close frame either way), what is queued is dropped.
   */
  constructor(socket: RawSocket, masked: boolean, written: () => void, open: () => boolean) {
    this.#socket = socket;
    this.#masked = masked;
    this.#written = written;
    this.#open = open;
  }

  /** Bytes queued here that the socket has not been given yet. */
  get pending(): number {
    return this.#bytes;
  }

  /** Queue one message; the caller must not change `data` until the tick ends. */
  send(data: Uint8Array, text: boolean): void {
    this.#queue(data, data.byteLength, text);
  }

  /**
   * Queue one message given as parts: still one frame, its payload the
   * parts one after another (a server writes a large part as it is, no
   * copy; a client copies it once, masking it). Same ownership as `send`.
   */
  sendParts(parts: readonly Uint8Array[], text: boolean): void {
    this.#queue(parts, messageLength(parts), text);
  }

  #queue(m: Message, length: number, text: boolean): void {
    this.#frames.push(m);
    this.#opcodes.push(text ? OPCODE_TEXT : OPCODE_BINARY);
    this.#bytes += length + 14;
    if (this.#bytes >= FLUSH_BYTES || this.#frames.length >= FLUSH_COUNT) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#tick);
    }
  }

  /** Drop what is queued (the connection is gone). */
  discard(): void {
    this.#frames = [];
    this.#opcodes = [];
    this.#bytes = 0;
  }

  /** Write everything queued now. */
  flush(): void {
    const frames = this.#frames;
    const n = frames.length;
    if (n === 0) return;
    const opcodes = this.#opcodes;
    this.#frames = [];
    this.#opcodes = [];
    this.#bytes = 0;
    if (!this.#open()) return;
    const masked = this.#masked;
    let size = 0;
    for (let i = 0; i < n; i++) {
      const m = frames[i] as Message;
      const length = messageLength(m);
      size += headerSize(length, masked);
      if (masked) size += length;
      else if (m instanceof Uint8Array) size += length <= COPY_LIMIT ? length : 0;
      else for (const p of m) size += p.byteLength <= COPY_LIMIT ? p.byteLength : 0;
    }
    const out: Out = { slab: Buffer.allocUnsafe(size), pos: 0, start: 0, parts: undefined };
    for (let i = 0; i < n; i++) {
      const m = frames[i] as Message;
      const length = messageLength(m);
      const slab = out.slab;
      let pos = out.pos;
      slab[pos++] = FIN | (opcodes[i] as number);
      const maskBit = masked ? 0x80 : 0;
      if (length < 126) slab[pos++] = maskBit | length;
      else if (length < 0x10000) {
        slab[pos++] = maskBit | 126;
        slab[pos++] = length >>> 8;
        slab[pos++] = length & 0xff;
      } else {
        slab[pos++] = maskBit | 127;
        slab.writeUInt32BE(Math.floor(length / 0x1_0000_0000), pos);
        slab.writeUInt32BE(length >>> 0, pos + 4);
        pos += 8;
      }
      if (masked) {
        if (poolAt === POOL_SIZE) {
          randomFillSync(pool);
          poolAt = 0;
        }
        const k0 = pool[poolAt++] as number;
        const k1 = pool[poolAt++] as number;
        const k2 = pool[poolAt++] as number;
        const k3 = pool[poolAt++] as number;
        slab[pos++] = k0;
        slab[pos++] = k1;
        slab[pos++] = k2;
        slab[pos++] = k3;
        // The payload is copied whole (parts one after another), then masked in one pass.
        if (m instanceof Uint8Array) slab.set(m, pos);
        else {
          let at = pos;
          for (const p of m) {
            slab.set(p, at);
            at += p.byteLength;
          }
        }
        maskInPlace(slab, pos, length, k0, k1, k2, k3);
        out.pos = pos + length;
        continue;
      }
      out.pos = pos;
      if (m instanceof Uint8Array) place(out, m);
      else for (const p of m) place(out, p);
    }
    const socket = this.#socket;
    const parts = out.parts;
    if (!parts) {
      socket.write(out.slab, this.#written);
      return;
    }
    if (out.pos > out.start) parts.push(out.slab.subarray(out.start, out.pos));
    socket.cork();
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) socket.write(parts[i] as Uint8Array);
    socket.write(parts[last] as Uint8Array, this.#written);
    socket.uncork();
  }
}

/** A flush in progress: the slab, where it is filled to, and the buffers to write when some are not copied. */
type Out = { slab: Buffer; pos: number; start: number; parts: Uint8Array[] | undefined };

/** Unmasked payload bytes: small ones into the slab, a large one written as it is after the slab so far. */
function place(out: Out, p: Uint8Array): void {
  if (p.byteLength <= COPY_LIMIT) {
    out.slab.set(p, out.pos);
    out.pos += p.byteLength;
    return;
  }
  const parts = (out.parts ??= []);
  if (out.pos > out.start) parts.push(out.slab.subarray(out.start, out.pos));
  parts.push(p);
  out.start = out.pos;
}

/** XOR `length` bytes of `buf` from `at` with the key k0..k3 (RFC 6455 section 5.3). */
export function maskInPlace(buf: Uint8Array, at: number, length: number, k0: number, k1: number, k2: number, k3: number): void {
  const end = at + length;
  let p = at;
  if (LITTLE_ENDIAN && length >= WORD_MASK_MIN) {
    // Bytes up to a 4-byte boundary of the underlying memory, then words.
    while (((buf.byteOffset + p) & 3) !== 0) {
      buf[p] = (buf[p] as number) ^ key(p - at, k0, k1, k2, k3);
      p++;
    }
    const o = p - at;
    const word =
      (key(o, k0, k1, k2, k3) | (key(o + 1, k0, k1, k2, k3) << 8) | (key(o + 2, k0, k1, k2, k3) << 16) | (key(o + 3, k0, k1, k2, k3) << 24)) >>> 0;
    const words = (end - p) >>> 2;
    const w = new Uint32Array(buf.buffer, buf.byteOffset + p, words);
    for (let i = 0; i < words; i++) w[i] = (w[i] as number) ^ word;
    p += words * 4;
  }
  for (; p < end; p++) buf[p] = (buf[p] as number) ^ key(p - at, k0, k1, k2, k3);
}

function key(i: number, k0: number, k1: number, k2: number, k3: number): number {
  switch (i & 3) {
    case 0:
      return k0;
    case 1:
      return k1;
    case 2:
      return k2;
    default:
      return k3;
  }
}
