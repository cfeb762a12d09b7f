/**
 * Pyro4's name server discovery: `Pyro4.locateNS()` without an address
 * sends the datagram `GET_NSURI` to the broadcast addresses
 * (`PYRO_BROADCAST_ADDRS`) on port 9091 (`PYRO_NS_BCPORT`); a name server's
 * broadcast responder answers with its URI text. Any other datagram is
 * ignored, so the responder cannot be used to reflect traffic.
 */
import dgram from "node:dgram";
import { RpcError } from "../../src/transport-sdk.js";

/** Pyro4's default broadcast port (`Pyro4.config.NS_BCPORT`). */
export const DEFAULT_BROADCAST_PORT = 9091;

export interface BroadcastOptions {
  /** UDP port (default 9091; 0 picks one). */
  port?: number;
  /** Address to bind (default the daemon's host: loopback stays loopback; "0.0.0.0" to hear a LAN's broadcasts). */
  host?: string;
}

/** A running responder; `port` is the bound one. */
export interface BroadcastResponder {
  readonly port: number;
  close(): Promise<void>;
}

const ASK = Buffer.from("GET_NSURI");

/** Answer `GET_NSURI` datagrams with `uri` (the name server's `PYRO:Pyro.NameServer@host:port`). */
export async function startBroadcastResponder(uri: string, host: string, options: BroadcastOptions = {}): Promise<BroadcastResponder> {
  const bindHost = options.host ?? host;
  const sock = dgram.createSocket({ type: bindHost.includes(":") ? "udp6" : "udp4", reuseAddr: true });
  const answer = Buffer.from(uri, "utf8");
  sock.on("message", (msg, rinfo) => {
    if (!msg.equals(ASK)) return;
    sock.send(answer, rinfo.port, rinfo.address);
  });
  sock.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new RpcError("CONNECT_FAILED", `cannot bind the Pyro4 broadcast responder on ${bindHost}:${options.port ?? DEFAULT_BROADCAST_PORT}: ${err.message}`, { cause: err }));
    sock.once("error", onError);
    sock.bind(options.port ?? DEFAULT_BROADCAST_PORT, bindHost, () => {
      sock.off("error", onError);
      resolve();
    });
  });
  return {
    port: sock.address().port,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
