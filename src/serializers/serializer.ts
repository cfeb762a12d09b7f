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
   * Optional scatter/gather form of {@link encode}, for serializers that
   * know where their large binary values are (msgpack). Returns one frame
   * as a single buffer, or as parts whose concatenation is byte for byte
   * what `encode` returns: the large binary values are parts of their own,
   * the caller's own memory, so a transport can write them without a copy
   * (`Connection.sendParts`). The parts must not be modified while queued.
   */
  encodeParts?(value: unknown): Uint8Array | Uint8Array[];
  /**
   * May return values that are views into `frame` (no copy): transports hand
   * over frames they never reuse (see ConnectionSink.frame).
   */
  decode(frame: Uint8Array): unknown;
}
