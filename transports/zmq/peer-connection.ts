/**
 * One peer of a ROUTER server, seen by the core as one Connection. The
 * listener creates it on the peer's first message and ends it on the peer's
 * goodbye, when the ZeroMQ connection it arrived on ends or is replaced, on
 * idle expiry, or when the table of peers is full.
 */
import { RpcError, decodeHello, type Connection, type ConnectionSink } from "../../src/index.js";

/** What a peer connection needs from its listener. */
export interface PeerHost {
  /** Send one payload to the peer; false above the socket's high-water mark. */
  sendTo(conn: PeerConnection, payload: Uint8Array): boolean;
  /** The connection closed itself: forget the peer, and say goodbye to it. */
  detach(conn: PeerConnection): void;
  /** Frames held for paused connections, summed over all peers (bounds memory). */
  held(delta: number): void;
}

export class PeerConnection implements Connection {
  readonly transport = "zmq";
  readonly remoteAddress: string;
  /** The hello this session was opened with (repeated by the client before each payload), if any. */
  readonly hello: Buffer | undefined;
  readonly #host: PeerHost;
  #sink: ConnectionSink | undefined;
  #inbox: Uint8Array[] = [];
  #paused = false;
  #scheduled = false;
  /** The first frame is a hello that the client sent before a payload, not on its own: its answer must not reach the client. */
  #quietHello: boolean;
  #swallowing = false;
  #closed = false;
  #closeReason: { err: Error | undefined } | undefined;

  constructor(host: PeerHost, remoteAddress: string, hello: Buffer | undefined, quietHello: boolean) {
    this.#host = host;
    this.remoteAddress = remoteAddress;
    this.hello = hello;
    this.#quietHello = quietHello;
  }

  get closed(): boolean {
    return this.#closed;
  }

  open(sink: ConnectionSink): void {
    if (this.#sink) throw new Error("open() called twice");
    this.#sink = sink;
    if (this.#closeReason) {
      this.#drop();
      sink.close(this.#closeReason.err);
      return;
    }
    this.#schedule();
  }

  /** A payload from the peer. */
  deliver(frame: Uint8Array): void {
    if (this.#closed) return;
    if (!this.#sink || this.#paused || this.#inbox.length > 0) {
      this.#inbox.push(frame);
      this.#host.held(1);
      this.#schedule();
      return;
    }
    this.#frame(this.#sink, frame);
  }

  send(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#swallowing) {
      const h = decodeHello(frame);
      if (h && !h.error) return true; // the client had its answer from whichever worker saw its hello first
    }
    return this.#host.sendTo(this, frame);
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
    if (this.#closed) return;
    this.#host.detach(this);
    this.ended(err);
  }

  /** The listener ended this peer (goodbye, expiry, eviction, replacement): no goodbye is sent back. */
  ended(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const sink = this.#sink;
    if (!sink) {
      this.#closeReason = { err };
      return;
    }
    this.#drop();
    sink.close(err);
  }

  #frame(sink: ConnectionSink, frame: Uint8Array): void {
    if (!this.#quietHello) {
      sink.frame(frame);
      return;
    }
    this.#quietHello = false;
    this.#swallowing = true;
    try {
      sink.frame(frame);
    } finally {
      this.#swallowing = false;
    }
  }

  #drop(): void {
    if (this.#inbox.length > 0) this.#host.held(-this.#inbox.length);
    this.#inbox = [];
  }

  #schedule(): void {
    if (this.#scheduled || !this.#sink || this.#inbox.length === 0) return;
    this.#scheduled = true;
    // Never re-enter the session from inside its own resume() call.
    queueMicrotask(() => {
      this.#scheduled = false;
      const sink = this.#sink;
      while (sink && !this.#paused && !this.#closed && this.#inbox.length > 0) {
        const frame = this.#inbox.shift() as Uint8Array;
        this.#host.held(-1);
        this.#frame(sink, frame);
      }
    });
  }
}

/** The reason given to a session whose peer said goodbye. */
export function peerClosed(): RpcError {
  return new RpcError("CONNECTION_CLOSED", "the peer closed the session");
}
