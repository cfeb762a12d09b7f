/**
 * Every limit in one place, each with what it guards. Transports and the
 * core take `Partial<Limits>` overrides from options.
 */
export interface Limits {
  /** Calls running at once per connection; past it the connection stops being read, so a flood queues in the peer's socket, not in our memory. */
  maxInFlight: number;
  /** Largest frame accepted (bytes), checked before the body is buffered where the framing allows. */
  maxFrameSize: number;
  /** Connect + authentication + hello must finish within this (ms), so silent peers cannot hold a slot. */
  handshakeTimeout: number;
  /** `server.close()` waits this long (ms) for in-flight calls before aborting them. */
  closeTimeout: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxInFlight: 256,
  maxFrameSize: 64 * 1024 * 1024,
  handshakeTimeout: 10_000,
  closeTimeout: 5_000,
});
