/**
 * What a client needs of the challenge before it knows whether it will run
 * one: its authkey, and whether a server is challenging a client that has
 * none. Apart from ./challenge.ts so that a page connecting without an
 * authkey loads no handshake code (its transport imports that on demand).
 */
import { RpcError } from "../errors.js";
import { utf8Encode } from "../serializers/utf8.js";

/** Prefix of a challenge message. */
export const CHALLENGE: Uint8Array = utf8Encode("#CHALLENGE#");

export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** True when `frame` is a challenge: lets a client without an authkey say why a server is talking past it. */
export function isChallenge(frame: Uint8Array): boolean {
  return startsWith(frame, CHALLENGE);
}

/** The authkey from an option or the WIRECALL_AUTHKEY environment variable (via globalThis.process?.env), as bytes; undefined when neither. */
export function resolveAuthkey(option: string | Uint8Array | false | undefined): Uint8Array | undefined {
  if (option === false) return undefined;
  if (option instanceof Uint8Array) return option;
  if (typeof option === "string") return utf8Encode(option);
  if (option !== undefined && option !== null) throw new RpcError("AUTH_FAILED", "authkey must be a string or a Uint8Array");
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WIRECALL_AUTHKEY;
  // An empty variable is treated as unset: `WIRECALL_AUTHKEY= cmd` is how a shell unsets it for one command.
  return env ? utf8Encode(env) : undefined;
}
