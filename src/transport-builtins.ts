/**
 * The transports wirecall ships, loaded by URL scheme through the package's
 * own subpath exports the first time a scheme without a registered
 * transport is used (src/transport-registry.ts). A page that registered its
 * transport (`wirecall/ws` in a browser does) never loads this file.
 */
import { RpcError } from "./errors.js";
import type { FrontEnd } from "./front-end.js";
import type { Transport } from "./transport.js";

// What the registry calls AnyTransport (not imported from it: no import loop).
type AnyTransport = Transport | FrontEnd;

// So that a browser bundle or an install without zeromq never loads what it
// does not use. The specifier is computed to keep bundlers from inlining it.
const BUILTIN: Record<string, string> = {
  mem: "memory",
  tcp: "tcp",
  tls: "tcp",
  ws: "ws",
  wss: "ws",
  "zmq+tcp": "zmq",
  "zmq+ipc": "zmq",
  "xmlrpc+http": "xmlrpc",
  "xmlrpc+https": "xmlrpc",
  pyro: "pyro4",
  nats: "nats",
  "nats+tls": "nats",
};

/**
 * The built-in transport (or front-end) for `scheme`, loaded; `INVALID_URL`
 * naming the known schemes (the built-in ones and `registered`) when there
 * is none.
 */
export async function loadBuiltin(scheme: string, registered: Iterable<string>): Promise<AnyTransport> {
  const sub = Object.prototype.hasOwnProperty.call(BUILTIN, scheme) ? BUILTIN[scheme] : undefined;
  if (!sub) throw new RpcError("INVALID_URL", `no transport for scheme '${scheme}:' (known: ${[...new Set([...Object.keys(BUILTIN), ...registered])].join(", ")})`);
  const specifier = `wirecall/${sub}`;
  let mod: { transport?: AnyTransport };
  try {
    mod = (await import(specifier)) as { transport?: AnyTransport };
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw new RpcError("INVALID_URL", `cannot load the transport for '${scheme}:' from ${specifier}`, { cause: err });
  }
  if (!mod.transport) throw new RpcError("INTERNAL_ERROR", `${specifier} exports no transport`);
  return mod.transport;
}
