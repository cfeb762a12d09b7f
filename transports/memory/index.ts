/**
 * `mem://name`: an in-process transport for tests and for embedding a
 * service and its caller in one process. No serialization shortcut: frames
 * are the same bytes a socket would carry.
 */
import { DEFAULT_LIMITS, RpcError, type Connection, type Listener, type Transport, type TransportOptions } from "../../src/transport-sdk.js";
import { MemoryConnection } from "./memory-connection.js";
import { MEM_OPTIONS } from "./options.js";

type Accept = (conn: Connection) => void;

const listeners = new Map<string, { accept: Accept; maxFrameSize: number }>();
let anonymous = 0;
let clients = 0;

function nameOf(url: URL): string {
  // mem://name parses with the name as host; mem:name or mem:///name as path.
  return decodeURIComponent(url.host || url.pathname.replace(/^\/+/, ""));
}

function maxFrame(options: TransportOptions): number {
  return typeof options.maxFrameSize === "number" ? options.maxFrameSize : DEFAULT_LIMITS.maxFrameSize;
}

/**
 * Refuse an authkey rather than drop it: mem:// has no challenge (its peers
 * are code in this process). As for XML-RPC, WIRECALL_AUTHKEY says "this
 * process authenticates its connections", so it is refused too unless
 * `authkey: false` says "none here, on purpose". See docs/security.md.
 */
function refuseAuthkey(options: TransportOptions, side: "server" | "client"): void {
  const authkey = (options as { authkey?: unknown }).authkey;
  if (authkey === false) return;
  if (authkey !== undefined) {
    throw new RpcError("INVALID_URL", `mem:// cannot use an authkey (it has no challenge; its peers are code in this process), so the ${side} would run without it: drop the option, or use tcp:// or ws:// to authenticate`);
  }
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WIRECALL_AUTHKEY;
  if (env) {
    throw new RpcError("INVALID_URL", `WIRECALL_AUTHKEY is set, but mem:// cannot use an authkey, so this ${side} would run without authentication: pass authkey: false to run mem:// without it on purpose`);
  }
}

export const memoryTransport: Transport = {
  name: "mem",
  schemes: ["mem"],
  options: { connect: MEM_OPTIONS, serve: MEM_OPTIONS },

  async connect(url, options) {
    refuseAuthkey(options, "client");
    const name = nameOf(url);
    const target = listeners.get(name);
    if (!target) throw new RpcError("CONNECT_FAILED", `no in-process server named '${name}'`);
    const id = ++clients;
    const client = new MemoryConnection(`mem://${name}`, maxFrame(options));
    const server = new MemoryConnection(`mem-client-${id}`, target.maxFrameSize);
    client.peer = server;
    server.peer = client;
    target.accept(server);
    return client;
  },

  async listen(url, options, accept): Promise<Listener> {
    refuseAuthkey(options, "server");
    let name = nameOf(url);
    if (name === "" || name === "0") name = `anon-${++anonymous}`;
    if (listeners.has(name)) throw new RpcError("CONNECT_FAILED", `an in-process server named '${name}' already exists`);
    const entry = { accept, maxFrameSize: maxFrame(options) };
    listeners.set(name, entry);
    return {
      url: `mem://${name}`,
      async close() {
        if (listeners.get(name) === entry) listeners.delete(name);
      },
    };
  },
};

/** The transport this module provides, found by `connect`/`serve` for `mem://`. */
export const transport = memoryTransport;
export { MemoryConnection };
