/**
 * The mutual HMAC challenge of src/auth, carried in WebSocket messages (one
 * handshake message = one binary WebSocket message), so an authkey works
 * the same on every transport. Legacy HMAC-MD5 is always refused here: it
 * only exists for old Python peers, which speak TCP, not WebSocket.
 */
// By their own paths, as ./options.ts says why (./browser-auth.ts imports this file).
import { clientHandshake, serverHandshake, type ChallengeIO, type HmacFn } from "../../src/auth/challenge.js";
import type { WsConnection } from "./ws-connection.js";

/** One handshake message each way as one binary WebSocket message, on a connection not yet opened. */
export function challengeIO(conn: WsConnection): ChallengeIO {
  return {
    send: (msg) => {
      conn.send(msg, false);
    },
    recv: (maxLength) => conn.nextMessage(maxLength),
  };
}

/** Run the challenge on a connection not yet opened. Rejects with AUTH_FAILED; the caller closes the connection. */
export function authenticate(conn: WsConnection, role: "client" | "server", authkey: Uint8Array, hmac: HmacFn, timeout: number): Promise<void> {
  const opts = { hmac, refuseLegacyMd5: true, timeout: Math.max(1, timeout) };
  return (role === "server" ? serverHandshake : clientHandshake)(challengeIO(conn), authkey, opts);
}
