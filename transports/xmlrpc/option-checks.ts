/**
 * Options that other transports honour and XML-RPC cannot: refused with an
 * `INVALID_URL` error that says what to use instead, never silently dropped
 * (a config switched from `tcp://` to `xmlrpc+http://` must not lose its
 * authentication or its serializer without a word).
 */
import { RpcError } from "../../src/transport-sdk.js";

const USE_BASIC_AUTH =
  "use HTTP Basic auth instead (the basicAuth option on both sides, or user:password@ in the client's URL, as Python's ServerProxy does), over xmlrpc+https:// outside loopback";

/**
 * Refuse an authkey. The `authkey` option is always refused: XML-RPC has no
 * HMAC challenge to use it in. WIRECALL_AUTHKEY from the environment is
 * refused when the endpoint has no Basic auth either (`authenticated`
 * false) and `basicAuth: false` does not say that is intended: the variable
 * says "this process authenticates its connections", and an XML-RPC
 * endpoint quietly running without authentication is what its owner must
 * hear about. With Basic auth configured (or declined with `basicAuth:
 * false`), the variable is left to the process's other transports.
 */
export function refuseAuthkey(options: { authkey?: unknown; basicAuth?: unknown }, side: "server" | "client", authenticated: boolean): void {
  if (options.authkey !== undefined) {
    throw new RpcError("INVALID_URL", `XML-RPC cannot use an authkey (it has no HMAC challenge), so the ${side} would run without it: ${USE_BASIC_AUTH}`);
  }
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WIRECALL_AUTHKEY;
  if (env && !authenticated && options.basicAuth !== false) {
    throw new RpcError(
      "INVALID_URL",
      `WIRECALL_AUTHKEY is set, but XML-RPC cannot use an authkey, so this ${side} would run without authentication: ${USE_BASIC_AUTH}; or pass basicAuth: false to run without authentication on purpose`,
    );
  }
}

/** Refuse a `serializer` option: XML-RPC documents are their own encoding. */
export function refuseSerializer(options: object): void {
  const serializer = (options as { serializer?: unknown }).serializer;
  if (serializer !== undefined) {
    throw new RpcError(
      "INVALID_URL",
      `XML-RPC has its own wire format and takes no serializer (got ${JSON.stringify(String(serializer).slice(0, 40))}); remove the option. ` +
        "To carry XML-RPC values over a frame transport, registerSerializer(xmlrpcSerializer) and use serializer: 'xmlrpc' on tcp:// or ws://",
    );
  }
}
