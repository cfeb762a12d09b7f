/**
 * A framed connection over a net.Socket or tls.TLSSocket: adapts socket
 * events to the {@link Connection} interface. Authentication is driven from
 * outside through {@link TcpConnection.challengeIO}; this file only moves frames.
 *
 * The socket is opened with `allowHalfOpen`: when the peer ends its side,
 * every frame it sent is still delivered (a one-way call followed by a close
 * is not lost) before this side closes too.
 */
import type { Socket } from "node:net";
import { RpcError, isChallenge, type ChallengeIO, type Connection, type ConnectionSink } from "../../src/index.js";
import { FrameDecoder } from "./frame-decoder.js";
import { FrameWriter, type CoalesceMode } from "./frame-writer.js";

/** Bytes held from a peer that is not being read yet (handshake, or before `open`) before the socket is paused. */
const UNOPENED_BUFFER_LIMIT = 64 * 1024;
/** node:tls codes of alerts that mean "your certificate was not accepted". */
const TLS_CERT_ALERT = /^ERR_SSL_.*ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|ACCESS_DENIED)$/;
/** After our FIN, how long the peer gets to close its side before the socket is destroyed, ms. */
const LINGER = 2000;

export interface TcpConnectionOptions {
  /** "tcp" or "tls", reported as `Connection.transport`. */
  transport: string;
  maxFrameSize: number;
  /** Bytes buffered for sending before `send` returns false. */
  highWaterMark: number;
  coalesce: CoalesceMode;
  /** Client without an authkey: fail with AUTH_FAILED if the server opens with a challenge. */
  refuseChallenge?: boolean;
}

type Waiter = { resolve: (m: Uint8Array) => void; reject: (e: unknown) => void; max: number };

function closedError(message: string, cause?: unknown): RpcError {
  return new RpcError("CONNECTION_CLOSED", message, cause === undefined ? {} : { cause });
}

export class TcpConnection implements Connection {
  readonly transport: string;
  readonly remoteAddress: string | undefined;
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #maxFrameSize: number;
  readonly #highWaterMark: number;
  #refuseChallenge: boolean;
  #sink: ConnectionSink | undefined;
  #waiter: Waiter | undefined;
  #paused = false;
  #pumping = false;
  #blocked = false;
  #peerEnded = false;
  /** close() was called (by the core, or on a framing error): no more sends or deliveries. */
  #closing = false;
  #closeError: Error | undefined;
  #socketError: Error | undefined;
  #socketClosed = false;
  #sinkClosed = false;
  #linger: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: Socket, opts: TcpConnectionOptions) {
    this.transport = opts.transport;
    const host = socket.remoteAddress;
    this.remoteAddress = host === undefined ? undefined : `${host.includes(":") ? `[${host}]` : host}:${socket.remotePort}`;
    this.#socket = socket;
    this.#maxFrameSize = opts.maxFrameSize;
    this.#highWaterMark = opts.highWaterMark;
    this.#refuseChallenge = opts.refuseChallenge === true;
    this.#decoder = new FrameDecoder(opts.maxFrameSize);
    this.#writer = new FrameWriter(socket, opts.coalesce, this.#afterFlush);
    socket.setNoDelay(true);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("drain", this.#onDrain);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
  }

  /** Handshake messages, one frame each, read before the connection is opened. */
  readonly challengeIO: ChallengeIO = {
    send: (msg) => {
      if (this.#closing || this.#socketClosed) throw closedError("the connection is closed");
      this.#writer.write(msg);
    },
    recv: (max) =>
      new Promise<Uint8Array>((resolve, reject) => {
        if (this.#waiter) return reject(new RpcError("INTERNAL_ERROR", "concurrent handshake reads"));
        this.#waiter = { resolve, reject, max };
        this.#serveWaiter();
      }),
  };

  open(sink: ConnectionSink): void {
    if (this.#sink) throw new RpcError("INTERNAL_ERROR", "open() called twice");
    this.#sink = sink;
    // Deliver on a microtask: the caller finishes its own setup first.
    queueMicrotask(() => {
      if (this.#socketClosed || this.#closing) return this.#closeSink();
      this.#pump();
      if (!this.#paused && !this.#closing) this.#socket.resume();
    });
  }

  send(frame: Uint8Array): boolean {
    if (this.#closing || this.#socketClosed) return false;
    this.#writer.write(frame);
    if (this.#socket.writableLength + this.#writer.pending < this.#highWaterMark) return true;
    this.#blocked = true;
    return false;
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#sink || this.#closing) return;
    this.#pump();
    if (!this.#paused && !this.#closing) this.#socket.resume();
  }

  close(err?: Error): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#closeError = err;
    this.#failWaiter(err ?? closedError("the connection was closed"));
    if (this.#socketClosed) return this.#closeSink();
    this.#writer.flush();
    this.#socket.end();
    // Keep reading (and discarding) until the peer's FIN, but not forever.
    this.#socket.resume();
    this.#linger = setTimeout(() => this.#socket.destroy(), LINGER);
    this.#linger.unref();
    // The core need not wait for the peer's FIN: the socket finishes closing on its own.
    queueMicrotask(() => this.#closeSink());
  }

  /** Drop the connection without flushing (a peer that failed its handshake and is not worth waiting for). */
  destroy(err?: Error): void {
    this.#closing = true;
    this.#closeError ??= err;
    this.#failWaiter(err ?? closedError("the connection was destroyed"));
    this.#socket.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#closing) return;
    this.#decoder.push(chunk);
    if (this.#sink) this.#pump();
    else if (this.#waiter) this.#serveWaiter();
    if (!this.#sink && this.#decoder.buffered > UNOPENED_BUFFER_LIMIT) this.#socket.pause();
  };

  readonly #onEnd = (): void => {
    this.#peerEnded = true;
    if (this.#waiter) this.#serveWaiter();
    else if (this.#sink && !this.#paused) this.#pump();
  };

  readonly #onDrain = (): void => {
    if (!this.#blocked || this.#closing) return;
    this.#blocked = false;
    this.#sink?.drain();
  };

  readonly #afterFlush = (): void => {
    // A frame queued in the same tick may have made send() return false while the socket itself stays
    // under its own mark: then no 'drain' event comes, so tell the sink here.
    if (this.#blocked && !this.#closing && !this.#socket.writableNeedDrain && this.#socket.writableLength < this.#highWaterMark) {
      this.#blocked = false;
      this.#sink?.drain();
    }
  };

  readonly #onError = (err: Error): void => {
    // A TLS peer refusing our certificate (TLS 1.3 says so only after our side finished its handshake).
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && TLS_CERT_ALERT.test(code)) {
      this.#socketError ??= new RpcError("AUTH_FAILED", `the peer refused our TLS certificate: ${err.message}`, { cause: err });
    }
    this.#socketError ??= closedError(`socket error: ${err.message}`, err);
  };

  readonly #onClose = (): void => {
    this.#socketClosed = true;
    if (this.#linger) clearTimeout(this.#linger);
    this.#failWaiter(this.#socketError ?? closedError("the peer closed the connection"));
    if (this.#sink) this.#closeSink();
  };

  #closeSink(): void {
    if (this.#sinkClosed || !this.#sink) return;
    this.#sinkClosed = true;
    this.#sink.close(this.#closeError ?? this.#socketError);
  }

  #failWaiter(err: Error): void {
    const w = this.#waiter;
    if (!w) return;
    this.#waiter = undefined;
    w.reject(err);
  }

  #serveWaiter(): void {
    const w = this.#waiter;
    if (!w) return;
    let frame: Uint8Array | undefined;
    this.#decoder.maxFrameSize = w.max;
    try {
      frame = this.#decoder.next();
    } catch (err) {
      this.#waiter = undefined;
      return w.reject(err);
    } finally {
      this.#decoder.maxFrameSize = this.#maxFrameSize;
    }
    if (frame) {
      this.#waiter = undefined;
      // The decoder may hand out memory of the socket's chunk; a handshake message is small, keep a copy.
      w.resolve(frame.slice());
    } else if (this.#peerEnded) {
      this.#waiter = undefined;
      w.reject(closedError("the peer closed the connection during the handshake"));
    }
  }

  /** Deliver buffered frames until paused, closed or out of frames. */
  #pump(): void {
    const sink = this.#sink;
    if (!sink || this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#paused && !this.#closing && !this.#sinkClosed) {
        let frame: Uint8Array | undefined;
        try {
          frame = this.#decoder.next();
        } catch (err) {
          this.close(err as Error);
          return;
        }
        if (!frame) break;
        if (this.#refuseChallenge) {
          this.#refuseChallenge = false;
          if (isChallenge(frame)) {
            this.close(new RpcError("AUTH_FAILED", "the server requires an authkey (it sent a #CHALLENGE#); pass the authkey option or set WIRECALL_AUTHKEY"));
            return;
          }
        }
        sink.frame(frame);
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#peerEnded && !this.#paused && !this.#closing) {
      // Everything the peer sent has been delivered.
      this.close(this.#decoder.partial ? new RpcError("PROTOCOL_ERROR", "the peer closed the connection in the middle of a frame") : undefined);
    }
  }
}
