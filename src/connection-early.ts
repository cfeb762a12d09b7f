/**
 * The handshake read of {@link ConnectionBase} (`receiveBeforeOpen`): the
 * next frame from the peer before `open()`, for a transport that runs a
 * handshake itself (the HMAC challenge of an authkey). Loaded by the first
 * such read, so a page that connects without an authkey never fetches it.
 */
import { RpcError } from "./errors.js";

/** A handshake read waiting for the next frame. */
export type EarlyRead = { resolve: (frame: Uint8Array) => void; reject: (err: unknown) => void };

/** How this module reaches into a connection (src/connection-base.ts fills it in). */
export interface EarlyAccess<C> {
  /** `open()` was called, or a handshake read already waits. */
  busy(c: C): boolean;
  /** The first frame held, if any (reading restarts once what is still held is under budget). */
  take(c: C): Uint8Array | undefined;
  /** Why no frame can come any more; undefined while the transport is up. */
  gone(c: C): Error | undefined;
  /** Hand the next frame to `early`. */
  wait(c: C, early: EarlyRead): void;
}

/** The next frame, held ones first; rejects as `receiveBeforeOpen` documents. */
export function receive<C>(c: C, a: EarlyAccess<C>, maxLength: number): Promise<Uint8Array> {
  if (a.busy(c)) return Promise.reject(new RpcError("INTERNAL_ERROR", "a handshake read after open() or while another read waits"));
  const held = a.take(c);
  if (held !== undefined) return held.byteLength > maxLength ? Promise.reject(tooLong(held, maxLength)) : Promise.resolve(held);
  const gone = a.gone(c);
  if (gone !== undefined) return Promise.reject(gone);
  return new Promise((resolve, reject) => {
    a.wait(c, { resolve: (frame) => (frame.byteLength > maxLength ? reject(tooLong(frame, maxLength)) : resolve(frame)), reject });
  });
}

function tooLong(frame: Uint8Array, max: number): RpcError {
  return new RpcError("PAYLOAD_TOO_LARGE", `handshake message of ${frame.byteLength} bytes exceeds ${max}`);
}
