/**
 * One end of an in-process connection pair: the in-process side of
 * {@link ConnectionBase}. Frames cross by reference on a microtask (never
 * re-entrantly inside `send`), in order, and wait in the receiver's inbox
 * while it is paused, with a high-water mark like a socket's, so the core's
 * backpressure is exercised.
 */
import { ConnectionBase } from "../../src/transport-sdk.js";
import { RpcError } from "../../src/transport-sdk.js";

/** Bytes queued towards a peer before `send` returns false; drain comes at half. */
const HIGH_WATER_MARK = 1024 * 1024;

// An open socket keeps Node's event loop alive; an open memory connection
// does the same through one shared timer, so a caller awaiting a reply is
// not cut off by the process exiting, exactly as with a real transport.
let openCount = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;
function retain(): void {
  if (openCount++ === 0) keepAlive = setInterval(() => {}, 1 << 30);
}
function release(): void {
  if (--openCount === 0 && keepAlive !== undefined) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

export class MemoryConnection extends ConnectionBase {
  readonly transport = "mem";
  readonly remoteAddress: string;
  peer!: MemoryConnection;
  readonly #maxFrameSize: number;
  /** Frames the peer sent, not yet delivered. */
  #inbox: Uint8Array[] = [];
  #head = 0;
  #inboxBytes = 0;
  #scheduled = false;
  /** The peer closed: this end ends once the inbox is delivered. */
  #peerGone: { err: Error | undefined } | undefined;
  #retained = true;
  readonly #pumpTask = (): void => {
    this.#scheduled = false;
    this.#pump();
  };

  constructor(remoteAddress: string, maxFrameSize: number) {
    super();
    this.remoteAddress = remoteAddress;
    this.#maxFrameSize = maxFrameSize;
    retain();
  }

  // ---- ConnectionBase ----------------------------------------------------

  protected write(frame: Uint8Array): boolean {
    return this.peer.#enqueue(frame);
  }

  protected pauseReading(): void {
    // Nothing to stop: undelivered frames simply stay in the inbox.
  }

  protected resumeReading(): void {
    this.#pump();
  }

  protected closeTransport(err: Error | undefined): void {
    this.#inbox = [];
    this.#head = 0;
    this.#inboxBytes = 0;
    this.peer.#peerClosed(err);
    this.#release();
  }

  // ---- internals ---------------------------------------------------------

  #enqueue(frame: Uint8Array): boolean {
    if (!this.live || this.#peerGone) return false;
    if (frame.byteLength > this.#maxFrameSize) {
      this.close(new RpcError("PAYLOAD_TOO_LARGE", `frame of ${frame.byteLength} bytes exceeds maxFrameSize ${this.#maxFrameSize}`));
      return false;
    }
    this.#inbox.push(frame);
    this.#inboxBytes += frame.byteLength;
    this.#schedule();
    return this.#inboxBytes <= HIGH_WATER_MARK;
  }

  #peerClosed(err: Error | undefined): void {
    if (!this.live || this.#peerGone) return;
    this.#peerGone = { err: err ? new RpcError("CONNECTION_CLOSED", "the peer closed the connection", { cause: err }) : undefined };
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#pumpTask);
  }

  #pump(): void {
    while (this.flowing && this.#head < this.#inbox.length) {
      const frame = this.#inbox[this.#head] as Uint8Array;
      this.#inbox[this.#head++] = undefined as unknown as Uint8Array;
      this.#inboxBytes -= frame.byteLength;
      this.deliver(frame);
    }
    if (this.#head > 0 && this.#head === this.#inbox.length) {
      this.#inbox = [];
      this.#head = 0;
    }
    if (this.#inboxBytes <= HIGH_WATER_MARK / 2) this.peer.drained();
    if (this.#peerGone && this.#head === this.#inbox.length && this.live) {
      this.ended(this.#peerGone.err);
      this.#release();
    }
  }

  #release(): void {
    if (!this.#retained) return;
    this.#retained = false;
    release();
  }
}
