/**
 * The mutual HMAC challenge of src/auth, carried in WebSocket messages (one
 * handshake message = one binary WebSocket message), so an authkey works
 * the same on every transport. Legacy HMAC-MD5 is always refused here: it
 * only exists for old Python peers, which speak TCP, not WebSocket.
 */
import { clientHandshake, serverHandshake, type ChallengeIO, type HmacFn } from "../../src/transport-sdk.js";
import type { WsConnection } from "./ws-connection.js";

/** Run the challenge on a connection not yet opened. Rejects with AUTH_FAILED; the caller closes the connection. */
export function authenticate(conn: WsConnection, role: "client" | "server", authkey: Uint8Array, hmac: HmacFn, timeout: number): Promise<void> {
  const io: ChallengeIO = {
    send: (msg) => {
      conn.send(msg, false);
    },
    recv: (maxLength) => conn.nextMessage(maxLength),
  };
  const opts = { hmac, refuseLegacyMd5: true, timeout: Math.max(1, timeout) };
  return role === "server" ? serverHandshake(io, authkey, opts) : clientHandshake(io, authkey, opts);
}
