/**
 * Pyro4 URIs: `PYRO:<object id>@host:port`, `PYRONAME:<name>[@host[:port]]`,
 * `PYROMETA:<tag>,<tag>...[@host[:port]]`, and `./u:<socket>` locations, as
 * Python's `Pyro4.core.URI` parses and prints them. A URI travels in
 * serpent, json and marshal as `{"__class__": "Pyro4.core.URI", "state":
 * (protocol, object, sockname, host, port)}` (the name server's `lookup`
 * returns one); the decoders turn that into a {@link PyroURI}, the encoders
 * write it back.
 */
import { ErrorCodes, RpcError } from "../../src/errors.js";

/** Pyro4's default name server port (`Pyro4.config.NS_PORT`), used when a PYRONAME/PYROMETA location has no port. */
export const DEFAULT_NS_PORT = 9090;

export type PyroProtocol = "PYRO" | "PYRONAME" | "PYROMETA";

const URI_RE = /^([Pp][Yy][Rr][Oo][a-zA-Z]*):(\S+?)(?:@(.+))?$/;

/** A Pyro4 URI. For PYROMETA, `object` is the set of metadata tags. */
export class PyroURI {
  constructor(
    readonly protocol: PyroProtocol,
    readonly object: string | ReadonlySet<string>,
    readonly host: string | null = null,
    readonly port: number | null = null,
    readonly sockname: string | null = null,
  ) {}

  /** Parse as Python's `Pyro4.core.URI(text)` does; `INVALID_URL` when it would refuse. */
  static parse(text: string): PyroURI {
    const m = URI_RE.exec(text);
    if (!m) throw invalid(text, "expected PYRO:object@host:port, PYRONAME:name[@host[:port]] or PYROMETA:tags[@host[:port]]");
    const protocol = (m[1] as string).toUpperCase();
    const object = m[2] as string;
    const location = m[3];
    if (protocol !== "PYRO" && protocol !== "PYRONAME" && protocol !== "PYROMETA") throw invalid(text, `unknown protocol ${protocol}`);
    if (protocol === "PYRO" && !location) throw invalid(text, "a PYRO: URI needs a location (@host:port)");
    const loc = location ? parseLocation(text, location, protocol === "PYRO" ? null : DEFAULT_NS_PORT) : { host: null, port: null, sockname: null };
    const obj = protocol === "PYROMETA" ? new Set(object.split(",").map((t) => t.trim())) : object;
    return new PyroURI(protocol, obj, loc.host, loc.port, loc.sockname);
  }

  /** `host:port`, `[v6]:port` or `./u:sockname`; null when there is none. */
  get location(): string | null {
    if (this.host) return this.host.includes(":") ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
    if (this.sockname) return `./u:${this.sockname}`;
    return null;
  }

  /** The URI text, as Python's `str(uri)` prints it. */
  toString(): string {
    const obj = typeof this.object === "string" ? this.object : [...this.object].join(",");
    const loc = this.location;
    return `${this.protocol}:${obj}${loc ? `@${loc}` : ""}`;
  }
}

function invalid(text: string, why: string): RpcError {
  return new RpcError(ErrorCodes.INVALID_URL, `invalid Pyro4 URI ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text)}: ${why}`);
}

function parseLocation(text: string, location: string, defaultPort: number | null): { host: string | null; port: number | null; sockname: string | null } {
  if (location.startsWith("./u:")) {
    const sockname = location.slice(4);
    if (!sockname || sockname.includes(":")) throw invalid(text, "bad unix socket location");
    return { host: null, port: null, sockname };
  }
  let host: string;
  let port: string | undefined;
  if (location.startsWith("[")) {
    const m = /^\[([0-9a-fA-F:%]+)\](?::(\d+))?/.exec(location);
    if (!m || location.startsWith("[[")) throw invalid(text, "the part between brackets must be a numeric IPv6 address");
    host = m[1] as string;
    port = m[2];
  } else {
    const colon = location.indexOf(":");
    host = colon < 0 ? location : location.slice(0, colon);
    port = colon < 0 ? undefined : location.slice(colon + 1);
  }
  if (!port) {
    if (defaultPort === null) throw invalid(text, "no port");
    return { host, port: defaultPort, sockname: null };
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw invalid(text, `invalid port ${port}`);
  return { host, port: Number(port), sockname: null };
}

/** The class dict Pyro4 sends for a URI (the state as a tuple: encoders write PyTuple-like arrays as given). */
export function uriState(uri: PyroURI): unknown[] {
  return [uri.protocol, uri.object, uri.sockname, uri.host, uri.port];
}

/** A URI from Pyro4's state tuple, or undefined when the state is not one. */
export function uriFromState(state: unknown): PyroURI | undefined {
  if (!Array.isArray(state) || state.length !== 5) return undefined;
  const [protocol, rawObject, sockname, host, port] = state as unknown[];
  // PYROMETA's tag set arrives as a list over json, which has no sets.
  const object = protocol === "PYROMETA" && Array.isArray(rawObject) ? new Set(rawObject) : rawObject;
  if (protocol !== "PYRO" && protocol !== "PYRONAME" && protocol !== "PYROMETA") return undefined;
  const okObject = typeof object === "string" || (object instanceof Set && [...object].every((t) => typeof t === "string"));
  const okOpt = (v: unknown, t: "string" | "number") => v === null || typeof v === t;
  if (!okObject || !okOpt(sockname, "string") || !okOpt(host, "string") || !okOpt(port, "number")) return undefined;
  return new PyroURI(protocol, object as string | Set<string>, host as string | null, port as number | null, sockname as string | null);
}
