/**
 * The {@link Connection} over one open WebSocket, shared by the Node server,
 * the Node client and the browser client. One message is one frame.
 *
 * Before `open()` (while the HMAC challenge runs, and between the challenge
 * and the core taking over) messages are queued and the socket is paused
 * after each one, so an unauthenticated peer cannot make us buffer more than
 * one message it sent ahead.
 */
import { RpcError, type Connection, type ConnectionSink } from "../../src/index.js";
import { closeErrorFor, closeFrameFor } from "./close-codes.js";
import type { WsSocket, WsSocketEvents } from "./ws-socket.js";

/** Bytes queued for sending before `send()` returns false (default). */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

export interface WsConnectionInfo {
  /** "ws" or "wss". */
  transport: string;
  remoteAddress: string | undefined;
  /** Outgoing bytes above which `send()` returns false; drain fires at half. */
  highWaterMark?: number;
  /**
   * Client without an authkey: a first message that is an HMAC challenge
   * closes the connection with AUTH_FAILED instead of reaching the core as
   * an unreadable hello. Receives the message, returns true when it is one.
   */
  isChallenge?: (first: Uint8Array) => boolean;
}

type Waiter = { resolve: (m: Uint8Array) => void; reject: (e: unknown) => void; maxLength: number };

export class WsConnection implements Connection, WsSocketEvents {
  readonly transport: string;
  readonly remoteAddress: string | undefined;
  readonly #socket: WsSocket;
  readonly #hwm: number;
  #isChallenge: ((first: Uint8Array) => boolean) | undefined;
  #sink: ConnectionSink | undefined;
  #queue: Uint8Array[] = [];
  #head = 0;
  #waiter: Waiter | undefined;
  /** The core asked us to stop reading. */
  #paused = false;
  /** What the socket was last told. */
  #socketPaused = false;
  #blocked = false;
  #closed = false;
  #closeErr: Error | undefined;
  #sinkClosed = false;
  #flushScheduled = false;

  constructor(socket: WsSocket, info: WsConnectionInfo) {
    this.transport = info.transport;
    this.remoteAddress = info.remoteAddress;
    this.#hwm = info.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#isChallenge = info.isChallenge;
    this.#socket = socket;
    socket.attach(this);
  }

  // ---- Connection ------------------------------------------------------

  open(sink: ConnectionSink): void {
    if (this.#sink) throw new Error("open() called twice");
    this.#sink = sink;
    this.#scheduleFlush();
  }

  send(frame: Uint8Array, text = false): boolean {
    if (this.#closed) return false;
    this.#socket.send(frame, text);
    if (this.#blocked) return false;
    if (this.#socket.bufferedAmount > this.#hwm) {
      this.#blocked = true;
      this.#socket.watchDrain();
      return false;
    }
    return true;
  }

  pause(): void {
    this.#paused = true;
    this.#updateReading();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#head < this.#queue.length || (this.#closed && !this.#sinkClosed)) this.#scheduleFlush();
    this.#updateReading();
  }

  close(err?: Error): void {
    if (this.#closed) return;
    const frame = closeFrameFor(err);
    this.#socket.close(frame.code, frame.reason);
    // Nothing more is delivered after a local close, so the core's view is final now.
    this.#queue = [];
    this.#head = 0;
    this.#finish(err);
  }

  // ---- handshake -------------------------------------------------------

  /**
   * The next message, for the HMAC challenge before `open()`. Rejects with
   * PAYLOAD_TOO_LARGE for a message longer than `maxLength`, and with the
   * close reason when the connection closes first.
   */
  nextMessage(maxLength: number): Promise<Uint8Array> {
    if (this.#sink || this.#waiter) return Promise.reject(new RpcError("INTERNAL_ERROR", "nextMessage() after open() or while another read waits"));
    if (this.#head < this.#queue.length) {
      const m = this.#shift();
      return m.byteLength > maxLength ? Promise.reject(tooLong(m, maxLength)) : Promise.resolve(m);
    }
    if (this.#closed) return Promise.reject(this.#closeErr ?? new RpcError("CONNECTION_CLOSED", "the peer closed the connection"));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject, maxLength };
      this.#updateReading();
    });
  }

  // ---- WsSocketEvents --------------------------------------------------

  message(data: Uint8Array): void {
    if (this.#closed) return;
    if (this.#isChallenge) {
      const isChallenge = this.#isChallenge(data);
      this.#isChallenge = undefined;
      if (isChallenge) {
        this.close(new RpcError("AUTH_FAILED", "the server requires an authkey (it sent an HMAC challenge); pass the authkey option"));
        return;
      }
    }
    const sink = this.#sink;
    if (sink) {
      // Hot path: deliver straight through unless frames are already waiting.
      if (!this.#paused && this.#head === this.#queue.length) sink.frame(data);
      else this.#queue.push(data);
      return;
    }
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      if (data.byteLength > waiter.maxLength) waiter.reject(tooLong(data, waiter.maxLength));
      else waiter.resolve(data);
    } else {
      this.#queue.push(data);
    }
    this.#updateReading();
  }

  writable(): void {
    if (!this.#blocked || this.#closed) return;
    if (this.#socket.bufferedAmount > this.#hwm / 2) return;
    this.#blocked = false;
    this.#socket.unwatchDrain();
    this.#sink?.drain();
  }

  closed(code: number, reason: string, err: Error | undefined): void {
    if (this.#closed) return;
    this.#finish(err ?? closeErrorFor(code, reason));
  }

  // ---- internals -------------------------------------------------------

  #finish(err: Error | undefined): void {
    this.#closed = true;
    this.#closeErr = err;
    if (this.#blocked) this.#socket.unwatchDrain();
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.reject(err ?? new RpcError("CONNECTION_CLOSED", "the peer closed the connection"));
    }
    this.#scheduleFlush();
  }

  #shift(): Uint8Array {
    const m = this.#queue[this.#head] as Uint8Array;
    this.#queue[this.#head++] = undefined as unknown as Uint8Array;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
    return m;
  }

  /** Frames held while paused or before open go out on a microtask, never re-entrantly. */
  #scheduleFlush(): void {
    if (this.#flushScheduled || !this.#sink) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const sink = this.#sink;
    if (!sink || this.#sinkClosed) return;
    while (!this.#paused && this.#head < this.#queue.length) sink.frame(this.#shift());
    // A close the peer made waits behind the frames it sent first.
    if (this.#closed && this.#head === this.#queue.length) {
      this.#sinkClosed = true;
      sink.close(this.#closeErr);
      return;
    }
    this.#updateReading();
  }

  #updateReading(): void {
    // Before open, read only while the challenge waits or nothing is queued;
    // after open, whenever the core wants frames and none are held back.
    // A closed connection keeps reading so that `ws` sees the peer's close frame.
    const want = this.#closed
      ? true
      : this.#sink
        ? !this.#paused && this.#head === this.#queue.length
        : this.#waiter !== undefined || this.#head === this.#queue.length;
    if (want === !this.#socketPaused) return;
    this.#socketPaused = !want;
    if (want) this.#socket.resume();
    else this.#socket.pause();
  }
}

function tooLong(m: Uint8Array, max: number): RpcError {
  return new RpcError("PAYLOAD_TOO_LARGE", `handshake message of ${m.byteLength} bytes exceeds ${max}`);
}
