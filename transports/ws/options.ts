/**
 * Options of the WebSocket transport, beyond the common {@link TransportOptions}.
 * Every option can also come from the URL's query string where it is a
 * number or a flag (`?keepAlive=10000&maxPayload=1048576`); secrets cannot.
 */
// Each module by its own path, not through src/transport-sdk.ts: the browser
// client imports this file, and a bundler puts in a page's first chunk every
// module the SDK re-exports (the HMAC handshake among them).
import { DEFAULT_LIMITS } from "../../src/limits.js";
import { option, urlOption, type OptionSpecs } from "../../src/options.js";
import type { TransportOptions } from "../../src/transport.js";

/** Default ping interval, ms. */
export const DEFAULT_KEEPALIVE = 30_000;

/** Options shared by both ends. */
export interface WsCommonOptions extends TransportOptions {
  /** Largest message accepted, bytes (enforced by `ws`; default `maxFrameSize`, 16 MiB). */
  maxPayload?: number;
  /** Ping interval in ms; a peer silent for a whole interval is dropped. 0 turns it off. Default 30000. */
  keepAlive?: number;
  /** Outgoing bytes buffered before `send()` reports backpressure (default 1 MiB). */
  highWaterMark?: number;
}

/** Client options (Node and browser; the TLS ones only apply on Node). */
export interface WsClientOptions extends WsCommonOptions {
  /** Trusted CA certificate(s), PEM: how a Node client trusts a self-signed `wss://` server. */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** Client certificate and key, PEM, for servers that ask for one (Node). */
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  passphrase?: string;
  /** Default true. Only for tests against throwaway certificates. */
  rejectUnauthorized?: boolean;
  /** TLS server name (SNI) when it differs from the URL's host (Node). */
  servername?: string;
  /** Extra HTTP headers on the upgrade request (Node; browsers cannot set them). */
  headers?: Record<string, string>;
  /** `Origin` header to send (Node). Browsers always send their page's origin. */
  origin?: string;
}

/** Server options for `serve("ws://...")` and `attach()`. */
export interface WsServerOptions extends WsCommonOptions {
  /**
   * Origins allowed to connect, compared with the `Origin` header of the
   * upgrade request (e.g. `"https://app.example.com"`), or `"*"` for any.
   * Default: same origin only (the Origin's host equals the Host header).
   * Requests without an Origin (non-browser clients) are always let through:
   * the check protects browsers from cross-site pages, it does not
   * authenticate (use `authkey` for that). Refused upgrades get HTTP 403.
   */
  allowedOrigins?: readonly string[] | "*";
  /** Bytes of unfinished messages held across this server's connections (default 128 MiB); see `Limits.maxBufferedBytes`. */
  maxBufferedBytes?: number;
  /** ms an unfinished message may take before `minReadRate` applies (default 30000; 0 = no limit); see `Limits.frameTimeout`. */
  frameTimeout?: number;
  /** Bytes/s an unfinished message must then keep arriving at (default 32 KiB/s); see `Limits.minReadRate`. */
  minReadRate?: number;
  /** Path served, e.g. "/rpc" (default: the URL's path). Other paths get HTTP 404. */
  path?: string;
  /**
   * Without an authkey, accept upgrades from peers that are not on loopback
   * (default false: they get HTTP 403, as the TCP transport refuses them).
   */
  allowRemote?: boolean;
  /** `wss://`: certificate chain and private key, PEM (or `pfx` + `passphrase`). */
  cert?: string | Uint8Array | readonly (string | Uint8Array)[];
  key?: string | Uint8Array | readonly (string | Uint8Array)[];
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  pfx?: string | Uint8Array;
  passphrase?: string;
  /**
   * Told about every peer dropped before the core saw it: a wrong or missing
   * authkey, a challenge not answered in time, a refused Origin, a remote
   * peer refused for want of an authkey (never the authkey itself).
   */
  onHandshakeError?: (err: Error, remoteAddress: string | undefined) => void;
  /**
   * Serve on this existing `http.Server`/`https.Server` instead of opening a
   * port (see `attach()`); it is not closed by `server.close()`.
   */
  httpServer?: unknown;
}

// Exact option types for literal ws:// and wss:// URLs (src/transport.ts).
declare module "../../src/transport.js" {
  interface ConnectOptionsByScheme {
    ws: WsClientOptions;
    wss: WsClientOptions;
  }
  interface ServeOptionsByScheme {
    ws: WsServerOptions;
    wss: WsServerOptions;
  }
}

/** Options of both ends (the server's own are in ./server-options.ts, which no browser loads). */
export const WS_COMMON_OPTIONS: OptionSpecs = {
  maxPayload: urlOption("number"),
  keepAlive: urlOption("number"),
  highWaterMark: urlOption("number"),
};

/** What `connect("ws://...")` checks its options against (src/options.ts): one entry per {@link WsClientOptions} field. */
export const WS_CLIENT_OPTIONS: OptionSpecs = {
  ...WS_COMMON_OPTIONS,
  ca: option("string", "bytes", "object"),
  cert: option("string", "bytes"),
  key: option("string", "bytes"),
  passphrase: option("string"),
  rejectUnauthorized: urlOption("boolean"),
  servername: urlOption("string"),
  headers: option("object"),
  origin: urlOption("string"),
};

/** A non-negative number from an option or a query string, else `fallback`. */
export function numberOption(v: unknown, fallback: number): number {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : fallback;
}

export function maxPayloadOf(o: WsCommonOptions): number {
  return numberOption(o.maxPayload, numberOption(o.maxFrameSize, DEFAULT_LIMITS.maxFrameSize));
}

export function handshakeTimeoutOf(o: TransportOptions): number {
  return numberOption(o.handshakeTimeout, DEFAULT_LIMITS.handshakeTimeout);
}
