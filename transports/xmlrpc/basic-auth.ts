/**
 * HTTP Basic authentication, XML-RPC's usual authentication (Python's
 * `ServerProxy("http://user:pass@host/")` sends it): the client's header and
 * the server's check. Basic auth sends the password in clear text on every
 * request, so outside loopback use it over `xmlrpc+https`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { RpcError } from "../../src/transport-sdk.js";

/** One user and password, or a function that checks the pair (may be async, e.g. a lookup). */
export type BasicAuthVerifier = { readonly username: string; readonly password: string } | ((username: string, password: string) => boolean | Promise<boolean>);

/**
 * A server's Basic auth setting: a verifier, or `false` to say on purpose
 * that this endpoint has no authentication (an authkey from WIRECALL_AUTHKEY
 * is then not refused; see docs/xmlrpc.md).
 */
export type BasicAuthOption = BasicAuthVerifier | false;

/** The `Authorization` header value for a user and password. */
export function basicAuthHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

/** The user and password of an `Authorization: Basic ...` header, or undefined when it is absent or not Basic. */
export function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^\s*basic\s+([A-Za-z0-9+/=]{0,4096})\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1] as string, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

// Equal-length digests, so the comparison takes the same time whatever the guess.
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** True when the request's `Authorization` header satisfies `verifier`. */
export async function checkBasicAuth(verifier: BasicAuthVerifier, header: string | undefined): Promise<boolean> {
  const given = parseBasicAuth(header);
  if (!given) return false;
  if (typeof verifier === "function") return (await verifier(given.username, given.password)) === true;
  // Both compared, always: no early exit on the user name.
  const user = sameSecret(given.username, verifier.username);
  const pass = sameSecret(given.password, verifier.password);
  return user && pass;
}

/** Validate a `basicAuth` option's shape (a typo must not turn authentication off). */
export function checkBasicAuthOption(v: unknown): BasicAuthOption | undefined {
  if (v === undefined || v === false || typeof v === "function") return v as BasicAuthOption | undefined;
  if (typeof v === "object" && v !== null) {
    const o = v as { username?: unknown; password?: unknown };
    if (typeof o.username === "string" && typeof o.password === "string") return { username: o.username, password: o.password };
  }
  throw new RpcError("INVALID_URL", "option 'basicAuth' must be { username, password } (strings), a function (username, password) => boolean, or false");
}
