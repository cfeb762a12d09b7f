/**
 * One end of an in-process connection pair. Frames cross by reference on a
 * microtask (never re-entrantly inside `send`), in order, with the same
 * pause/drain semantics as a socket so the core's backpressure is exercised.
 */
import { RpcError, type Connection, type ConnectionSink } from "../../src/index.js";

/** Bytes queued towards a peer before `send` returns false. */
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

export class MemoryConnection implements Connection {
  readonly transport = "mem";
  readonly remoteAddress: string;
  peer!: MemoryConnection;
  readonly #maxFrameSize: number;
  #sink: ConnectionSink | undefined;
  #inbox: Uint8Array[] = [];
  #head = 0;
  #inboxBytes = 0;
  #paused = false;
  #scheduled = false;
  #closed = false;
  /** Set when this end has been closed: its sink gets `close` once the inbox is delivered. */
  #pendingClose: { err: Error | undefined } | undefined;
  #senderBlocked = false;

  constructor(remoteAddress: string, maxFrameSize: number) {
    this.remoteAddress = remoteAddress;
    this.#maxFrameSize = maxFrameSize;
    retain();
  }

  open(sink: ConnectionSink): void {
    if (this.#sink) throw new Error("open() called twice");
    this.#sink = sink;
    this.#schedule();
  }

  send(frame: Uint8Array): boolean {
    if (this.#closed || this.#pendingClose) return false;
    return this.peer.#enqueue(frame);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#schedule();
  }

  close(err?: Error): void {
    if (this.#closed || this.#pendingClose) return;
    this.peer.#peerClosed(err);
    if (!this.#sink) {
      this.#closed = true;
      release();
      return;
    }
    // Frames already sent still reach the peer, then the peer sees the close.
    this.#pendingClose = { err };
    this.#inbox = [];
    this.#head = 0;
    this.#inboxBytes = 0;
    this.#schedule();
  }

  #peerClosed(err: Error | undefined): void {
    if (this.#closed || this.#pendingClose) return;
    this.#pendingClose = { err: err ? new RpcError("CONNECTION_CLOSED", "the peer closed the connection", { cause: err }) : undefined };
    this.#schedule();
  }

  #enqueue(frame: Uint8Array): boolean {
    if (this.#closed || this.#pendingClose) return false;
    if (frame.byteLength > this.#maxFrameSize) {
      const err = new RpcError("PAYLOAD_TOO_LARGE", `frame of ${frame.byteLength} bytes exceeds maxFrameSize ${this.#maxFrameSize}`);
      this.close(err);
      return false;
    }
    this.#inbox.push(frame);
    this.#inboxBytes += frame.byteLength;
    this.#schedule();
    if (this.#inboxBytes > HIGH_WATER_MARK) {
      this.#senderBlocked = true;
      return false;
    }
    return true;
  }

  #schedule(): void {
    if (this.#scheduled || !this.#sink) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const sink = this.#sink;
    if (!sink || this.#closed) return;
    while (!this.#paused && this.#head < this.#inbox.length && !this.#closed) {
      const frame = this.#inbox[this.#head] as Uint8Array;
      this.#inbox[this.#head++] = undefined as unknown as Uint8Array;
      this.#inboxBytes -= frame.byteLength;
      sink.frame(frame);
    }
    if (this.#head === this.#inbox.length) {
      this.#inbox = [];
      this.#head = 0;
    }
    if (this.#senderBlocked && this.#inboxBytes <= HIGH_WATER_MARK / 2) {
      this.#senderBlocked = false;
      const peerSink = this.peer.#sink;
      if (peerSink && !this.peer.#closed) peerSink.drain();
    }
    if (this.#pendingClose && !this.#closed && this.#head === this.#inbox.length) {
      this.#closed = true;
      release();
      sink.close(this.#pendingClose.err);
    }
  }
}
