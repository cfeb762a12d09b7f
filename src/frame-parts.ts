/**
 * The session's one way to encode and send a frame: in parts when the
 * serializer can say where its large binary values are and the frame has
 * some (scatter/gather, `Serializer.encodeParts`), else as one buffer.
 * A connection without `sendParts` gets the parts joined, one copy, as
 * the serializer would have made anyway.
 */
import { joinParts } from "./connection-base.js";
import type { Serializer } from "./serializers/serializer.js";
import type { Connection } from "./transport.js";

/** An encoded frame: one buffer, or parts to be sent in order. */
export type OutFrame = Uint8Array | Uint8Array[];

export function encodeFrame(s: Serializer, value: unknown): OutFrame {
  return s.encodeParts === undefined ? s.encode(value) : s.encodeParts(value);
}

/** `conn.send` for an {@link OutFrame}; returns what the connection returned. */
export function sendFrame(conn: Connection, frame: OutFrame, text: boolean): boolean {
  if (!Array.isArray(frame)) return conn.send(frame, text);
  return conn.sendParts === undefined ? conn.send(joinParts(frame), text) : conn.sendParts(frame, text);
}
