/** The mutual HMAC challenge shared by every authenticated transport. */
export { CHALLENGE, isChallenge, resolveAuthkey } from "./authkey.js";
export {
  FAILURE,
  MAX_HANDSHAKE_MESSAGE,
  MESSAGE_LENGTH,
  WELCOME,
  answerChallenge,
  clientHandshake,
  constantTimeEqual,
  createResponse,
  deliverChallenge,
  serverHandshake,
  verifyResponse,
} from "./challenge.js";
export type { ChallengeIO, ChallengeOptions, HmacFn } from "./challenge.js";
export { webCryptoHmac } from "./webcrypto-hmac.js";
