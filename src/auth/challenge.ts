/**
 * The mutual HMAC challenge of Python's `multiprocessing.connection`,
 * transport-agnostic and browser-safe (no node:* imports).
 *
 * One side delivers a challenge (`#CHALLENGE#` + `{sha256}` + 40 random
 * bytes), the other answers with `{sha256}` + HMAC-SHA256(authkey, message),
 * and the deliverer replies `#WELCOME#` or `#FAILURE#`. A server delivers
 * first and then answers; a client answers first and then delivers. The
 * legacy form of Python 3.11 and older (a bare 20-byte message answered by a
 * bare 16-byte HMAC-MD5) is accepted in both roles unless `refuseLegacyMd5`.
 *
 * Transports only adapt their framing to {@link ChallengeIO}; every decision
 * (what to send, what to accept, which error) is made here, so that a peer is
 * authenticated the same way on TCP, WebSocket and ZeroMQ.
 */
import type { ChallengeIO, ChallengeOptions } from "./messages.js";
import { Lazy } from "../lazy.js";
import type * as Handshake from "./handshake.js";

export { CHALLENGE, isChallenge, resolveAuthkey } from "./authkey.js";

export { FAILURE, MAX_HANDSHAKE_MESSAGE, MESSAGE_LENGTH, WELCOME, constantTimeEqual } from "./messages.js";
export type { ChallengeIO, ChallengeOptions, HmacFn } from "./messages.js";

// The handshake itself (./handshake.ts) loads when a first one runs: a
// browser page that connects without an authkey never fetches it.
const loader = new Lazy("HMAC challenge", () => import("./handshake.js"));
const handshake = (): Promise<typeof Handshake> => loader.load();

/** The answer to a challenge message: `{sha256}` + HMAC (or the bare legacy HMAC-MD5). */
export async function createResponse(authkey: Uint8Array, message: Uint8Array, opts: ChallengeOptions): Promise<Uint8Array> {
  return (await handshake()).createResponse(authkey, message, opts);
}

/** Resolves when `response` answers `message` under `authkey`; rejects with AUTH_FAILED. */
export async function verifyResponse(authkey: Uint8Array, message: Uint8Array, response: Uint8Array, opts: ChallengeOptions): Promise<void> {
  return (await handshake()).verifyResponse(authkey, message, response, opts);
}

/** Send a challenge, check the answer, send the verdict. */
export async function deliverChallenge(io: ChallengeIO, authkey: Uint8Array, opts: ChallengeOptions): Promise<void> {
  return (await handshake()).deliverChallenge(io, authkey, opts);
}

/** Read a challenge, answer it, read the verdict. */
export async function answerChallenge(io: ChallengeIO, authkey: Uint8Array, opts: ChallengeOptions): Promise<void> {
  return (await handshake()).answerChallenge(io, authkey, opts);
}

/** The server's side: challenge the client, then answer its challenge (AUTH_FAILED on any mismatch or timeout). */
export async function serverHandshake(io: ChallengeIO, authkey: Uint8Array, opts: ChallengeOptions): Promise<void> {
  return (await handshake()).serverHandshake(io, authkey, opts);
}

/** The client's side: answer the server's challenge, then challenge it (AUTH_FAILED on any mismatch or timeout). */
export async function clientHandshake(io: ChallengeIO, authkey: Uint8Array, opts: ChallengeOptions): Promise<void> {
  return (await handshake()).clientHandshake(io, authkey, opts);
}
