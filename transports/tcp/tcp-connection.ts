/**
 * A framed connection over a net.Socket or tls.TLSSocket: the socket side of
 * {@link ConnectionBase}, which does the delivery, pausing and closing.
 * Authentication is driven from outside through {@link TcpConnection.challengeIO}.
 *
 * Bytes wait in the frame decoder until the core wants frames, and are
 * decoded only then (no frame is held twice). The socket is opened with
 * `allowHalfOpen`: when the peer ends its side, every frame it sent is still
 * delivered (a one-way call followed by a close is not lost) before this
 * side closes too.
 */
import type { Socket } from "node:net";
import { ConnectionBase } from "../../src/transport-sdk.js";
import { RpcError, isChallenge, type ChallengeIO } from "../../src/transport-sdk.js";
import { ReadAccount, type ReadBudget } from "../read-budget.js";
import { wrongPeerMessage } from "../wrong-peer.js";
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
  /** Server: the budget for unfinished frames this connection draws on (it gets an account of its own). */
  budget?: ReadBudget;
  /** Bytes buffered for sending before `send` returns false. */
  highWaterMark: number;
  coalesce: CoalesceMode;
  /** Client without an authkey: fail with AUTH_FAILED if the server opens with a challenge. */
  refuseChallenge?: boolean;
  /** Client: the URL it dialled. Until the first frame, bytes of another protocol (HTTP, TLS, ZMTP...) fail with a message naming it. */
  dialled?: string;
  /** Server: answer a first line of HTTP with a 400 that says what this port is, then close. */
  answerHttp?: boolean;
}

/** How many of the first bytes are kept to recognise a peer of another protocol. */
const SNIFF_BYTES = 12;
const HTTP_REQUEST = /^(GET|POST|PUT|HEAD|OPTIONS|DELETE|PATCH|CONNECT) /;

type Waiter = { resolve: (m: Uint8Array) => void; reject: (e: unknown) => void; max: number };

/**
 * A socket's link to its connection. The socket's listeners, the writer's
 * flush callback and the read account's callbacks are functions shared by
 * every connection that find theirs through it: closures bound to each
 * connection cost about 1 KiB of heap per idle connection.
 */
const CONN: unique symbol = Symbol("wirecall.tcpConnection");
type Linked = Socket & { [CONN]: TcpConnection };

/** Set in TcpConnection's static block: the socket's listeners, called with the socket as `this`. */
let ON: {
  data(this: Socket, chunk: Buffer): void;
  end(this: Socket): void;
  drain(this: Socket): void;
  error(this: Socket, err: Error): void;
  close(this: Socket): void;
  afterFlush(socket: unknown): void;
};

/**
 * This connection's share of the server's read budget. ReadAccount calls
 * its callbacks as its own methods (`account.isPaused()`), so they are the
 * shared functions below, reaching the socket through the account.
 */
class SocketAccount extends ReadAccount {
  readonly socket: Socket;
  constructor(budget: ReadBudget, socket: Socket) {
    super(budget, socketPaused, socketExpired);
    this.socket = socket;
  }
}

function socketPaused(this: SocketAccount): boolean {
  return this.socket.isPaused();
}

function socketExpired(this: SocketAccount, err: RpcError): void {
  (this.socket as Linked)[CONN].close(err);
}

function closedError(message: string, cause?: unknown): RpcError {
  return new RpcError("CONNECTION_CLOSED", message, cause === undefined ? {} : { cause });
}

export class TcpConnection extends ConnectionBase {
  readonly transport: string;
  readonly remoteAddress: string | undefined;
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #maxFrameSize: number;
  readonly #highWaterMark: number;
  #refuseChallenge: boolean;
  #waiter: Waiter | undefined;
  #pumping = false;
  #peerEnded = false;
  #socketError: Error | undefined;
  #socketClosed = false;
  #linger: ReturnType<typeof setTimeout> | undefined;
  readonly #dialled: string | undefined;
  readonly #answerHttp: boolean;
  /** The stream's first bytes, kept until the first frame decodes (then undefined). */
  #head: Uint8Array | undefined = new Uint8Array(0);

  constructor(socket: Socket, opts: TcpConnectionOptions) {
    super();
    this.transport = opts.transport;
    const host = socket.remoteAddress;
    this.remoteAddress = host === undefined ? undefined : `${host.includes(":") ? `[${host}]` : host}:${socket.remotePort}`;
    this.#socket = socket;
    this.#maxFrameSize = opts.maxFrameSize;
    this.#highWaterMark = opts.highWaterMark;
    this.#refuseChallenge = opts.refuseChallenge === true;
    this.#dialled = opts.dialled;
    this.#answerHttp = opts.answerHttp === true;
    if (this.#dialled === undefined && !this.#answerHttp) this.#head = undefined;
    this.#decoder = new FrameDecoder(opts.maxFrameSize, opts.budget && new SocketAccount(opts.budget, socket));
    this.#writer = new FrameWriter(socket, opts.coalesce, ON.afterFlush);
    (socket as Linked)[CONN] = this;
    socket.setNoDelay(true);
    socket.on("data", ON.data);
    socket.on("end", ON.end);
    socket.on("drain", ON.drain);
    socket.on("error", ON.error);
    socket.on("close", ON.close);
  }

  static {
    ON = {
      data(chunk) {
        (this as Linked)[CONN].#onData(chunk);
      },
      end() {
        (this as Linked)[CONN].#onEnd();
      },
      drain() {
        (this as Linked)[CONN].drained();
      },
      error(err) {
        (this as Linked)[CONN].#onError(err);
      },
      close() {
        (this as Linked)[CONN].#onClose();
      },
      afterFlush(socket) {
        (socket as Linked)[CONN].#afterFlush();
      },
    };
  }

  /**
   * Handshake messages, one frame each, read before the connection is
   * opened. Made when asked for (once, by the handshake): a connection
   * keeps no handshake object once it is open.
   */
  get challengeIO(): ChallengeIO {
    return {
      send: (msg) => {
        if (!this.live || this.#socketClosed) throw closedError("the connection is closed");
        this.#writer.write(msg);
      },
      recv: (max) =>
        new Promise<Uint8Array>((resolve, reject) => {
          if (this.#waiter) return reject(new RpcError("INTERNAL_ERROR", "concurrent handshake reads"));
          this.#waiter = { resolve, reject, max };
          this.#serveWaiter();
        }),
    };
  }

  /** Drop the connection without flushing (a peer that failed its handshake and is not worth waiting for). */
  destroy(err?: Error): void {
    this.close(err ?? closedError("the connection was destroyed"));
    this.#socket.destroy();
  }

  // ---- ConnectionBase ----------------------------------------------------

  protected write(frame: Uint8Array): boolean {
    this.#writer.write(frame);
    return this.#socket.writableLength + this.#writer.pending < this.#highWaterMark;
  }

  protected override writeParts(parts: readonly Uint8Array[]): boolean {
    this.#writer.writeParts(parts);
    return this.#socket.writableLength + this.#writer.pending < this.#highWaterMark;
  }

  protected pauseReading(): void {
    this.#socket.pause();
  }

  protected resumeReading(): void {
    this.#pump();
    if (this.flowing) this.#socket.resume();
  }

  protected closeTransport(err: Error | undefined): void {
    this.#failWaiter(err ?? closedError("the connection was closed"));
    if (this.#socketClosed) return;
    this.#writer.flush();
    this.#socket.end();
    // Keep reading (and discarding) until the peer's FIN, but not forever.
    this.#socket.resume();
    this.#linger = setTimeout(() => this.#socket.destroy(), LINGER);
    this.#linger.unref();
  }

  // ---- socket events -----------------------------------------------------

  #onData(chunk: Buffer): void {
    if (!this.live) return;
    if (this.#head && this.#head.length < SNIFF_BYTES && this.#sniff(chunk)) return;
    this.#decoder.push(chunk);
    if (this.flowing) return this.#pump();
    if (this.#waiter) this.#serveWaiter();
    if (this.#decoder.buffered > UNOPENED_BUFFER_LIMIT) this.#socket.pause();
  }

  #onEnd(): void {
    this.#peerEnded = true;
    if (this.#waiter) this.#serveWaiter();
    else if (this.flowing) this.#pump();
  }

  #afterFlush(): void {
    // A frame queued in the same tick may have made send() return false while the socket itself stays
    // under its own mark: then no 'drain' event comes, so report it here.
    if (this.writeBlocked && !this.#socket.writableNeedDrain && this.#socket.writableLength < this.#highWaterMark) this.drained();
  }

  #onError(err: Error): void {
    // A TLS peer refusing our certificate (TLS 1.3 says so only after our side finished its handshake).
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && TLS_CERT_ALERT.test(code)) {
      this.#socketError ??= new RpcError("AUTH_FAILED", `the peer refused our TLS certificate: ${err.message}`, { cause: err });
    }
    this.#socketError ??= closedError(`socket error: ${err.message}`, err);
  }

  #onClose(): void {
    this.#socketClosed = true;
    // The unfinished frame's bytes go back to the server's budget.
    this.#decoder.release();
    if (this.#linger) clearTimeout(this.#linger);
    // A peer of another protocol may reset the connection before its first bytes were decoded (a ZeroMQ socket does).
    const err = this.#explain(this.#socketError ?? closedError("the peer closed the connection"));
    this.#failWaiter(err);
    // An orderly end was already reported by #pump; this is a reset or an error.
    this.ended(this.#socketError && this.#explain(this.#socketError));
  }

  // ---- internals ---------------------------------------------------------

  /**
   * Keep the first bytes; a server answers an HTTP request line at once.
   * Returns true when the connection was answered and is closing.
   */
  #sniff(chunk: Uint8Array): boolean {
    const head = this.#head as Uint8Array;
    const more = chunk.subarray(0, SNIFF_BYTES - head.length);
    const next = new Uint8Array(head.length + more.length);
    next.set(head);
    next.set(more, head.length);
    this.#head = next;
    if (!this.#answerHttp) return false;
    let line = "";
    for (let i = 0; i < next.length; i++) line += String.fromCharCode(next[i] as number);
    if (!HTTP_REQUEST.test(line)) return false;
    // A WebSocket or XML-RPC client at a tcp:// port: its HTTP client shows this status and body.
    const body = `This is a wirecall ${this.transport}:// server, not an HTTP one: connect with ${this.transport}://host:port (a WebSocket client needs a ws:// server, an XML-RPC client an xmlrpc+http:// one).\n`;
    // The reason phrase carries the hint too: HTTP clients show it where they show no body.
    this.#socket.end(`HTTP/1.1 400 Bad Request: a wirecall ${this.transport}:// server, connect with ${this.transport}://\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    this.#head = undefined;
    this.close(new RpcError("PROTOCOL_ERROR", `an HTTP client (${line.split(" ")[0]} ...) at a ${this.transport}:// port`));
    return true;
  }

  /** Client: the server closed before sending a byte, which is what a TLS server does to a plain client. */
  #silentClose(): RpcError | undefined {
    if (this.#dialled === undefined || this.#head === undefined || this.#head.length > 0 || this.transport !== "tcp") return undefined;
    return new RpcError("CONNECT_FAILED", `${this.#dialled} closed the connection without a word: a TLS server does that to a plain client (use tls://), a server may refuse this peer (see its onHandshakeError), or it is shutting down`);
  }

  /** `err` about the stream's first bytes, or a CONNECT_FAILED naming the protocol they look like. */
  #explain(err: Error): Error {
    const head = this.#head;
    if (!head || this.#dialled === undefined) return err;
    if (head.length === 0) {
      // Nothing read: a ZeroMQ socket resets a peer whose first bytes are not ZMTP, at times before its own greeting is read.
      const reset = ((err as { cause?: { code?: unknown } }).cause?.code ?? (err as { code?: unknown }).code) === "ECONNRESET";
      return reset
        ? new RpcError("CONNECT_FAILED", `${this.#dialled} reset the connection before sending a byte: a ZeroMQ socket does that to a client that does not speak ZMTP (use zmq+tcp://host:port), or the server refused this peer`, { cause: err })
        : err;
    }
    const message = wrongPeerMessage(head, this.#dialled);
    return message ? new RpcError("CONNECT_FAILED", message, { cause: err }) : err;
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
      return w.reject(this.#explain(err as Error));
    } finally {
      this.#decoder.maxFrameSize = this.#maxFrameSize;
    }
    if (frame) {
      this.#head = undefined;
      this.#waiter = undefined;
      // The decoder may hand out memory of the socket's chunk; a handshake message is small, keep a copy.
      w.resolve(frame.slice());
    } else if (this.#peerEnded) {
      this.#waiter = undefined;
      w.reject(this.#explain(closedError("the peer closed the connection during the handshake")));
    }
  }

  /** Decode and deliver frames while the core takes them. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    // Answers written while this read's frames are delivered (a method that returns a value
    // is answered at once) leave in one write at the end, not on a tick of their own.
    this.#writer.hold();
    try {
      while (this.flowing) {
        let frame: Uint8Array | undefined;
        try {
          frame = this.#decoder.next();
        } catch (err) {
          this.close(this.#explain(err as Error));
          return;
        }
        if (!frame) break;
        this.#head = undefined;
        if (this.#refuseChallenge) {
          this.#refuseChallenge = false;
          if (isChallenge(frame)) {
            this.close(new RpcError("AUTH_FAILED", "the server requires an authkey (it sent a #CHALLENGE#); pass the authkey option or set WIRECALL_AUTHKEY"));
            return;
          }
        }
        this.deliver(frame);
      }
    } finally {
      this.#pumping = false;
      if (this.#writer.release()) this.#afterFlush();
    }
    if (this.#peerEnded && this.flowing) {
      // Everything the peer sent has been delivered. A socket error seen on the way (a TLS alert) is the reason.
      const err = this.#decoder.partial ? new RpcError("PROTOCOL_ERROR", "the peer closed the connection in the middle of a frame") : (this.#socketError ?? this.#silentClose());
      this.close(err && this.#explain(err));
    }
  }
}
