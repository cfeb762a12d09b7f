/**
 * Every limit in one place, each with what it guards. Transports and the
 * core take `Partial<Limits>` overrides from options. docs/security.md says
 * which transport applies which limit and why the defaults are what they are.
 */
export interface Limits {
  /** Calls running at once per connection; past it the connection stops being read, so a flood queues in the peer's socket, not in our memory. */
  maxInFlight: number;
  /**
   * Largest frame accepted (bytes), checked before the body is buffered where the framing allows.
   * 16 MiB, not more: a peer that may not be trusted gets one frame's worth of decoder work and
   * memory per connection for the price of sending it, and a bigger frame is better streamed.
   */
  maxFrameSize: number;
  /**
   * Bytes of unfinished frames one server holds across all its connections (tcp, tls, ws).
   * A connection whose unfinished frame would take the total past it is closed with
   * PAYLOAD_TOO_LARGE, so slow or stalled uploads cannot add up to more than this.
   * The first 64 KiB of each connection's unfinished frame are not counted, so small
   * calls are served whatever large frames other peers are holding.
   */
  maxBufferedBytes: number;
  /**
   * An unfinished frame may take this long (ms) plus one second per `minReadRate` bytes
   * it has delivered so far; past that its connection is closed with TIMEOUT (slowloris).
   * Time the server itself stopped reading (backpressure) does not count. 0 turns it off.
   */
  frameTimeout: number;
  /** Bytes per second an unfinished frame must keep arriving at, on average, once `frameTimeout` is spent; 0 makes `frameTimeout` a plain limit per frame. */
  minReadRate: number;
  /** Connect + authentication + hello must finish within this (ms), so silent peers cannot hold a slot. */
  handshakeTimeout: number;
  /** `server.close()` waits this long (ms) for in-flight calls before aborting them. */
  closeTimeout: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxInFlight: 256,
  maxFrameSize: 16 * 1024 * 1024,
  maxBufferedBytes: 128 * 1024 * 1024,
  frameTimeout: 30_000,
  minReadRate: 32 * 1024,
  handshakeTimeout: 10_000,
  closeTimeout: 5_000,
});
