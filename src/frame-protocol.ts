/**
 * Other protocols served on a framed transport's listener, recognised by
 * the first frame a peer sends (the Python RPCHandler recipe's pickled
 * tuples on tcp://). A transport registers the protocols its servers answer
 * with {@link registerFrameProtocol}; the core never imports them.
 */
import type { PeerInfo } from "./call-context.js";
import type { RPCHandler } from "./handler.js";
import type { Connection, ConnectionSink } from "./transport.js";

/** What `server.close()` needs from anything serving a connection. */
export interface SessionLike {
  /** Calls currently running (one-way calls included). */
  readonly inFlight: number;
  /** Refuse new calls from now on; running calls continue. */
  beginShutdown(): void;
  /** Resolves when no call is running. */
  idle(): Promise<void>;
}

export interface FrameProtocol {
  readonly name: string;
  /** True when `first` (the peer's first frame) belongs to this protocol. Must not throw. */
  detect(first: Uint8Array): boolean;
  /** Take over the connection; the returned sink gets every frame, starting with `first`. */
  start(handler: RPCHandler, conn: Connection, peer: PeerInfo): ConnectionSink & SessionLike;
}

const byTransport = new Map<string, FrameProtocol[]>();

/**
 * Make every server of transport `transportName` ("tcp") answer peers
 * whose first frame `protocol.detect`s. Registering the same protocol twice
 * does nothing.
 */
export function registerFrameProtocol(transportName: string, protocol: FrameProtocol): void {
  const list = byTransport.get(transportName) ?? [];
  if (!list.includes(protocol)) list.push(protocol);
  byTransport.set(transportName, list);
}

/** The protocols registered for a transport, in registration order. */
export function frameProtocolsOf(transportName: string): readonly FrameProtocol[] {
  return byTransport.get(transportName) ?? [];
}
