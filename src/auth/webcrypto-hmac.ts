/**
 * An {@link HmacFn} on WebCrypto, for browsers (and any runtime with
 * `globalThis.crypto.subtle`). WebCrypto has no MD5, so peers that only speak
 * the legacy HMAC-MD5 form (Python 3.11 and older) fail with AUTH_FAILED.
 */
import type { HmacFn } from "./challenge.js";

interface Subtle {
  importKey(format: "raw", key: Uint8Array, alg: { name: "HMAC"; hash: string }, extractable: false, usages: ["sign"]): Promise<unknown>;
  sign(alg: "HMAC", key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
}

export const webCryptoHmac: HmacFn = async (algorithm, key, message) => {
  if (algorithm !== "sha256") throw new Error(`WebCrypto has no HMAC-${algorithm.toUpperCase()}`);
  const subtle = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (!subtle) throw new Error("WebCrypto (crypto.subtle) is not available; it needs a secure context");
  const k = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, message));
};
