/** The challenge's messages, bounds and seams (src/auth/challenge.ts), apart from the handshake that ./handshake.ts runs. */
import { utf8Encode } from "../serializers/utf8.js";

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
