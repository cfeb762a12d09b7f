/**
 * The challenge's messages and checks (what src/auth/challenge.ts describes
 * and loads on first use).
 */
import { RpcError } from "../errors.js";
import { utf8Encode } from "../serializers/utf8.js";
import { CHALLENGE, startsWith } from "./authkey.js";
import { FAILURE, MAX_HANDSHAKE_MESSAGE, MESSAGE_LENGTH, WELCOME, constantTimeEqual, type ChallengeIO, type ChallengeOptions } from "./messages.js";

// Python <= 3.11 sends a bare 20-byte challenge and answers with a bare
// 16-byte HMAC-MD5. No prefixed message can have either length, which is how
// the modern protocol tells the two forms apart.
const LEGACY_CHALLENGE_LENGTH = 20;
const MD5_LENGTH = 16;
const SHA256_PREFIX = utf8Encode("{sha256}");
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
// Longest digest name Python allows ("sha3_384"), to bound the prefix search.
const MAX_DIGEST_NAME = 8;

function authFailed(message: string, cause?: unknown): RpcError {
  return new RpcError("AUTH_FAILED", message, cause === undefined ? {} : { cause });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

type Digest = { algorithm: "sha256" | "md5"; legacy: boolean; payload: Uint8Array };

/**
 * Which digest a challenge or an answer asks for, as Python's
 * `_get_digest_name_and_payload`: a 16- or 20-byte message is the legacy
 * bare HMAC-MD5 form, anything else must start with `{name}`.
 */
function digestOf(message: Uint8Array, opts: ChallengeOptions): Digest {
  let d: Digest | undefined;
  if (message.length === LEGACY_CHALLENGE_LENGTH || message.length === MD5_LENGTH) {
    d = { algorithm: "md5", legacy: true, payload: message };
  } else if (message[0] === OPEN_BRACE) {
    const end = message.subarray(0, MAX_DIGEST_NAME + 2).indexOf(CLOSE_BRACE, 1);
    const name = end > 0 ? String.fromCharCode(...message.subarray(1, end)) : "";
    if (name === "sha256" || name === "md5") d = { algorithm: name, legacy: false, payload: message.subarray(end + 1) };
    else if (end > 0) throw authFailed(`the peer asked for digest '${name}'; wirecall supports sha256 and md5`);
  }
  if (!d) throw authFailed(`malformed handshake message (${message.length} bytes, no {digest} prefix)`);
  if (d.algorithm === "md5" && opts.refuseLegacyMd5) throw authFailed("the peer uses legacy HMAC-MD5, refused by refuseLegacyMd5");
  return d;
}

async function hmacOf(opts: ChallengeOptions, algorithm: "sha256" | "md5", key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  try {
    return await opts.hmac(algorithm, key, message);
  } catch (err) {
    throw authFailed(`HMAC-${algorithm.toUpperCase()} is not available here`, err);
  }
}

async function receive(io: ChallengeIO): Promise<Uint8Array> {
  let msg: Uint8Array;
  try {
    msg = await io.recv(MAX_HANDSHAKE_MESSAGE);
  } catch (err) {
    // AUTH_FAILED, or a transport's CONNECT_FAILED that recognised a server of another protocol.
    if (err instanceof RpcError && (err.code === "AUTH_FAILED" || err.code === "CONNECT_FAILED")) throw err;
    throw authFailed(`authentication did not complete: ${(err as Error)?.message ?? err}`, err);
  }
  if (msg.length > MAX_HANDSHAKE_MESSAGE) throw authFailed(`handshake message of ${msg.length} bytes exceeds ${MAX_HANDSHAKE_MESSAGE}`);
  return msg;
}

function send(io: ChallengeIO, msg: Uint8Array): void {
  try {
    io.send(msg);
  } catch (err) {
    throw authFailed(`authentication did not complete: ${(err as Error)?.message ?? err}`, err);
  }
}

/** The answer to `message` (a challenge without its `#CHALLENGE#` prefix), as Python's `_create_response`. */
export async function createResponse(authkey: Uint8Array, message: Uint8Array, opts: ChallengeOptions): Promise<Uint8Array> {
  const d = digestOf(message, opts);
  // The MAC covers the whole message, prefix included, so a peer cannot downgrade the digest.
  const mac = await hmacOf(opts, d.algorithm, authkey, message);
  return d.legacy ? mac : concat(utf8Encode(`{${d.algorithm}}`), mac);
}

/** Throws AUTH_FAILED unless `response` is a right answer to `message`, as Python's `_verify_challenge`. */
export async function verifyResponse(authkey: Uint8Array, message: Uint8Array, response: Uint8Array, opts: ChallengeOptions): Promise<void> {
  const d = digestOf(response, opts);
  const expected = await hmacOf(opts, d.algorithm, authkey, message);
  if (!constantTimeEqual(expected, d.payload)) throw authFailed("the peer's answer to our challenge is wrong (different authkey?)");
}

function randomBytes(n: number): Uint8Array {
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (!c?.getRandomValues) throw authFailed("no secure random source (globalThis.crypto.getRandomValues)");
  return c.getRandomValues(new Uint8Array(n));
}

/** Deliver a challenge and check the peer's answer; sends `#WELCOME#` or `#FAILURE#`. Throws AUTH_FAILED. */
export async function deliverChallenge(io: ChallengeIO, authkey: Uint8Array, opts: ChallengeOptions): Promise<void> {
  const message = concat(SHA256_PREFIX, randomBytes(MESSAGE_LENGTH));
  send(io, concat(CHALLENGE, message));
  const response = await receive(io);
  try {
    await verifyResponse(authkey, message, response, opts);
  } catch (err) {
    try {
      io.send(FAILURE);
    } catch {
      // the peer is gone: nobody to tell
    }
    throw err;
  }
  send(io, WELCOME);
}

/** Answer the peer's challenge and read its verdict. Throws AUTH_FAILED. */
export async function answerChallenge(io: ChallengeIO, authkey: Uint8Array, opts: ChallengeOptions): Promise<void> {
  const msg = await receive(io);
  if (!startsWith(msg, CHALLENGE)) throw authFailed("expected a #CHALLENGE# message (does the peer use an authkey?)");
  const message = msg.subarray(CHALLENGE.length);
  if (message.length < LEGACY_CHALLENGE_LENGTH) throw authFailed(`challenge too short: ${message.length} bytes`);
  send(io, await createResponse(authkey, message, opts));
  const verdict = await receive(io);
  if (constantTimeEqual(verdict, WELCOME)) return;
  if (constantTimeEqual(verdict, FAILURE)) throw authFailed("the peer rejected our answer (different authkey?)");
  throw authFailed("expected #WELCOME# or #FAILURE# from the peer");
}

async function withTimeout(run: Promise<void>, timeout: number | undefined, why = (): string => ""): Promise<void> {
  if (!timeout || timeout <= 0) return run;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(authFailed(`authentication did not complete within ${timeout} ms${why()}`)), timeout);
  });
  // A handshake that fails after the deadline must not surface as an unhandled rejection.
  run.catch(() => {});
  try {
    await Promise.race([run, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Server side: deliver a challenge, then answer the peer's. Throws RpcError AUTH_FAILED. */
export function serverHandshake(io: ChallengeIO, authkey: Uint8Array, opts: ChallengeOptions): Promise<void> {
  const run = (async () => {
    await deliverChallenge(io, authkey, opts);
    await answerChallenge(io, authkey, opts);
  })();
  return withTimeout(run, opts.timeout);
}

/** Client side: answer the server's challenge, then deliver one. Throws RpcError AUTH_FAILED. */
export function clientHandshake(io: ChallengeIO, authkey: Uint8Array, opts: ChallengeOptions): Promise<void> {
  let heard = false;
  const counted: ChallengeIO = {
    send: (m) => io.send(m),
    recv: async (max) => {
      const m = await io.recv(max);
      heard = true;
      return m;
    },
  };
  const run = (async () => {
    await answerChallenge(counted, authkey, opts);
    await deliverChallenge(counted, authkey, opts);
  })();
  // A server without an authkey says nothing first (it waits for the hello), so silence is the only sign.
  const why = (): string => (heard ? "" : ": the server sent no #CHALLENGE#; a server without an authkey (or an HTTP or TLS server) waits for the client to speak first. Connect without an authkey if the server has none");
  return withTimeout(run, opts.timeout, why);
}
