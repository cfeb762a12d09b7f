/**
 * `wirecall/nats`: serve and call over NATS (`nats://host:port/subject`,
 * `nats+tls://...`). NATS carries the frames and finds the workers; the
 * envelope, serializers, streams and callbacks are wirecall's as on every
 * transport. Needs the optional package `@nats-io/transport-node`, loaded
 * on first use. See docs/nats.md.
 */
import { registerTransport, type FrontEnd, type RPCHandler, type TransportOptions } from "../../src/transport-sdk.js";
import { NatsCaller, type NatsConnectOptions } from "./caller.js";
import { NATS_CONNECT_OPTIONS, NATS_SERVE_OPTIONS, type NatsServeOptions } from "./options.js";
import { serveNats } from "./worker.js";

export const natsTransport: FrontEnd = {
  name: "nats",
  schemes: ["nats", "nats+tls"],
  // Not a single framed connection: a caller keeps one lane per worker (caller.ts).
  kind: "request-response",
  options: { connect: NATS_CONNECT_OPTIONS, serve: NATS_SERVE_OPTIONS },
  serve: (handler: RPCHandler, url: URL, options: TransportOptions) => serveNats(handler, url, options as NatsServeOptions),
  connect: (url: URL, options: TransportOptions) => NatsCaller.open(url, options as NatsConnectOptions),
};

/** The transport this module provides, found by `connect`/`serve` for `nats://` and `nats+tls://`. */
export const transport = natsTransport;

registerTransport(natsTransport);

export { NatsCaller, serveNats };
export { loadNats, NATS_PACKAGE } from "./load-nats.js";
export type { NatsConnectOptions } from "./caller.js";
export type { NatsServer } from "./worker.js";
export type { NatsOptions, NatsServeOptions, NatsTlsOptions } from "./options.js";
