/**
 * `startNameServer(url?, options?)`: a normal wirecall server (any
 * transport, authkey like any server) whose handler holds the
 * `Pyro.NameServer` object over a {@link NameRegistry}, optionally kept in
 * a storage file. The registry registers the name server itself, as Pyro's
 * does, so `lookup("Pyro.NameServer")` is its URL.
 */
import type { ServeOptions } from "../endpoint.js";
import { serve } from "../endpoint.js";
import { RpcError } from "../errors.js";
import { RPCHandler } from "../handler.js";
import type { ObjectServer } from "../objects.js";
import { NameServerObject } from "./name-server-object.js";
import type { NamingLimits } from "./naming-limits.js";
import { NAMESERVER_NAME, NameRegistry, type RegistrySnapshot } from "./registry.js";

/** Pyro's name server port on loopback. */
export const DEFAULT_NAMESERVER_URL = "tcp://127.0.0.1:9090";

/**
 * Where a name server keeps its registrations between runs. `save` must be
 * atomic (a crash leaves the old or the new table, never half of one); see
 * `fileStore` in `wirecall/naming`.
 */
export interface NameStore {
  /** The saved table, or undefined when nothing was saved yet. */
  load(): Promise<unknown>;
  save(snapshot: RegistrySnapshot): Promise<void>;
}

export interface NameServerOptions extends ServeOptions {
  /** Bounds on names, URLs, metadata, regexes and the table (naming-limits.ts). */
  limits?: Partial<NamingLimits>;
  /**
   * Keep registrations across restarts: a {@link NameStore}, or a file
   * path (Node: loads `fileStore` from `wirecall/naming`). Loaded before
   * serving; every change is saved before the call that made it returns.
   */
  storage?: NameStore | string;
  /** Serve on this handler (its other functions stay served) instead of a new one. */
  handler?: RPCHandler;
  /**
   * What `lookup` returns for a registered URL (default: the string). A
   * name server on `pyro://` for Python clients passes `uriValue` from
   * `wirecall/pyro4`-style URI objects, since Pyro4's PYRONAME resolution
   * needs a URI object back.
   */
  uriValue?: (url: string) => unknown;
}

/** A running name server: a server plus its registry. */
export interface NameServer extends ObjectServer {
  /** The table; usable in-process (a Pyro4 front-end on another port can share it). */
  readonly registry: NameRegistry;
  /** The URL of the `Pyro.NameServer` object: what `locateNS()` connects to. */
  readonly nsUrl: string;
}

/**
 * Start a name server at `url` (default `tcp://127.0.0.1:9090`, Pyro's
 * port). Clients reach it with `locateNS(url)`, `PYRONAME:name@host:port`,
 * and (tcp) any client of the object `Pyro.NameServer` (docs/protocol.md).
 */
export async function startNameServer(url: string | URL = DEFAULT_NAMESERVER_URL, options: NameServerOptions = {}): Promise<NameServer> {
  const { limits, storage, handler: given, uriValue, ...serveOptions } = options;
  const store = typeof storage === "string" ? await fileStoreFor(storage) : storage;
  const persist = store ? new Persister(store) : undefined;
  const registry = new NameRegistry({ limits: limits ?? {}, onChange: persist ? () => persist.changed() : undefined });
  if (store) registry.restore((await store.load()) ?? { version: 1, names: [] });
  if (persist) persist.registry = registry;
  const handler = given ?? new RPCHandler();
  // Every change waits for its save, so an acknowledged registration survives a crash.
  const object = new NameServerObject(registry, persist ? () => persist.flushed() : undefined, uriValue);
  handler.registerInstance(object, NAMESERVER_NAME);
  const server = await serve(handler, url, serveOptions);
  const nsUrl = server.urlOf(NAMESERVER_NAME);
  // Replaces a stale self-registration from a storage file (restore skips it).
  registry.register(NAMESERVER_NAME, nsUrl);
  const close = server.close.bind(server);
  let closing: Promise<void> | undefined;
  return Object.assign(server, {
    registry,
    nsUrl,
    close: () =>
      (closing ??= (async () => {
        await close();
        await persist?.flushed();
      })()),
  });
}

async function fileStoreFor(path: string): Promise<NameStore> {
  // Node-only code stays out of the core; the specifier is computed to keep bundlers from inlining it.
  const specifier = ["wirecall", "naming"].join("/");
  try {
    const mod = (await import(specifier)) as { fileStore: (path: string) => NameStore };
    return mod.fileStore(path);
  } catch (err) {
    throw new RpcError("NAMING_STORAGE_FAILED", `a storage file needs Node and wirecall/naming (fileStore): ${String(err)}`, { cause: err });
  }
}

/** Coalesces saves: at most one write in flight; changes during it are saved by the next one. */
class Persister {
  registry: NameRegistry | undefined;
  readonly #store: NameStore;
  #dirty = false;
  #writing: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(store: NameStore) {
    this.#store = store;
  }

  changed(): void {
    this.#dirty = true;
  }

  /** Resolves once everything changed so far is saved. */
  flushed(): Promise<void> {
    if (!this.#dirty) return this.#writing ?? Promise.resolve();
    if (!this.#writing) return this.#write();
    // One write runs; a second, queued behind it, takes every change made meanwhile.
    return (this.#next ??= this.#writing.catch(() => undefined).then(() => {
      this.#next = undefined;
      return this.#dirty ? this.#write() : undefined;
    }));
  }

  #write(): Promise<void> {
    this.#dirty = false;
    const snapshot = (this.registry as NameRegistry).snapshot();
    const p = this.#store.save(snapshot).finally(() => {
      if (this.#writing === p) this.#writing = undefined;
    });
    this.#writing = p;
    return p;
  }
}
