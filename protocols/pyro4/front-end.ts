/**
 * The `pyro` URL scheme as a front-end (src/front-end.ts): Pyro4 is its own
 * framing, not wirecall's frames, so the daemon and the client speak it
 * directly on node:net sockets.
 *
 * - `serve(handler, "pyro://host:port")`: a Pyro4 daemon (daemon.ts).
 * - `connect("PYRO:obj@host:port")` (Pyro4's own URI) or
 *   `connect("pyro://host:port")` (calls named `object.method`, or
 *   `#object`): a Pyro4 client (client.ts).
 */
import type { FrontEnd } from "../../src/transport-sdk.js";
import { Pyro4Client, type Pyro4ConnectOptions } from "./client.js";
import { Pyro4Daemon, type Pyro4ServeOptions } from "./daemon.js";
import { PYRO4_CONNECT_OPTIONS, PYRO4_SERVE_OPTIONS } from "./options.js";

export const pyro4FrontEnd: FrontEnd = {
  name: "pyro4",
  schemes: ["pyro"],
  kind: "request-response",
  options: { connect: PYRO4_CONNECT_OPTIONS, serve: PYRO4_SERVE_OPTIONS },
  serve(handler, url, options) {
    return Pyro4Daemon.start(handler, url, options as Pyro4ServeOptions);
  },
  connect(url, options) {
    return Pyro4Client.open(url, options as Pyro4ConnectOptions);
  },
};
