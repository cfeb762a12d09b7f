/**
 * The seam between {@link WsConnection} and a concrete WebSocket: Node's
 * `ws` package (node-socket.ts) or the browser's global `WebSocket`
 * (browser-socket.ts). Adapters only translate events; every decision lives
 * in WsConnection.
 */

/** What a socket adapter reports to its connection. */
export interface WsSocketEvents {
  /** One whole message; text messages arrive as their UTF-8 bytes. */
  message(data: Uint8Array): void;
  /** The outgoing buffer may have shrunk (only reported while {@link WsSocket.watchDrain} is on). */
  writable(): void;
  /**
   * The socket is closed (once). `code`/`reason` are those of the close
   * frame (1006 when there was none); `err` is a local reason that wins over
   * them (oversized message, missed pong, socket error).
   */
  closed(code: number, reason: string, err: Error | undefined): void;
}

export interface WsSocket {
  /** Install the event listeners. Called once, synchronously after the socket opened. */
  attach(events: WsSocketEvents): void;
  /** Queue one message; `text` sends a text message holding these UTF-8 bytes. */
  send(data: Uint8Array, text: boolean): void;
  /**
   * Queue one message given as parts (their concatenation), without joining
   * them where the adapter can; absent: the connection joins them and calls `send`.
   */
  sendParts?(parts: readonly Uint8Array[], text: boolean): void;
  /** Bytes queued but not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** Start reporting `writable()` until {@link WsSocket.unwatchDrain}. */
  watchDrain(): void;
  unwatchDrain(): void;
  /** Stop reading from the network (a no-op where the platform cannot). */
  pause(): void;
  resume(): void;
  /** Start the closing handshake. */
  close(code: number, reason: string): void;
}
