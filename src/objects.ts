/**
 * Objects by URL: `tcp://host:port#greeter` names the object a server
 * registered with `registerInstance(obj, "greeter")`. The fragment never
 * reaches the transport (browsers and `ws` refuse URLs with one); the
 * client prefixes every call with `greeter.`, a name the handler already
 * routes, so no wire change and every transport (and front-end) carries it.
 * `connect` loads this module only for a URL with a `#`.
 */
import type { Caller, CallOptions } from "./call-types.js";
import { RpcError } from "./errors.js";
import type { Server } from "./transport.js";

/** A server that can name the URL of each object it serves. */
export interface ObjectServer extends Server {
  // Required here; optional on Server so other Server classes need not have it.
  /**
   * The URL that `connect()` turns into a proxy on the object registered
   * with `registerInstance(obj, id)`: the server's URL with `#id`.
   */
  urlOf(id: string): string;
}

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

/** Throws `INVALID_URL` unless `id` is a name an object can be registered under. */
export function checkObjectId(id: string): void {
  const ok = typeof id === "string" && id !== "" && id.split(".").every((p) => p !== "" && !p.startsWith("_") && !FORBIDDEN.has(p));
  if (!ok) {
    throw new RpcError(
      "INVALID_URL",
      `${JSON.stringify(String(id))} is not an object id: use the non-empty, dotted name given to registerInstance(obj, id) (no empty parts, none starting with '_')`,
    );
  }
}

/** `url` with `#id`: the address of one object served there. */
export function objectUrl(serverUrl: string, id: string): string {
  checkObjectId(id);
  const u = new URL(serverUrl);
  u.hash = encodeURIComponent(id);
  return u.toString();
}


/**
 * Split the object id off a URL. Returns the URL the transport dials (no
 * fragment) and the id, or undefined when the URL names no object.
 */
export function splitObjectUrl(url: URL): { url: URL; id: string | undefined } {
  if (url.hash === "") {
    if (!url.href.endsWith("#")) return { url, id: undefined };
    throw new RpcError("INVALID_URL", `${url.href} has an empty '#': name the object after it (server.urlOf(id)) or drop the '#'`);
  }
  let id: string;
  try {
    id = decodeURIComponent(url.hash.slice(1));
  } catch (err) {
    throw new RpcError("INVALID_URL", `the object id in ${JSON.stringify(url.href)} is not valid percent-encoding`, { cause: err });
  }
  checkObjectId(id);
  const bare = new URL(url.href);
  bare.hash = "";
  return { url: bare, id };
}

/** A caller whose every call goes to methods of the object `id`. */
export class ObjectCaller implements Caller {
  readonly #inner: Caller;
  readonly #prefix: string;

  constructor(inner: Caller, id: string) {
    this.#inner = inner;
    this.#prefix = `${id}.`;
  }

  call(name: string, args: unknown[], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    return this.#inner.call(this.#prefix + name, args, kwargs, options);
  }

  notify(name: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<void> {
    return this.#inner.notify(this.#prefix + name, args, kwargs);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
