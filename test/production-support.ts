/**
 * Shared by the production tests (metadata, deadlines, hooks, telemetry,
 * retries): the transports they run over, and bounded waits.
 */
import { after } from "node:test";
import { serve, type RPCHandler, type ServeOptions, type Server } from "../src/index.js";
import "../transports/memory/index.js";
import "../transports/tcp/index.js";
import "../transports/ws/index.js";
import { Deferred, within as settleWithin } from "./support/async.js";
import { rawPeer, type RawPeer } from "./support/raw-peer.js";

export { Deferred };

/** Every transport the issue names (tcp, ws, zmq) and the in-process one. */
export const TRANSPORTS: readonly { name: string; url: () => string }[] = [
  { name: "tcp", url: () => "tcp://127.0.0.1:0" },
  { name: "ws", url: () => "ws://127.0.0.1:0/rpc" },
  { name: "zmq", url: () => "zmq+tcp://127.0.0.1:0" },
];

/** A failing test, never a hung one: the time any single wait may take. */
export const BOUND = 20_000;

/** Reject if `p` has not settled within `ms` (BOUND unless given). */
export function within<T>(p: Promise<T>, what: string, ms = BOUND): Promise<T> {
  return settleWithin(p, ms, what);
}

const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Serve `h` at `url`; closed when the file's tests are done. */
export async function start(h: RPCHandler, url: string, opts: ServeOptions = {}): Promise<Server> {
  const s = await serve(h, url, { closeTimeout: 500, ...opts });
  servers.push(s);
  return s;
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** A raw JSON peer (any transport): frames in, frames out. */
export const raw = (url: string): Promise<RawPeer<unknown>> => rawPeer(url);
