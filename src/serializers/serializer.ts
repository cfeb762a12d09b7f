/**
 * A serializer turns one envelope (plain arrays, objects and the value types
 * it supports) into one frame and back. `encode` and `decode` may throw; the
 * core wraps what they throw as `SERIALIZE_ERROR` / `PROTOCOL_ERROR`.
 */
export interface Serializer {
  /** Registry name, as used in URLs (`?serializer=msgpack`) and the hello. */
  readonly name: string;
  /**
   * False when frames are UTF-8 text (WebSocket then sends text messages).
   * Omitted means binary, which carries any bytes: DESIGN.md's serializer is
   * just a name, encode and decode.
   */
  readonly binary?: boolean;
  encode(value: unknown): Uint8Array;
  /**
   * May return values that are views into `frame` (no copy): transports hand
   * over frames they never reuse (see ConnectionSink.frame).
   */
  decode(frame: Uint8Array): unknown;
}
