/**
 * One peer of a ROUTER server, seen by the core as one Connection: the
 * ROUTER side of {@link ConnectionBase}. The listener creates it on the
 * peer's first message and ends it on the peer's goodbye, when the ZeroMQ
 * connection it arrived on ends or is replaced, on idle expiry, or when the
 * table of peers is full.
 *
 * Every peer shares the one ROUTER socket, so a paused peer cannot stop the
 * socket: its frames are held by the base, and the listener, told how many
 * are held, stops reading the socket past its bound over all peers. ZeroMQ
 * cannot hold back one peer of a ROUTER, so a peer that keeps sending while
 * its session is paused would stop the socket for everyone: past its own
 * share of that bound its session ends instead.
 */
import { ConnectionBase } from "../../src/transport-sdk.js";
import { RpcError, decodeHello, type ConnectionSink } from "../../src/transport-sdk.js";
import { withTags } from "./frames.js";

/** Frames one paused peer may have held before its session is ended (a quarter of the listener's bound over all peers). */
export const MAX_HELD_PER_PEER = 1024;
/** Bytes of them; a single frame is always taken, whatever its size up to `maxFrameSize`. */
export const MAX_HELD_BYTES_PER_PEER = 8 * 1024 * 1024;

/** What a peer connection needs from its listener. */
export interface PeerHost {
  /** Send one payload to the peer; false above the socket's high-water mark. */
  sendTo(conn: PeerConnection, payload: Uint8Array): boolean;
  /** The connection closed itself: forget the peer, and say goodbye to it. */
  detach(conn: PeerConnection): void;
  /** Frames (and their bytes) held for paused connections, summed over all peers (bounds memory). */
  held(frames: number, bytes: number): void;
}

export class PeerConnection extends ConnectionBase {
  readonly transport = "zmq";
  readonly remoteAddress: string;
  /** The hello this session was opened with (repeated by the client before each payload), if any. */
  readonly hello: Buffer | undefined;
  readonly #host: PeerHost;
  /** The first frame is a hello that the client sent before a payload, not on its own: its answer must not reach the client. */
  #quietHello: boolean;
  #swallowing = false;
  /** The peer offered hello tags and this server takes them (1), and compact messages too (2): say so in the hello's answer. */
  #offer: 0 | 1 | 2;
  /** Frames counted in the host's total, not yet known to be delivered. */
  #held = 0;
  #heldBytes = 0;

  constructor(host: PeerHost, remoteAddress: string, hello: Buffer | undefined, quietHello: boolean, offer: 0 | 1 | 2 = 0) {
    // Held frames before open are bounded by the listener's total, not per peer.
    super({ holdBeforeOpen: Number.POSITIVE_INFINITY });
    this.#host = host;
    this.remoteAddress = remoteAddress;
    this.hello = hello;
    this.#quietHello = quietHello;
    this.#offer = offer;
  }

  get closed(): boolean {
    return !this.live;
  }

  override open(sink: ConnectionSink): void {
    if (!this.#quietHello) return super.open(sink);
    super.open({
      frame: (frame) => {
        if (!this.#quietHello) return sink.frame(frame);
        this.#quietHello = false;
        this.#swallowing = true;
        try {
          sink.frame(frame);
        } finally {
          this.#swallowing = false;
        }
      },
      drain: () => sink.drain(),
      close: (err) => sink.close(err),
    });
  }

  /** A payload from the peer. */
  override deliver(frame: Uint8Array): void {
    if (!this.flowing && this.live) {
      if (this.#held >= MAX_HELD_PER_PEER || (this.#held > 0 && this.#heldBytes + frame.length > MAX_HELD_BYTES_PER_PEER)) {
        this.close(
          new RpcError(
            "CONNECTION_CLOSED",
            `the peer sent more than ${MAX_HELD_PER_PEER} frames (or ${MAX_HELD_BYTES_PER_PEER} bytes) past what its session could take; ZeroMQ cannot hold one peer back, so its session ends`,
          ),
        );
        return;
      }
      this.#held++;
      this.#heldBytes += frame.length;
      this.#host.held(1, frame.length);
    }
    super.deliver(frame);
  }

  /** The listener ended this peer (goodbye, expiry, eviction, replacement): no goodbye is sent back. */
  override ended(err: Error | undefined): void {
    // The peer is gone from the listener's table: its frames no longer count against the socket.
    this.#release();
    super.ended(err);
  }

  // ---- ConnectionBase ----------------------------------------------------

  protected write(frame: Uint8Array): boolean {
    if (this.#swallowing) {
      const h = decodeHello(frame);
      if (h && !h.error) return true; // the client had its answer from whichever worker saw its hello first
    }
    if (this.#offer !== 0) {
      // The first frame of the session is the hello's answer.
      const offer = this.#offer;
      this.#offer = 0;
      const h = decodeHello(frame);
      if (h && !h.error) return this.#host.sendTo(this, withTags(frame, offer === 2));
    }
    return this.#host.sendTo(this, frame);
  }

  protected pauseReading(): void {
    // The ROUTER serves every peer: the listener pauses it by the total held.
  }

  protected resumeReading(): void {
    // Called once nothing is held any more.
    this.#release();
  }

  protected closeTransport(): void {
    this.#release();
    this.#host.detach(this);
  }

  #release(): void {
    if (this.#held === 0) return;
    this.#host.held(-this.#held, -this.#heldBytes);
    this.#held = 0;
    this.#heldBytes = 0;
  }
}

/** The reason given to a session whose peer said goodbye. */
export function peerClosed(): RpcError {
  return new RpcError("CONNECTION_CLOSED", "the peer closed the session");
}
