/**
 * ZeroMQ's CURVE security (CurveZMQ: encryption plus server authentication,
 * and client authentication through a ZAP handler when the server lists the
 * client keys it accepts), and the ZAP handler's other duty: refusing peers
 * that are not on loopback for a server that could not otherwise tell who
 * they are (no authkey, no client keys).
 */
import type { Router } from "zeromq";
import { RpcError } from "../../src/transport-sdk.js";
import { isLoopback } from "../net-address.js";
import type { ZeroMQModule } from "./load-zeromq.js";
import { stringOption, type SocketSettings, type ZmqOptions } from "./zmq-options.js";

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

function key(options: ZmqOptions, name: string): string | undefined {
  const k = stringOption(options, name);
  if (k !== undefined && !Z85_KEY.test(k)) throw new RpcError("INVALID_URL", `${name} must be a 40-character Z85 CURVE key`);
  return k;
}

/** Socket options for a client: CURVE on when `curveServerKey` is given, with a fresh key pair unless one is. */
export function curveClientOptions(zmq: ZeroMQModule, options: ZmqOptions): SocketSettings {
  const serverKey = key(options, "curveServerKey");
  if (!serverKey) return {};
  let publicKey = key(options, "curvePublicKey");
  let secretKey = key(options, "curveSecretKey");
  if (!publicKey || !secretKey) {
    if (publicKey || secretKey) throw new RpcError("INVALID_URL", "give both curvePublicKey and curveSecretKey, or neither (a fresh pair is made)");
    ({ publicKey, secretKey } = zmq.curveKeyPair());
  }
  return { curveServerKey: serverKey, curvePublicKey: publicKey, curveSecretKey: secretKey };
}

/** Socket options for a server (or a broker's frontend): CURVE on when `curveSecretKey` is given. */
export function curveServerOptions(options: ZmqOptions): SocketSettings {
  const secretKey = key(options, "curveSecretKey");
  if (!secretKey) {
    if (options.curveClientKeys !== undefined) throw new RpcError("INVALID_URL", "curveClientKeys needs curveSecretKey (the server's CURVE key)");
    return {};
  }
  const publicKey = key(options, "curvePublicKey");
  return publicKey ? { curveServer: true, curveSecretKey: secretKey, curvePublicKey: publicKey } : { curveServer: true, curveSecretKey: secretKey };
}

/** The allow-list of client keys, or undefined for "any client that knows the server key". */
export function curveClientKeys(options: ZmqOptions): Set<string> | undefined {
  const v = options.curveClientKeys;
  if (v === undefined) return undefined;
  const list = typeof v === "string" ? v.split(",").filter((s) => s !== "") : [...v];
  for (const k of list) if (!Z85_KEY.test(k)) throw new RpcError("INVALID_URL", "curveClientKeys must hold 40-character Z85 CURVE public keys");
  return new Set(list);
}

// ---- ZAP: one handler per process (ZeroMQ looks for it at a fixed inproc
// address in the socket's context), serving every server that has an
// allow-list or admits loopback peers only, each under its own ZAP domain.
// ZeroMQ asks it about every new connection to such a socket, whatever the
// mechanism (NULL included), before any message of that connection is read.

/** What one server's ZAP domain admits. */
export interface ZapPolicy {
  /** CURVE client public keys (Z85) allowed in; undefined: any. */
  readonly keys?: Set<string> | undefined;
  /** Admit only tcp peers whose address is on loopback (127.0.0.0/8, ::1). */
  readonly loopbackOnly: boolean;
  /** Told about each peer refused, with its address (IP for tcp). */
  readonly refused?: ((err: RpcError, address: string) => void) | undefined;
}

const ZAP_ENDPOINT = "inproc://zeromq.zap.01";
const domains = new Map<string, ZapPolicy>();
/** The handler socket and its bind, while any policy is registered. */
let zap: { sock: Router; bound: Promise<void> } | undefined;
/**
 * The last handler socket letting go of the endpoint: closing a socket frees
 * its inproc address only later, in ZeroMQ's threads, so the next handler
 * binds after an explicit unbind has finished.
 */
let released: Promise<void> = Promise.resolve();
let nextDomain = 0;

/**
 * Register a policy; returns the ZAP domain to set on the server socket
 * and a release function. The handler socket exists while any policy does
 * (a pending receive would keep the process alive).
 */
export async function registerZapDomain(zmq: ZeroMQModule, policy: ZapPolicy): Promise<{ domain: string; release: () => void }> {
  const domain = `wirecall-${process.pid}-${++nextDomain}`;
  domains.set(domain, policy);
  const release = (): void => {
    if (!domains.delete(domain) || domains.size > 0 || !zap) return;
    const { sock, bound } = zap;
    zap = undefined;
    released = bound
      .then(() => sock.unbind(ZAP_ENDPOINT))
      .then(undefined, () => {})
      .then(() => sock.close());
  };
  if (!zap) {
    const sock = new zmq.Router({ linger: 0 });
    const bound = released.then(() => sock.bind(ZAP_ENDPOINT));
    zap = { sock, bound };
    void bound.then(() => serveZap(sock), () => {});
  }
  try {
    await zap.bound;
  } catch (err) {
    release();
    throw err;
  }
  return { domain, release };
}

async function serveZap(sock: Router): Promise<void> {
  try {
    for await (const msg of sock) {
      // [routing, "", version, requestId, domain, address, identity, mechanism, credentials...] (ZMQ RFC 27)
      const [routing, , version, requestId, domain, addressFrame, , mechanism, credential] = msg;
      if (!routing || !requestId) continue;
      let status = "200";
      let text = "OK";
      let user = "";
      const policy = domains.get(domain?.toString() ?? "");
      const address = addressFrame?.toString() ?? "";
      if (version?.toString() !== "1.0") {
        status = "500";
        text = "unsupported ZAP version";
      } else if (policy) {
        if (policy.loopbackOnly && !isLoopback(address)) {
          status = "400";
          text = "remote peer refused";
          tell(policy, new RpcError("AUTH_FAILED", "refused a remote peer: without an authkey or curveClientKeys only loopback peers are accepted (allowRemote: true to change that)"), address);
        } else if (policy.keys) {
          if (mechanism?.toString() !== "CURVE" || !credential || credential.length !== 32) {
            status = "400";
            text = "CURVE required";
          } else {
            const clientKey = z85Encode(credential);
            if (!policy.keys.has(clientKey)) {
              status = "400";
              text = "client key not allowed";
              tell(policy, new RpcError("AUTH_FAILED", "refused a peer whose CURVE public key is not in curveClientKeys"), address);
            } else {
              user = clientKey;
            }
          }
        }
      }
      await sock.send([routing, "", "1.0", requestId, status, text, user, ""]);
    }
  } catch {
    // the socket closed while sending: nothing left to authorise
  }
}

/** Report a refusal; a throwing hook must not stop the one ZAP handler of the process. */
function tell(policy: ZapPolicy, err: RpcError, address: string): void {
  try {
    policy.refused?.(err, address);
  } catch {
    // the user's hook failed; the refusal stands
  }
}

const Z85_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** Z85 (ZMQ RFC 32) of a byte string whose length is a multiple of 4. */
export function z85Encode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    let value = (((bytes[i] as number) << 24) >>> 0) + ((bytes[i + 1] as number) << 16) + ((bytes[i + 2] as number) << 8) + (bytes[i + 3] as number);
    let chunk = "";
    for (let j = 0; j < 5; j++) {
      chunk = (Z85_CHARS[value % 85] as string) + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}
