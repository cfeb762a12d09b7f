/**
 * Peer addresses as node:net reports them, for the Node servers of every
 * transport (tcp, ws). Node-only by use, dependency-free by design, so that
 * no transport imports another one's folder for it.
 */

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.");
}
