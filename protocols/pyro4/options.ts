/**
 * The `pyro` front-end's options, declared once (src/options.ts checks
 * them): an unknown name or a wrong type is `INVALID_OPTION` for
 * `serve(handler, "pyro://...")` and `connect("PYRO:...")`, query string
 * included. The framed transports' options (`handler`, `reconnect`...) mean
 * nothing here and are refused, not dropped.
 */
import type { OptionSpecs } from "../../src/transport-sdk.js";
import type { Pyro4ConnectOptions } from "./client.js";
import type { Pyro4ServeOptions } from "./daemon.js";

const COMMON: OptionSpecs = {
  authkey: { type: ["string", "bytes", "false"] },
  serpentBytes: { type: "string", query: true, values: ["literal", "dict"] },
  handshakeTimeout: { type: "number", query: true },
  maxInFlight: { type: "number", query: true },
  compression: { type: "boolean", query: true },
  limits: { type: "object" },
};

export const PYRO4_SERVE_OPTIONS: OptionSpecs = {
  ...COMMON,
  allowRemote: { type: "boolean", query: true },
  serializers: { type: "object" },
  oneway: { type: "object" },
  functionsId: { type: ["string", "false"], query: true },
  maxStreams: { type: "number", query: true },
  idleTimeout: { type: "number", query: true },
  closeTimeout: { type: "number", query: true },
  broadcast: { type: ["boolean", "object"] },
  onError: { type: "function" },
  onHandshakeError: { type: "function" },
};

export const PYRO4_CONNECT_OPTIONS: OptionSpecs = {
  ...COMMON,
  serializer: { type: "string", query: true, values: ["serpent", "json", "marshal"] },
  timeout: { type: "number", query: true },
  signal: { type: "object" },
  captureStack: { type: "boolean", query: true },
};

// Exact option types for literal pyro:// and PYRO: URLs (src/transport.ts).
declare module "../../src/transport.js" {
  interface ConnectOptionsByScheme {
    pyro: Pyro4ConnectOptions;
  }
  interface ServeOptionsByScheme {
    pyro: Pyro4ServeOptions;
  }
}
