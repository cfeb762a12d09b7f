/**
 * Watches the raw bytes of a server-side WebSocket as they arrive, before
 * `ws` buffers them, and follows the RFC 6455 frame headers only (payloads
 * are skipped by arithmetic, never copied). It knows how many bytes of an
 * unfinished message the server holds, so that
 *
 * - the messages the HMAC challenge reads (the first few of a connection)
 *   are refused at their header when announced longer than the challenge
 *   needs, as TCP refuses a long length prefix (`ws` alone only knows one
 *   `maxPayload` per server). Counting messages rather than waiting for
 *   the challenge's verdict lets a client send its hello and first call
 *   right behind its last handshake message, as on TCP;
 * - the server's budget for unfinished frames ({@link ReadAccount}) covers
 *   WebSocket messages as it covers TCP frames.
 *
 * `ws` still parses and validates every frame: a malformed one here is left
 * for it to reject, the meter only stops counting.
 */
import { RpcError } from "../../src/transport-sdk.js";
import type { ReadAccount } from "../read-budget.js";

const MAX_HEADER = 14;

export class MessageMeter {
  /** Largest size of the first `capped` messages, bytes. */
  readonly #limit: number;
  /** Messages of the connection, from its first, that `#limit` applies to. */
  readonly #capped: number;
  /** Data messages begun so far. */
  #messages = 0;
  readonly #account: ReadAccount;
  readonly #header = new Uint8Array(MAX_HEADER);
  #headerHave = 0;
  /** Header bytes needed: 2 until the second byte tells the rest. */
  #headerNeed = 2;
  /** Payload bytes of the current frame still to come; -1 while reading a header. */
  #remaining = -1;
  #control = false;
  #fin = false;
  /** A data message has begun and its final frame has not ended. */
  #inMessage = false;
  /** Payload bytes of the current message so far (what `ws` will assemble). */
  #messageBytes = 0;
  /** Bytes received since the last message (or lone control frame) ended. */
  #held = 0;
  /** A message ended in the chunk being fed. */
  #finished = false;
  /** Headers stopped making sense: `ws` closes such a connection; stop counting. */
  #lost = false;

  /** The first `capped` messages may hold at most `limit` bytes each (0 messages: no cap but `ws`'s own). */
  constructor(account: ReadAccount, limit = Infinity, capped = 0) {
    this.#account = account;
    this.#limit = limit;
    this.#capped = capped;
  }

  /** Follow one chunk. Returns the error to close the connection with, or undefined. */
  feed(chunk: Uint8Array): RpcError | undefined {
    if (this.#lost) return undefined;
    const n = chunk.length;
    let p = 0;
    let held = this.#held;
    this.#finished = false;
    while (p < n) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, n - p);
        this.#remaining -= take;
        p += take;
        held += take;
        if (this.#remaining === 0) held = this.#frameEnd(held);
        continue;
      }
      let err: RpcError | undefined;
      if (this.#headerHave === 0 && n - p >= MAX_HEADER) {
        // The usual case: the whole header is in this chunk; read it in place.
        const b1 = chunk[p + 1] as number;
        const len7 = b1 & 0x7f;
        const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
        err = this.#frameStart(chunk, p);
        p += size;
        held += size;
      } else {
        // Header bytes split across chunks: gather them first.
        const h = this.#header;
        h[this.#headerHave++] = chunk[p++] as number;
        held++;
        if (this.#headerHave === 2) {
          const len7 = (h[1] as number) & 0x7f;
          this.#headerNeed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((h[1] as number) & 0x80 ? 4 : 0);
        }
        if (this.#headerHave < this.#headerNeed) continue;
        this.#headerHave = 0;
        this.#headerNeed = 2;
        err = this.#frameStart(h, 0);
      }
      if (err) return err;
      if (this.#lost) return undefined;
      if (this.#remaining === 0) held = this.#frameEnd(held);
    }
    this.#held = held;
    const a = this.#account;
    // A message that ended in this chunk takes its clock with it; the next one starts afresh.
    if (this.#finished ? !a.restart(held) : held !== a.held && !a.hold(held)) {
      this.#lost = true;
      return new RpcError(
        "PAYLOAD_TOO_LARGE",
        `the server holds too many unfinished messages to take ${held} more bytes of this one (maxBufferedBytes ${a.limits.maxBufferedBytes}); send smaller messages or retry later`,
      );
    }
    return undefined;
  }

  /** A whole header is at `h[o]`: read the frame's kind and length. */
  #frameStart(h: Uint8Array, o: number): RpcError | undefined {
    const b0 = h[o] as number;
    const len7 = (h[o + 1] as number) & 0x7f;
    let length: number;
    if (len7 === 126) length = ((h[o + 2] as number) << 8) | (h[o + 3] as number);
    else if (len7 === 127) {
      const high = (((h[o + 2] as number) << 24) | ((h[o + 3] as number) << 16) | ((h[o + 4] as number) << 8) | (h[o + 5] as number)) >>> 0;
      const low = (((h[o + 6] as number) << 24) | ((h[o + 7] as number) << 16) | ((h[o + 8] as number) << 8) | (h[o + 9] as number)) >>> 0;
      // Above 2^53 the value is not exact, but it is far above any limit anyway.
      length = high * 2 ** 32 + low;
    } else length = len7;
    const opcode = b0 & 0x0f;
    this.#fin = (b0 & 0x80) !== 0;
    this.#control = opcode >= 8;
    if (!this.#control) {
      if (opcode !== 0) {
        // A new message (a continuation frame without one is ws's to reject).
        this.#inMessage = true;
        this.#messageBytes = 0;
        this.#messages++;
      }
      this.#messageBytes += length;
      if (this.#messageBytes > this.#limit && this.#messages <= this.#capped) {
        this.#lost = true;
        return new RpcError(
          "PAYLOAD_TOO_LARGE",
          `message ${this.#messages} of ${this.#messageBytes} bytes or more, where the authentication's messages are at most ${this.#limit} bytes`,
        );
      }
    } else if (length > 125) {
      // Control frames are at most 125 bytes: ws refuses this one.
      this.#lost = true;
    }
    this.#remaining = length;
    return undefined;
  }

  /** A frame's payload is all in: a message (or a control frame between messages) is no longer held. */
  #frameEnd(held: number): number {
    this.#remaining = -1;
    if (this.#control) return this.#inMessage ? held : 0;
    if (!this.#fin) return held;
    this.#finished = true;
    this.#inMessage = false;
    this.#messageBytes = 0;
    return 0;
  }
}
