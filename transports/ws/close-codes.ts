/**
 * How a wirecall error crosses a WebSocket close frame, both ways.
 *
 * A close with an error uses code 4000 and the reason `"<CODE>: <message>"`
 * (at most 123 bytes, the limit of a close reason), so the peer learns the
 * stable code without a frame of its own. Browsers may only send 1000 and
 * 3000-4999, which is why no other code is ever sent by wirecall itself.
 */
import { RpcError } from "../../src/errors.js"; // not the SDK: see ./options.ts

/** Orderly close. */
export const NORMAL = 1000;
/** The peer is leaving (a browser tab closing, a server going down). */
export const GOING_AWAY = 1001;
/** No close code in the frame. */
export const NO_STATUS = 1005;
/** The connection dropped without a close frame (never sent on the wire). */
export const ABNORMAL = 1006;
/** A message exceeded the receiver's maxPayload (sent by `ws` itself). */
export const MESSAGE_TOO_BIG = 1009;
/** wirecall closed the connection because of an error; the reason holds its code. */
export const WIRECALL_ERROR = 4000;

const MAX_REASON_BYTES = 123;
const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;
const encoder = new TextEncoder();

/** The close frame for a local close: 1000 for an orderly one, 4000 + "CODE: message" otherwise. */
export function closeFrameFor(err: Error | undefined): { code: number; reason: string } {
  if (!err) return { code: NORMAL, reason: "" };
  const code = typeof (err as { code?: unknown }).code === "string" ? (err as RpcError).code : "CONNECTION_CLOSED";
  let reason = `${code}: ${err.message}`;
  // Trim whole characters until the UTF-8 form fits (close reasons are short; this is not a hot path).
  while (encoder.encode(reason).byteLength > MAX_REASON_BYTES) reason = reason.slice(0, -1);
  return { code: WIRECALL_ERROR, reason };
}

/**
 * The error the sink gets for a close the peer (or the network) made:
 * undefined for an orderly close, else an RpcError whose code says why.
 */
export function closeErrorFor(code: number, reason: string): RpcError | undefined {
  const peer = "the peer closed the connection";
  switch (code) {
    case NORMAL:
    case GOING_AWAY:
    case NO_STATUS:
      return undefined;
    case MESSAGE_TOO_BIG:
      return new RpcError("PAYLOAD_TOO_LARGE", `${peer}: a message exceeded its size limit${reason ? ` (${reason})` : ""}`);
    case ABNORMAL:
      return new RpcError("CONNECTION_CLOSED", "the connection was lost without a close frame");
    case WIRECALL_ERROR: {
      const sep = reason.indexOf(":");
      const remoteCode = sep > 0 ? reason.slice(0, sep) : reason;
      return new RpcError(CODE_PATTERN.test(remoteCode) ? remoteCode : "CONNECTION_CLOSED", `${peer}: ${reason}`);
    }
    default:
      return new RpcError("CONNECTION_CLOSED", `${peer} with code ${code}${reason ? `: ${reason}` : ""}`);
  }
}
