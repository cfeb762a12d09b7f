/**
 * The {@link Connection} over one open WebSocket, shared by the Node server,
 * the Node client and the browser client: the WebSocket side of
 * {@link ConnectionBase}. One message is one frame.
 *
 * Before `open()` (while the HMAC challenge runs, and between the challenge
 * and the core taking over) the socket is paused after each message, so an
 * unauthenticated peer cannot make us buffer more than one message it sent ahead.
 */
// By their own paths, as ./options.ts says why.
import { ConnectionBase } from "../../src/connection-base.js";
import { RpcError } from "../../src/errors.js";
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

export class WsConnection extends ConnectionBase implements WsSocketEvents {
  readonly transport: string;
  readonly remoteAddress: string | undefined;
  readonly #socket: WsSocket;
  readonly #hwm: number;
  #isChallenge: ((first: Uint8Array) => boolean) | undefined;

  constructor(socket: WsSocket, info: WsConnectionInfo) {
    super({ holdBeforeOpen: 0 });
    this.transport = info.transport;
    this.remoteAddress = info.remoteAddress;
    this.#hwm = info.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#isChallenge = info.isChallenge;
    this.#socket = socket;
    socket.attach(this);
  }

  /**
   * The next message, for the HMAC challenge before `open()`. Rejects with
   * PAYLOAD_TOO_LARGE for a message longer than `maxLength`, and with the
   * close reason when the connection closes first.
   */
  nextMessage(maxLength: number): Promise<Uint8Array> {
    return this.receiveBeforeOpen(maxLength);
  }

  // ---- ConnectionBase ----------------------------------------------------

  protected write(frame: Uint8Array, text: boolean): boolean {
    this.#socket.send(frame, text);
    return this.#belowMark();
  }

  protected override writeParts(parts: readonly Uint8Array[], text: boolean): boolean {
    const socket = this.#socket;
    if (!socket.sendParts) return super.writeParts(parts, text);
    socket.sendParts(parts, text);
    return this.#belowMark();
  }

  #belowMark(): boolean {
    if (this.#socket.bufferedAmount <= this.#hwm) return true;
    this.#socket.watchDrain();
    return false;
  }

  protected pauseReading(): void {
    this.#socket.pause();
  }

  protected resumeReading(): void {
    this.#socket.resume();
  }

  protected closeTransport(err: Error | undefined): void {
    this.#socket.unwatchDrain();
    const frame = closeFrameFor(err);
    this.#socket.close(frame.code, frame.reason);
    // Keep reading so that the peer's close frame is seen.
    this.#socket.resume();
  }

  // ---- WsSocketEvents ----------------------------------------------------

  message(data: Uint8Array): void {
    if (this.#isChallenge) {
      const isChallenge = this.#isChallenge(data);
      this.#isChallenge = undefined;
      if (isChallenge) {
        this.close(new RpcError("AUTH_FAILED", "the server requires an authkey (it sent an HMAC challenge); pass the authkey option"));
        return;
      }
    }
    this.deliver(data);
  }

  writable(): void {
    if (this.#socket.bufferedAmount > this.#hwm / 2) return;
    this.#socket.unwatchDrain();
    this.drained();
  }

  closed(code: number, reason: string, err: Error | undefined): void {
    this.#socket.unwatchDrain();
    this.ended(err ?? closeErrorFor(code, reason));
  }
}
