/**
 * {@link WsSocket} over the browser's global `WebSocket`. Browsers cannot
 * pause a socket, send pings or report when their buffer drains, so: pause
 * holds messages in WsConnection's queue, keepalive relies on the server's
 * pings (browsers answer them), and drain is polled from `bufferedAmount`.
 */
import { RpcError } from "../../src/errors.js"; // not the SDK: see ./options.ts
import type { WsSocket, WsSocketEvents } from "./ws-socket.js";

/** How often a blocked sender looks at `bufferedAmount`, ms. */
const DRAIN_POLL_MS = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The part of the DOM WebSocket used here (keeps the module free of DOM-only types at its edges). */
export interface BrowserWebSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onopen: ((ev: unknown) => void) | null;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

export class BrowserWsSocket implements WsSocket {
  readonly #ws: BrowserWebSocket;
  readonly #maxPayload: number;
  #events: WsSocketEvents | undefined;
  #error: Error | undefined;
  #poll: ReturnType<typeof setTimeout> | undefined;

  constructor(ws: BrowserWebSocket, maxPayload: number) {
    this.#ws = ws;
    this.#maxPayload = maxPayload;
    ws.binaryType = "arraybuffer";
  }

  attach(events: WsSocketEvents): void {
    this.#events = events;
    const ws = this.#ws;
    ws.onmessage = (ev) => {
      const d = ev.data;
      const bytes = typeof d === "string" ? encoder.encode(d) : new Uint8Array(d as ArrayBuffer);
      if (bytes.byteLength > this.#maxPayload) {
        // The browser has already buffered it; refusing it still stops a peer from going on.
        this.#error = new RpcError("PAYLOAD_TOO_LARGE", `a message of ${bytes.byteLength} bytes exceeds maxPayload ${this.#maxPayload}`);
        ws.close(4000, "PAYLOAD_TOO_LARGE");
        events.closed(4000, "", this.#error);
        return;
      }
      events.message(bytes);
    };
    ws.onerror = () => {
      // Browsers hide the cause; the close event that follows carries the code.
    };
    ws.onclose = (ev) => {
      this.unwatchDrain();
      events.closed(ev.code, ev.reason, this.#error);
    };
  }

  send(data: Uint8Array, text: boolean): void {
    // A text message must be given as a string: the one copy this costs is unavoidable.
    this.#ws.send(text ? decoder.decode(data) : data);
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  watchDrain(): void {
    if (this.#poll !== undefined) return;
    const check = (): void => {
      this.#poll = setTimeout(check, DRAIN_POLL_MS);
      this.#events?.writable();
    };
    this.#poll = setTimeout(check, DRAIN_POLL_MS);
  }

  unwatchDrain(): void {
    if (this.#poll !== undefined) clearTimeout(this.#poll);
    this.#poll = undefined;
  }

  pause(): void {}

  resume(): void {}

  close(code: number, reason: string): void {
    this.unwatchDrain();
    this.#ws.close(code, reason);
  }
}
