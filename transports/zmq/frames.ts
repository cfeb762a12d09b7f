/**
 * The multipart layout of the ZeroMQ transport (docs/protocol.md, section 5.4).
 *
 * As a ROUTER sees it, a message is `[routing..., "", body...]`: one or more
 * routing frames (the peer's identity, plus one per broker hop), the empty
 * delimiter of REQ/REP, then the body. The body is `[payload]`, or
 * `[hello, payload]` when the client repeats its hello so that any worker
 * behind a load-balancing broker can decode the payload without having seen
 * the first message. An empty payload is a goodbye: the session is over.
 */
import { RpcError, json, toWireError } from "../../src/transport-sdk.js";

export const EMPTY: Buffer = Buffer.alloc(0);
/** A client's first message when the server wants the authkey challenge: the server cannot deliver a challenge to a peer it has not heard from. */
export const KNOCK: Buffer = Buffer.from("#AUTH#");
/** The server's last handshake message: the challenge is over both ways and calls may flow (a REQ peer needs one reply per request anyway). */
export const READY: Buffer = Buffer.from("#WELCOME#");
/** The server's answer to a message too long to be a knock (over 256 bytes) from a peer it does not know: authenticate first. */
export const REFUSED: Buffer = Buffer.from("#FAILURE#");

/** Routing frames allowed before the delimiter: the peer identity plus a few broker hops. */
export const MAX_ROUTING_FRAMES = 4;
/** ZeroMQ routing ids are at most 255 bytes. */
const MAX_ROUTING_FRAME = 255;

export type Routed = { routing: Buffer[]; body: Buffer[] };

/** Split a ROUTER message at the empty delimiter, or say what is wrong with it. */
export function splitRouted(msg: readonly Buffer[]): Routed | string {
  let i = 1; // the first frame is the identity our ROUTER put there, never empty
  while (i < msg.length && (msg[i] as Buffer).length !== 0) i++;
  if (i >= msg.length) return "no empty delimiter frame before the payload";
  if (i > MAX_ROUTING_FRAMES) return `more than ${MAX_ROUTING_FRAMES} routing frames`;
  const routing = msg.slice(0, i);
  for (const f of routing) if (f.length > MAX_ROUTING_FRAME) return "routing frame longer than 255 bytes";
  const body = msg.slice(i + 1);
  if (body.length === 0) return "no payload frame after the delimiter";
  if (body.length > 2) return `${body.length} frames after the delimiter; expected [payload] or [hello, payload]`;
  return { routing, body };
}

/** A map key for a routing stack; length-prefixed so that no two stacks share a key. */
export function peerKey(routing: readonly Buffer[]): string {
  let key = "";
  for (const f of routing) key += String.fromCharCode(f.length) + f.toString("latin1");
  return key;
}

/** A readable name for a peer: its routing frames in hex. */
export function peerName(routing: readonly Buffer[]): string {
  return `zmq-peer:${routing.map((f) => f.toString("hex")).join("/")}`;
}

/**
 * A transport-level error for a message that never reached a session (wrong
 * frame count): always the JSON error envelope `[2, null, error]`, since no
 * serializer was agreed for it.
 */
export function protocolErrorFrame(message: string): Uint8Array {
  return json.encode([2, null, toWireError(new RpcError("PROTOCOL_ERROR", message))]);
}
