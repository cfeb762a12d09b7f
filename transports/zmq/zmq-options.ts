/**
 * The ZeroMQ transport's options, URL handling and socket settings. Options
 * arrive from code or from the URL's query string (then as strings), so every
 * reader here accepts both.
 */
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS, RpcError, type OptionSpecs, type TransportOptions } from "../../src/transport-sdk.js";

/** Options of the `zmq+tcp://` and `zmq+ipc://` transports, on top of the common ones. */
export interface ZmqOptions extends TransportOptions {
  /** Client socket: `dealer` (default: many calls in flight) or `req` (strict lock-step, for REP servers). Query: `?socket=req`. */
  socket?: "dealer" | "req";
  /** Server: connect the ROUTER to a broker's backend instead of binding (a worker). Query: `?connect=1`. */
  connect?: boolean | string;
  /** ZMQ_SNDHWM: messages queued per peer before ZeroMQ blocks (DEALER) or drops (ROUTER). Default 10000. */
  sendHighWaterMark?: number | string;
  /** ZMQ_RCVHWM: messages queued per peer on receipt before ZeroMQ stops reading that peer. Default 10000. */
  receiveHighWaterMark?: number | string;
  /** ZMQ_LINGER, ms: how long `close()` keeps trying to deliver queued messages. Default 1000. */
  linger?: number | string;
  /**
   * ZMTP heartbeats every this many ms (0: off, the default). Without them a
   * peer whose host vanished goes unnoticed until TCP gives up; with them the
   * connection drops after one silent interval and a client sees `CONNECTION_CLOSED`.
   */
  heartbeatInterval?: number | string;
  /**
   * Server: peers (ROUTER identities) holding a session at once; past it the
   * least recently active one is dropped. With an authkey only authenticated
   * peers count: challenges in progress are bounded apart (1024, 4 per
   * ZeroMQ connection) and never push a session out. Default 10000.
   */
  maxPeers?: number | string;
  /**
   * Server: without an authkey or `curveClientKeys`, serve tcp peers that are
   * not on loopback too. Default false: such peers are refused in ZeroMQ's
   * own handshake (ZAP), as tcp and ws refuse them. ipc is always served:
   * the socket file's permissions decide who may connect.
   */
  allowRemote?: boolean | string;
  /** Server: a peer silent (nothing sent or received) this long, ms, loses its session. 0 disables. Default 600000 (10 min). */
  peerIdleTimeout?: number | string;
  /** CURVE, client: the server's public key (Z85, 40 chars). Setting it turns CURVE on. */
  curveServerKey?: string;
  /** CURVE: this side's public key (Z85). A client without one gets a fresh key pair. */
  curvePublicKey?: string;
  /** CURVE: this side's secret key (Z85). On a server, setting it turns CURVE on. Never put it in a URL. */
  curveSecretKey?: string;
  /** CURVE, server: the client public keys (Z85) allowed in; others fail the handshake. Default: any client that knows the server key. */
  curveClientKeys?: readonly string[] | string;
  /**
   * Server: told about every peer dropped during authentication, with code
   * `AUTH_FAILED` (`SHUTTING_DOWN` when the server closed mid-challenge):
   * an authkey challenge that failed, was abandoned or displaced, did not
   * finish within `handshakeTimeout`, or was preceded by a message over 256
   * bytes (`remoteAddress`: the peer's routing identity, as its session's
   * `remoteAddress` would read); a peer refused by the ZAP handler (a CURVE
   * key not in `curveClientKeys`, a remote peer of a loopback-only server;
   * `remoteAddress`: its IP address); or another failed ZeroMQ security
   * handshake (`remoteAddress`: undefined, ZeroMQ does not say which peer).
   * Never given the authkey.
   */
  onHandshakeError?: (err: RpcError, remoteAddress: string | undefined) => void;
  /** Refuse a server that answers the authkey challenge with the legacy HMAC-MD5 form. */
  refuseLegacyMd5?: boolean | string;
}

/**
 * The declaration `serve`/`connect` check zmq+tcp:// and zmq+ipc:// options
 * against (src/options.ts): one entry per {@link ZmqOptions} field, for both
 * sides (a worker's ROUTER connects like a client; a client given a
 * server-only option says so itself).
 */
export const ZMQ_OPTIONS: OptionSpecs = {
  socket: { type: "string", query: true, values: ["dealer", "req"] },
  connect: { type: "boolean", query: true },
  sendHighWaterMark: { type: "number", query: true },
  receiveHighWaterMark: { type: "number", query: true },
  linger: { type: "number", query: true },
  heartbeatInterval: { type: "number", query: true },
  maxPeers: { type: "number", query: true },
  allowRemote: { type: "boolean", query: true },
  peerIdleTimeout: { type: "number", query: true },
  curveServerKey: { type: "string", query: true },
  curvePublicKey: { type: "string", query: true },
  curveSecretKey: { type: "string" },
  // A comma-separated list in a query string.
  curveClientKeys: { type: ["string", "object"], query: true },
  onHandshakeError: { type: "function" },
  refuseLegacyMd5: { type: "boolean", query: true },
};

// Exact option types for literal zmq+tcp:// and zmq+ipc:// URLs (src/transport.ts).
declare module "../../src/transport.js" {
  interface ConnectOptionsByScheme {
    "zmq+tcp": ZmqOptions;
    "zmq+ipc": ZmqOptions;
  }
  interface ServeOptionsByScheme {
    "zmq+tcp": ZmqOptions;
    "zmq+ipc": ZmqOptions;
  }
}

export function numberOption(options: TransportOptions, name: string, fallback: number): number {
  const v = (options as Record<string, unknown>)[name];
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new RpcError("INVALID_URL", `option '${name}' must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
}

export function booleanOption(options: TransportOptions, name: string): boolean {
  const v = (options as Record<string, unknown>)[name];
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return v === "" || v === "1" || v === "true" || v === "yes";
  return false;
}

export function stringOption(options: TransportOptions, name: string): string | undefined {
  const v = (options as Record<string, unknown>)[name];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new RpcError("INVALID_URL", `option '${name}' must be a string`);
  return v;
}

/** The largest frame accepted, bytes (ZMQ_MAXMSGSIZE is set from it). */
export function maxFrameSize(options: TransportOptions): number {
  return numberOption(options, "maxFrameSize", DEFAULT_LIMITS.maxFrameSize);
}

export function handshakeTimeout(options: TransportOptions): number {
  return numberOption(options, "handshakeTimeout", DEFAULT_LIMITS.handshakeTimeout);
}

/** The zeromq socket options this transport sets (a subset of the package's own option types). */
export interface SocketSettings {
  linger?: number;
  sendHighWaterMark?: number;
  receiveHighWaterMark?: number;
  maxMessageSize?: number;
  ipv6?: boolean;
  curveServer?: boolean;
  curveServerKey?: string;
  curvePublicKey?: string;
  curveSecretKey?: string;
  zapDomain?: string;
  zapEnforceDomain?: boolean;
  sendTimeout?: number;
  heartbeatInterval?: number;
  handshakeInterval?: number;
}

/** Settings every socket of this transport gets before bind/connect. */
export function baseSocketOptions(options: TransportOptions, ipv6: boolean): SocketSettings {
  const heartbeat = numberOption(options, "heartbeatInterval", 0);
  return {
    ...(heartbeat > 0 ? { heartbeatInterval: heartbeat } : {}),
    linger: numberOption(options, "linger", 1000),
    sendHighWaterMark: numberOption(options, "sendHighWaterMark", 10_000),
    receiveHighWaterMark: numberOption(options, "receiveHighWaterMark", 10_000),
    // ZeroMQ drops the peer's connection on a bigger message, before buffering it whole.
    maxMessageSize: maxFrameSize(options),
    // ZMQ_HANDSHAKE_IVL: a connection that does not finish ZMTP (and CURVE) in time is dropped.
    handshakeInterval: handshakeTimeout(options),
    ipv6,
  };
}

/** The ZeroMQ endpoint for a `zmq+tcp://host:port` or `zmq+ipc:///path` URL. Port 0 (or `*`) binds a free port. */
export function zmqEndpoint(url: URL, binding: boolean): { endpoint: string; ipv6: boolean } {
  const scheme = url.protocol.replace(/:$/, "");
  if (url.searchParams.has("curveSecretKey")) {
    throw new RpcError("INVALID_URL", "'curveSecretKey' must not be in a URL (URLs get logged); pass it as an option");
  }
  if (scheme === "zmq+tcp") {
    const host = url.hostname;
    if (!host) throw new RpcError("INVALID_URL", `${url.href}: a zmq+tcp URL needs a host`);
    const port = url.port === "" || url.port === "0" ? (binding ? "*" : "") : url.port;
    if (!port) throw new RpcError("INVALID_URL", `${url.href}: a zmq+tcp URL to connect to needs a port`);
    return { endpoint: `tcp://${host}:${port}`, ipv6: host.startsWith("[") };
  }
  if (scheme === "zmq+ipc") {
    if (url.host === "*" || url.host === "0") {
      // ZeroMQ's own `ipc://*` picks a path relative to the working directory when TMPDIR is unset.
      if (!binding) throw new RpcError("INVALID_URL", `${url.href}: a zmq+ipc URL to connect to needs a path`);
      return { endpoint: `ipc://${join(tmpdir(), `wirecall-${process.pid}-${randomBytes(6).toString("hex")}.sock`)}`, ipv6: false };
    }
    const path = decodeURIComponent(url.host ? `${url.host}${url.pathname}` : url.pathname);
    if (!path) throw new RpcError("INVALID_URL", `${url.href}: a zmq+ipc URL needs a path (zmq+ipc:///tmp/name.sock)`);
    return { endpoint: `ipc://${path}`, ipv6: false };
  }
  throw new RpcError("INVALID_URL", `the ZeroMQ transport does not serve '${scheme}:'`);
}

/** The wirecall URL for a bound ZeroMQ endpoint (`lastEndpoint`). */
export function publicUrl(endpoint: string): string {
  if (endpoint.startsWith("ipc://")) {
    const path = endpoint.slice("ipc://".length);
    return `zmq+ipc://${path.split("/").map(encodeURIComponent).join("/")}`;
  }
  return `zmq+${endpoint}`;
}
