/**
 * The browser client's half of the HMAC challenge (HMAC-SHA256 through
 * WebCrypto), loaded by ./client-browser.ts when a page connects with an
 * authkey, and with it the handshake itself (src/auth/handshake.ts).
 */
import { clientHandshake } from "../../src/auth/handshake.js";
import { webCryptoHmac } from "../../src/auth/webcrypto-hmac.js";
import { challengeIO } from "./auth.js";
import type { WsConnection } from "./ws-connection.js";

/** Answer the server's challenge, then challenge it. Rejects with AUTH_FAILED; the caller closes the connection. */
export function authenticateBrowser(conn: WsConnection, authkey: Uint8Array, timeout: number): Promise<void> {
  return clientHandshake(challengeIO(conn), authkey, { hmac: webCryptoHmac, refuseLegacyMd5: true, timeout: Math.max(1, timeout) });
}
