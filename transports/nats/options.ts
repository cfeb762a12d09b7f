/**
 * The options of `nats://` and `nats+tls://`, the subject a URL names, and
 * how NATS's own security options map to the NATS client's.
 */
import { readFileSync } from "node:fs";
import type { NodeConnectionOptions } from "@nats-io/transport-node";
import {
  CONNECT_OPTIONS,
  DEFAULT_LIMITS,
  RpcError,
  SERVE_OPTIONS,
  type OptionSpecs,
  type TransportOptions,
} from "../../src/transport-sdk.js";
import type { NatsModule } from "./load-nats.js";

/** TLS towards the NATS server, as the NATS Node client takes it (file paths or PEM text). */
export interface NatsTlsOptions {
  caFile?: string;
  ca?: string;
  certFile?: string;
  cert?: string;
  keyFile?: string;
  key?: string;
  /** Verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
  /** TLS before the NATS INFO (the server must be configured with handshake_first). */
  handshakeFirst?: boolean;
}

/** Options of `nats://` and `nats+tls://`, on top of the core's serve/connect options. See docs/nats.md. */
export interface NatsOptions extends TransportOptions {
  /**
   * Not used on NATS: refused when given (a string or bytes), so nobody
   * believes it protects them. NATS authenticates with `token`, `user` and
   * `pass`, `nkeySeed`, `credsFile` and TLS. `false` says "none, on purpose"
   * (and lets WIRECALL_AUTHKEY stay set for other transports).
   */
  authkey?: false;
  /** More servers of the same NATS cluster, tried on connect and reconnect (`nats://host:port`, `tls://host:port`). */
  servers?: string[];
  /** NATS token authentication. */
  token?: string;
  /** NATS user name (with `pass`). */
  user?: string;
  /** NATS password (with `user`). */
  pass?: string;
  /** NKey seed (`SU...`) for NATS nkey authentication. */
  nkeySeed?: string | Uint8Array;
  /** Path of a NATS credentials file (JWT + nkey seed), as `nats` CLI and NSC write it. */
  credsFile?: string;
  /** TLS to the NATS server: `true` requires TLS with the defaults, an object configures it. `nats+tls://` implies `true`. */
  tls?: boolean | NatsTlsOptions;
  /** Name of this NATS connection, shown by the server's monitoring. */
  name?: string;
  /** Server: the queue group its subject is served in (default "wirecall"). */
  queue?: string;
  /**
   * Liveness: while a connection has calls or streams in flight and heard
   * nothing from its peer for this many ms, it pings the peer (default 1000).
   * A peer that is gone is then known at once (NATS answers "no responders").
   */
  heartbeat?: number;
  /** Liveness: a ping unanswered for this many ms closes the connection (default 10000). */
  livenessTimeout?: number;
  /** Client: after the first worker answers discovery, wait this long for others (ms, default 50). */
  discoveryWindow?: number;
  /** Wait between attempts to reconnect to the NATS server, ms (default 2000, as the NATS client). */
  reconnectTimeWait?: number;
  /** Bytes a connection may receive while its session has stopped reading, before it is closed (default 32 MiB). */
  maxHeldBytes?: number;
  /** Bytes of unfinished multi-message frames held across all connections of this serve/connect (default 128 MiB). */
  maxBufferedBytes?: number;
}

/** Server side: `serve()`'s own options on top of {@link NatsOptions}. */
export interface NatsServeOptions extends NatsOptions {
  /** Handlers running at once per lane (default 256). */
  maxInFlight?: number;
  /** How long `close()` waits for in-flight calls, ms (default 5000). */
  closeTimeout?: number;
  /** Close a lane idle this long, ms (default 600000; the caller reopens it when needed). */
  idleTimeout?: number;
  /** Connections (client lanes and plain requests) open at once; past it new ones are refused with a close notice (default 10000). */
  maxConnections?: number;
}

/** NATS's options, declared once: `serve`/`connect` check names and types against them, query string included (src/options.ts). */
const NATS_OPTIONS: OptionSpecs = {
  // Refused with a clear message by refuseAuthkey; `false` is accepted ("none, on purpose").
  authkey: { type: ["string", "bytes", "boolean"] },
  servers: { type: "object" },
  token: { type: "string" },
  user: { type: "string", query: true },
  pass: { type: "string" },
  nkeySeed: { type: ["string", "bytes"] },
  credsFile: { type: "string" },
  tls: { type: ["boolean", "object"], query: true },
  name: { type: "string", query: true },
  heartbeat: { type: "number", query: true },
  livenessTimeout: { type: "number", query: true },
  reconnectTimeWait: { type: "number", query: true },
  maxHeldBytes: { type: "number", query: true },
  maxBufferedBytes: { type: "number", query: true },
};

export const NATS_CONNECT_OPTIONS: OptionSpecs = { ...CONNECT_OPTIONS, ...NATS_OPTIONS, discoveryWindow: { type: "number", query: true } };
export const NATS_SERVE_OPTIONS: OptionSpecs = { ...SERVE_OPTIONS, ...NATS_OPTIONS, queue: { type: "string", query: true }, maxConnections: { type: "number", query: true } };

// Exact option types for literal nats:// and nats+tls:// URLs (src/transport.ts).
declare module "../../src/transport.js" {
  interface ConnectOptionsByScheme {
    nats: NatsOptions;
    "nats+tls": NatsOptions;
  }
  interface ServeOptionsByScheme {
    nats: NatsServeOptions;
    "nats+tls": NatsServeOptions;
  }
}

export interface NatsSettings {
  subject: string;
  /** The subject came from the URL (false: a fresh one was made up, like port 0). */
  named: boolean;
  servers: string[];
  tls: boolean;
  queue: string;
  heartbeat: number;
  livenessTimeout: number;
  discoveryWindow: number;
  maxFrameSize: number;
  maxHeldBytes: number;
  maxBufferedBytes: number;
  handshakeTimeout: number;
  reconnectTimeWait: number;
}

const SECRET_QUERY = ["token", "pass", "nkeySeed", "credsFile", "authkey", "password"];

function num(o: NatsOptions, name: keyof NatsOptions & string, fallback: number): number {
  const raw = o[name];
  if (raw === undefined) return fallback;
  const v = typeof raw === "string" ? Number(raw) : raw;
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new RpcError("INVALID_URL", `option '${name}' must be a non-negative number, got ${JSON.stringify(raw)}`);
  return v;
}

/**
 * A subject wirecall can serve: dot-separated tokens of visible characters,
 * no wildcards (a served subject is one address, not a pattern).
 */
export function checkSubject(subject: string): string {
  if (!/^[^\s.*>]+(\.[^\s.*>]+)*$/.test(subject) || subject.length > 200) {
    throw new RpcError("INVALID_URL", `'${subject}' is not a NATS subject wirecall can serve: use dot-separated tokens without spaces or wildcards, e.g. nats://127.0.0.1:4222/svc.math`);
  }
  return subject;
}

/**
 * Refuse an authkey rather than ignore it: NATS has its own security, and a
 * wirecall authkey would protect nothing here. WIRECALL_AUTHKEY says "this
 * process authenticates its connections", so it is refused too unless
 * `authkey: false` says "not on NATS, on purpose".
 */
export function refuseAuthkey(options: TransportOptions, side: "server" | "client"): void {
  const authkey = options.authkey;
  if (authkey === false) return;
  if (authkey !== undefined) {
    throw new RpcError("INVALID_URL", `nats:// does not use the wirecall authkey (nothing would check it): secure NATS itself with the token, user/pass, nkeySeed, credsFile or tls options (docs/nats.md), and drop the authkey`);
  }
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WIRECALL_AUTHKEY;
  if (env) {
    throw new RpcError("INVALID_URL", `WIRECALL_AUTHKEY is set, but nats:// does not use the wirecall authkey, so this ${side} would not be protected by it: secure NATS itself (docs/nats.md) and pass authkey: false`);
  }
}

function refuseSecretsInUrl(url: URL): void {
  for (const k of SECRET_QUERY) {
    if (url.searchParams.has(k)) throw new RpcError("INVALID_URL", `'${k}' must not be in a URL (URLs get logged); pass it as an option`);
  }
}

/** Settings from a `nats://host:port/subject` URL and its options. `makeSubject` names a fresh subject for an empty path. */
export function natsSettings(url: URL, o: NatsOptions, makeSubject: () => string): NatsSettings {
  refuseSecretsInUrl(url);
  const tls = url.protocol === "nats+tls:" || o.tls === true || (typeof o.tls === "object" && o.tls !== null);
  const host = url.hostname || "127.0.0.1";
  const port = url.port || "4222";
  const path = decodeURIComponent(url.pathname.replace(/^\/+/, ""));
  const named = path !== "";
  const subject = checkSubject(named ? path : makeSubject());
  const servers = [`${tls ? "tls" : "nats"}://${host}:${port}`, ...(o.servers ?? [])];
  return {
    subject,
    named,
    servers,
    tls,
    queue: o.queue ?? "wirecall",
    heartbeat: Math.max(10, num(o, "heartbeat", 1000)),
    livenessTimeout: num(o, "livenessTimeout", 10_000),
    discoveryWindow: num(o, "discoveryWindow", 50),
    maxFrameSize: num(o, "maxFrameSize", DEFAULT_LIMITS.maxFrameSize),
    maxHeldBytes: num(o, "maxHeldBytes", 32 * 1024 * 1024),
    maxBufferedBytes: num(o, "maxBufferedBytes", DEFAULT_LIMITS.maxBufferedBytes),
    handshakeTimeout: num(o, "handshakeTimeout", DEFAULT_LIMITS.handshakeTimeout),
    reconnectTimeWait: num(o, "reconnectTimeWait", 2000),
  };
}

/** The NATS client's connect options: servers, security, reconnect. */
export function clientOptions(nats: NatsModule, s: NatsSettings, o: NatsOptions, role: "server" | "client"): NodeConnectionOptions {
  const out: NodeConnectionOptions = {
    servers: s.servers,
    timeout: s.handshakeTimeout,
    reconnect: true,
    // A worker keeps trying forever; its queue group share waits for it.
    maxReconnectAttempts: -1,
    reconnectTimeWait: s.reconnectTimeWait,
    name: o.name ?? `wirecall ${role} ${s.subject}`,
  };
  if (o.token !== undefined) out.token = o.token;
  if (o.user !== undefined) out.user = o.user;
  if (o.pass !== undefined) out.pass = o.pass;
  if (o.pass !== undefined && o.user === undefined) throw new RpcError("INVALID_URL", "option 'pass' needs 'user'");
  const auth = [];
  if (o.nkeySeed !== undefined) {
    const seed = typeof o.nkeySeed === "string" ? new TextEncoder().encode(o.nkeySeed.trim()) : o.nkeySeed;
    auth.push(nats.nkeyAuthenticator(seed));
  }
  if (o.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(o.credsFile);
    } catch (err) {
      throw new RpcError("INVALID_URL", `cannot read the NATS credentials file '${o.credsFile}': ${(err as Error).message}`, { cause: err });
    }
    auth.push(nats.credsAuthenticator(creds));
  }
  if (auth.length > 0) out.authenticator = auth;
  if (s.tls) out.tls = typeof o.tls === "object" && o.tls !== null ? { ...o.tls } : {};
  return out;
}
