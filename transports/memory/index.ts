/**
 * `mem://name`: an in-process transport for tests and for embedding a
 * service and its caller in one process. No serialization shortcut: frames
 * are the same bytes a socket would carry.
 */
import { DEFAULT_LIMITS, RpcError, type Connection, type Listener, type Transport, type TransportOptions } from "../../src/transport-sdk.js";
import { MemoryConnection } from "./memory-connection.js";

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

export const memoryTransport: Transport = {
  name: "mem",
  schemes: ["mem"],

  async connect(url, options) {
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
