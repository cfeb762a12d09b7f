/**
 * `zmq+tcp://host:port` and `zmq+ipc:///path`: wirecall over ZeroMQ.
 *
 * Servers are ROUTER sockets, so plain REQ clients in any language and
 * wirecall's DEALER clients (many calls in flight) share one endpoint.
 * Clients are DEALER sockets, or REQ with `?socket=req` for REP servers.
 * A broker (ROUTER frontend, DEALER backend, ZeroMQ's proxy) spreads calls
 * over worker processes. The `zeromq` package is loaded on first use only.
 * Frame layout: docs/protocol.md, section 5.4; options: docs/zmq.md.
 */
import { type Listener, type RPCHandler, type Server, type Transport } from "../../src/transport-sdk.js";
import { serve, type ServeOptions } from "../../src/index.js";
import { ZmqClientConnection } from "./client-connection.js";
import { loadZeromq } from "./load-zeromq.js";
import { ZmqListener } from "./router-listener.js";
import { ZMQ_OPTIONS, type ZmqOptions } from "./zmq-options.js";

export const zmqTransport: Transport = {
  name: "zmq",
  schemes: ["zmq+tcp", "zmq+ipc"],
  options: { connect: ZMQ_OPTIONS, serve: ZMQ_OPTIONS },

  async connect(url, options) {
    const zmq = await loadZeromq();
    return ZmqClientConnection.open(zmq, url, options as ZmqOptions);
  },

  async listen(url, options, accept): Promise<Listener> {
    const zmq = await loadZeromq();
    return ZmqListener.start(zmq, url, options as ZmqOptions, accept);
  },
};

/** The transport this module provides, found by `connect`/`serve` for `zmq+tcp:` and `zmq+ipc:`. */
export const transport = zmqTransport;

/**
 * Serve `handler` as a worker behind a broker: the ROUTER connects to the
 * broker's backend (`startBroker(...).backendUrl`) instead of binding.
 * Resolves once connected (within `handshakeTimeout`). Same as
 * `serve(handler, backendUrl, { ...options, connect: true })`.
 */
export function serveWorker(handler: RPCHandler, backendUrl: string | URL, options: ServeOptions & ZmqOptions = {}): Promise<Server> {
  return serve(handler, backendUrl, { ...options, connect: true });
}

export { startBroker } from "./broker.js";
export type { Broker, BrokerOptions } from "./broker.js";
export { loadZeromq } from "./load-zeromq.js";
export type { ZmqOptions } from "./zmq-options.js";
