/**
 * The TCP/TLS transport's options, and how they map to node:net / node:tls.
 */
import type { ConnectionOptions as TlsConnectOptions, TlsOptions } from "node:tls";
import { DEFAULT_LIMITS, RpcError, type OptionSpecs, type TransportOptions } from "../../src/transport-sdk.js";
import type { ReadLimits } from "../read-budget.js";
import type { CoalesceMode } from "./frame-writer.js";

/** Options of `tcp://` and `tls://` (on top of the core's serve/connect options). */
export interface TcpOptions extends TransportOptions {
  /** Shared secret for the mutual HMAC challenge (default: the WIRECALL_AUTHKEY environment variable). */
  authkey?: string | Uint8Array;
  /** Largest frame accepted, bytes (default 16 MiB); a larger length prefix closes the connection with PAYLOAD_TOO_LARGE. */
  maxFrameSize?: number;
  /** Server: bytes of unfinished frames held across all connections (default 128 MiB); see `Limits.maxBufferedBytes`. */
  maxBufferedBytes?: number;
  /** Server: ms an unfinished frame may take before `minReadRate` applies (default 30000; 0 = no limit); see `Limits.frameTimeout`. */
  frameTimeout?: number;
  /** Server: bytes/s an unfinished frame must then keep arriving at (default 32 KiB/s); see `Limits.minReadRate`. */
  minReadRate?: number;
  /** Time limit for connect + TLS + the challenge, ms (default 10000). */
  handshakeTimeout?: number;
  /** Server without an authkey: accept peers that are not on loopback (default false). */
  allowRemote?: boolean;
  /** Refuse the legacy HMAC-MD5 form of Python 3.11 and older (default false). */
  refuseLegacyMd5?: boolean;
  /** Bytes buffered for sending before backpressure applies (default 64 KiB). */
  highWaterMark?: number;
  /** TCP keep-alive: probe an idle peer after this many ms, so a vanished host is noticed (default off). */
  keepAlive?: number;
  /** How frames sent in one tick are written (default "gather"; see frame-writer.ts). */
  coalesce?: CoalesceMode;
  /** Server: told about every peer dropped before it was handed to the core (AUTH_FAILED, a refused remote peer, a TLS error). */
  onHandshakeError?: (err: RpcError, remoteAddress: string | undefined) => void;
  // TLS (tls:// only); see node:tls.
  cert?: string | Buffer | (string | Buffer)[];
  key?: string | Buffer | (string | Buffer)[];
  ca?: string | Buffer | (string | Buffer)[];
  passphrase?: string;
  pfx?: string | Buffer | (string | Buffer)[];
  /** Server: ask clients for a certificate. With `rejectUnauthorized` (the default) it must be valid. */
  requestCert?: boolean;
  /** Verify the peer's certificate (default true). */
  rejectUnauthorized?: boolean;
  /** Client: the name to verify the server's certificate against (default: the URL's host name). */
  servername?: string;
  /** Any other node:tls option, passed through. */
  tls?: TlsOptions & TlsConnectOptions;
}

/**
 * The declaration `serve`/`connect` check tcp:// and tls:// options against
 * (src/options.ts): one entry per {@link TcpOptions} field.
 */
export const TCP_OPTIONS: OptionSpecs = {
  maxBufferedBytes: { type: "number", query: true },
  frameTimeout: { type: "number", query: true },
  minReadRate: { type: "number", query: true },
  allowRemote: { type: "boolean", query: true },
  refuseLegacyMd5: { type: "boolean", query: true },
  highWaterMark: { type: "number", query: true },
  keepAlive: { type: "number", query: true },
  coalesce: { type: "string", query: true, values: ["gather", "cork", "none"] },
  onHandshakeError: { type: "function" },
  cert: { type: ["string", "bytes", "object"] },
  key: { type: ["string", "bytes", "object"] },
  ca: { type: ["string", "bytes", "object"] },
  passphrase: { type: "string" },
  pfx: { type: ["string", "bytes", "object"] },
  requestCert: { type: "boolean", query: true },
  rejectUnauthorized: { type: "boolean", query: true },
  servername: { type: "string", query: true },
  tls: { type: "object" },
};

// Exact option types for literal tcp:// and tls:// URLs (src/transport.ts).
declare module "../../src/transport.js" {
  interface ConnectOptionsByScheme {
    tcp: TcpOptions;
    tls: TcpOptions;
  }
  interface ServeOptionsByScheme {
    tcp: TcpOptions;
    tls: TcpOptions;
  }
}

export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

const TLS_KEYS = ["cert", "key", "ca", "passphrase", "pfx", "requestCert", "rejectUnauthorized", "servername"] as const;

/** The node:tls options given among ours. */
export function tlsOptions(o: TcpOptions): TlsOptions & TlsConnectOptions {
  const out: Record<string, unknown> = { ...o.tls };
  for (const k of TLS_KEYS) if (o[k] !== undefined) out[k] = o[k];
  return out as TlsOptions & TlsConnectOptions;
}

type NumericOption = "maxFrameSize" | "maxBufferedBytes" | "frameTimeout" | "minReadRate" | "handshakeTimeout" | "highWaterMark" | "keepAlive";

function positive(o: TcpOptions, name: NumericOption, fallback: number): number {
  const raw = o[name];
  if (raw === undefined) return fallback;
  // Options the core does not know arrive from a URL's query string as text.
  const v = typeof raw === "string" ? Number(raw) : raw;
  if (typeof v !== "number" || !(v >= 0)) throw new RpcError("INVALID_URL", `option '${name}' must be a non-negative number`);
  return v;
}

/** The longest delay a Node timer keeps (about 24.8 days): a longer one fires after 1 ms. */
const MAX_TIMER = 0x7fff_ffff;

/** A delay a timer waits for: refused past MAX_TIMER rather than turned into 1 ms (every handshake would then fail at once). */
function timerMs(o: TcpOptions, name: NumericOption, fallback: number): number {
  const v = positive(o, name, fallback);
  if (v > MAX_TIMER) throw new RpcError("INVALID_OPTION", `option '${name}' must be at most ${MAX_TIMER} ms (about 24.8 days, the longest timer Node keeps), got ${v}; 0 turns it off`);
  return v;
}

export interface Settings {
  maxFrameSize: number;
  /** What unfinished frames may cost a server (shared by all its connections). */
  read: ReadLimits;
  handshakeTimeout: number;
  highWaterMark: number;
  keepAlive: number;
  coalesce: CoalesceMode;
}

export function settings(o: TcpOptions): Settings {
  const coalesce = o.coalesce ?? "gather";
  if (coalesce !== "gather" && coalesce !== "cork" && coalesce !== "none") throw new RpcError("INVALID_URL", `option 'coalesce' must be gather, cork or none`);
  return {
    maxFrameSize: positive(o, "maxFrameSize", DEFAULT_LIMITS.maxFrameSize),
    read: {
      maxBufferedBytes: positive(o, "maxBufferedBytes", DEFAULT_LIMITS.maxBufferedBytes),
      frameTimeout: positive(o, "frameTimeout", DEFAULT_LIMITS.frameTimeout),
      minReadRate: positive(o, "minReadRate", DEFAULT_LIMITS.minReadRate),
    },
    handshakeTimeout: timerMs(o, "handshakeTimeout", DEFAULT_LIMITS.handshakeTimeout),
    highWaterMark: positive(o, "highWaterMark", DEFAULT_HIGH_WATER_MARK),
    keepAlive: positive(o, "keepAlive", 0),
    coalesce,
  };
}

/** Host and port of a tcp:// or tls:// URL (IPv6 brackets removed). */
export function hostPort(url: URL): { host: string; port: number } {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port);
  if (!host || url.port === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RpcError("INVALID_URL", `${url.protocol}// URLs need a host and a port (e.g. ${url.protocol}//127.0.0.1:0), got '${url.href}'`);
  }
  return { host, port };
}

/** A URL host: IPv6 literals in brackets. */
export function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
