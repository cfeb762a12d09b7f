/**
 * {@link WsSocket} over a `ws` WebSocket (Node, server or client side), with
 * ping/pong keepalive: a peer that leaves a ping unanswered for a whole
 * interval is dropped, so its connection (and its pending calls) fail with
 * CONNECTION_CLOSED instead of hanging until TCP gives up.
 */
import type { WebSocket } from "ws";
import { RpcError } from "../../src/transport-sdk.js";
import { installFrameReader } from "./frame-reader.js";
import { FrameWriter, type RawSocket } from "./frame-writer.js";
import type { WsSocket, WsSocketEvents } from "./ws-socket.js";

// ws copies its send options, so two shared objects spare an allocation per message.
const BINARY = Object.freeze({ binary: true });
const TEXT = Object.freeze({ binary: false });
/** WebSocket.OPEN. */
const OPEN = 1;

export class NodeWsSocket implements WsSocket {
  readonly #ws: WebSocket;
  readonly #keepAlive: number;
  #events: WsSocketEvents | undefined;
  #error: Error | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #alive = true;
  #paused = false;
  #watching = false;
  // One callback for every send: no closure per message on the hot path.
  readonly #written = (): void => {
    if (this.#watching) this.#events?.writable();
  };

  readonly #isOpen = (): boolean => this.#ws.readyState === OPEN;
  /** Writes our data messages; undefined when `ws` exposes no socket (then `ws.send` does). */
  #writer: FrameWriter | undefined;
  readonly #client: boolean;

  /** `keepAlive`: ping interval in ms, 0 for none. `client`: this end masks what it sends. */
  constructor(ws: WebSocket, keepAlive: number, client: boolean) {
    this.#ws = ws;
    this.#keepAlive = keepAlive;
    this.#client = client;
  }

  attach(events: WsSocketEvents): void {
    this.#events = events;
    const ws = this.#ws;
    // `_socket` is the net/tls socket `ws` runs over, set before 'open'.
    const raw = (ws as unknown as { _socket?: RawSocket })._socket;
    if (raw && typeof raw.write === "function" && typeof raw.cork === "function") this.#writer = new FrameWriter(raw, this.#client, this.#written, this.#isOpen);
    const message = (data: Buffer): void => {
      this.#alive = true;
      events.message(data);
    };
    ws.on("message", message);
    // Whole data messages skip `ws`'s receiver (frame-reader.ts says why); every other frame still goes through it.
    installFrameReader(ws, message);
    ws.on("pong", () => {
      this.#alive = true;
    });
    ws.on("error", (err: Error & { code?: string }) => {
      this.#error ??= mapError(err);
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.#writer?.discard();
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      events.closed(code, reason.toString("utf8"), this.#error);
    });
    if (this.#keepAlive > 0) {
      this.#timer = setInterval(() => this.#tick(), this.#keepAlive);
      this.#timer.unref();
    }
  }

  send(data: Uint8Array, text: boolean): void {
    const writer = this.#writer;
    if (!writer) {
      this.#ws.send(data, text ? TEXT : BINARY, this.#written);
      return;
    }
    // As ws.send: nothing after the closing handshake began (ConnectionBase stops on its own close; this covers the peer's).
    if (this.#ws.readyState === OPEN) writer.send(data, text);
  }

  sendParts(parts: readonly Uint8Array[], text: boolean): void {
    const writer = this.#writer;
    if (!writer) {
      this.#ws.send(Buffer.concat(parts), text ? TEXT : BINARY, this.#written);
      return;
    }
    if (this.#ws.readyState === OPEN) writer.sendParts(parts, text);
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount + (this.#writer?.pending ?? 0);
  }

  watchDrain(): void {
    this.#watching = true;
  }

  unwatchDrain(): void {
    this.#watching = false;
  }

  pause(): void {
    this.#paused = true;
    this.#ws.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#ws.resume();
  }

  close(code: number, reason: string): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    // What was sent before the close goes out before the close frame.
    this.#writer?.flush();
    this.#ws.close(code, reason);
  }

  #tick(): void {
    // A paused socket reads nothing, pongs included: silence then proves nothing.
    if (this.#paused) {
      this.#alive = true;
      return;
    }
    if (!this.#alive) {
      this.#error ??= new RpcError("CONNECTION_CLOSED", `the peer did not answer a ping within ${this.#keepAlive} ms`);
      this.#ws.terminate();
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  }
}

/** The error behind a `ws` 'error' event, as the code the sink reports. */
function mapError(err: Error & { code?: string }): RpcError {
  if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
    return new RpcError("PAYLOAD_TOO_LARGE", `a message exceeded maxPayload: ${err.message}`, { cause: err });
  }
  if (typeof err.code === "string" && err.code.startsWith("WS_ERR_")) {
    return new RpcError("PROTOCOL_ERROR", `invalid WebSocket data from the peer: ${err.message}`, { cause: err });
  }
  return new RpcError("CONNECTION_CLOSED", `connection error: ${err.message}`, { cause: err });
}
