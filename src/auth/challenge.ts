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
import { utf8Encode } from "../serializers/utf8.js";
import type * as Handshake from "./handshake.js";

export { CHALLENGE, isChallenge, resolveAuthkey } from "./authkey.js";

/** One message each way; transports adapt their framing to this. recv() resolves with the next whole message or rejects. */
export interface ChallengeIO {
  send(msg: Uint8Array): void;
  /**
   * The next whole message. A transport should reject (without buffering it)
   * a message longer than `maxLength`; the challenge checks again anyway.
   */
  recv(maxLength: number): Promise<Uint8Array>;
}

/** HMAC provider: Node transports pass one built on node:crypto (sha256 + md5); browsers pass WebCrypto (sha256 only). */
export type HmacFn = (algorithm: "sha256" | "md5", key: Uint8Array, message: Uint8Array) => Uint8Array | Promise<Uint8Array>;

export interface ChallengeOptions {
  hmac: HmacFn;
  /** Refuse the legacy HMAC-MD5 form (Python 3.11 and older peers then fail with AUTH_FAILED). */
  refuseLegacyMd5?: boolean;
  /**
   * Time limit for the whole handshake, ms; past it the handshake rejects
   * with AUTH_FAILED and the transport should drop the peer. No limit when unset or 0.
   */
  timeout?: number;
}

/** Verdict sent by the deliverer when the answer is right. */
export const WELCOME: Uint8Array = utf8Encode("#WELCOME#");
/** Verdict sent by the deliverer when the answer is wrong. */
export const FAILURE: Uint8Array = utf8Encode("#FAILURE#");
/** Random bytes in a challenge we deliver (Python's MESSAGE_LENGTH). */
export const MESSAGE_LENGTH = 40;
/** Largest handshake message read, as Python's `recv_bytes(256)`. */
export const MAX_HANDSHAKE_MESSAGE = 256;

/** True when `a` and `b` hold the same bytes; the time taken depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

// The handshake itself (./handshake.ts) loads when a first one runs: a
// browser page that connects without an authkey never fetches it.
let loading: Promise<typeof Handshake> | undefined;
function handshake(): Promise<typeof Handshake> {
  return (loading ??= import("./handshake.js").catch((err: unknown) => {
    loading = undefined;
    throw err;
  }));
}

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
