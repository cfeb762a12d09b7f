/**
 * The name server as an object: registered under `Pyro.NameServer`, with
 * the methods and argument names of Pyro4's `Pyro4.naming.NameServer`, so
 * the same object answers wirecall clients (`locateNS`), clients in other
 * languages (docs/protocol.md) and Pyro4's own wire (protocols/pyro4).
 * Keyword arguments bind by these parameter names; Python's `None` arrives
 * as `null`. Errors carry codes (`NAME_NOT_FOUND`, `NAME_TAKEN`,
 * `NAMING_LIMIT`, `INVALID_PARAMS`) and the name `NamingError`, Pyro's class.
 */
import { RpcError } from "../errors.js";
import type { NameEntry, NameRegistry } from "./registry.js";

/** Pyro4's exception class for name server failures; the `code` says which. */
export class NamingError extends RpcError {
  override get name(): string {
    return "NamingError";
  }
}

function naming<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    // INVALID_PARAMS stays as is (Pyro raises TypeError/ValueError there); the rest are NamingErrors.
    if (err instanceof RpcError && err.code !== "INVALID_PARAMS" && !(err instanceof NamingError)) {
      throw new NamingError(err.code, err.message);
    }
    throw err;
  }
}

function nullProto<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/**
 * Pyro4's register takes "an URI or a string": a URI object (a front-end's
 * class with its own toString, such as Pyro4's URI) counts as its text.
 */
function uriText(uri: unknown): unknown {
  if (uri === null || typeof uri !== "object") return uri;
  const own = (uri as { toString?: unknown }).toString;
  return typeof own === "function" && own !== Object.prototype.toString && own !== Array.prototype.toString ? String(uri) : uri;
}

function withMeta(e: NameEntry): [string, string[]] {
  return [e.url, [...e.metadata]];
}

/** Pyro4's NameServer API over a {@link NameRegistry}. */
export class NameServerObject {
  readonly #registry: NameRegistry;
  readonly #flushed: (() => Promise<void>) | undefined;
  readonly #uriValue: (url: string) => unknown;

  /**
   * `flushed`: resolves once changes are stored; a change replies only then.
   * `uriValue`: what `lookup` returns for a URL (default the string itself);
   * a Pyro4 front-end returns its URI objects, as Python's `PYRONAME:`
   * resolution needs one.
   */
  constructor(registry: NameRegistry, flushed?: () => Promise<void>, uriValue?: (url: string) => unknown) {
    this.#registry = registry;
    this.#flushed = flushed;
    this.#uriValue = uriValue ?? ((url) => url);
  }

  #stored<T>(value: T): T | Promise<T> {
    if (!this.#flushed) return value;
    return this.#flushed().then(
      () => value,
      (err: unknown) => {
        // Not a silent half-success: say the change is live but not on disk.
        const why = err instanceof Error ? err.message : String(err);
        throw new NamingError("NAMING_STORAGE_FAILED", `the change is in effect but was not saved, so a restart loses it: ${why}`, { cause: err });
      },
    );
  }

  /** The URL registered as `name`; with `return_metadata`, `[url, tags]`. */
  lookup(name: string, return_metadata = false): unknown {
    return naming(() => {
      const e = this.#registry.lookup(name);
      const uri = this.#uriValue(e.url);
      return return_metadata ? [uri, [...e.metadata]] : uri;
    });
  }

  /**
   * Register `name` -> `uri` (any URL connect() takes). `safe` refuses a
   * name already taken; `metadata` is a collection of tags; `ttl_ms` (a
   * wirecall extension) makes it a lease that ends unless registered again.
   */
  register(name: string, uri: unknown, safe: boolean | null = false, metadata: unknown = null, ttl_ms: number | null = null): null | Promise<null> {
    naming(() => this.#registry.register(name, uriText(uri), { safe: !!safe, metadata, ttl: ttl_ms }));
    return this.#stored(null);
  }

  /** Replace the metadata tags of a registered name. */
  set_metadata(name: string, metadata: unknown): null | Promise<null> {
    naming(() => this.#registry.setMetadata(name, metadata));
    return this.#stored(null);
  }

  /** Remove one name, or all under a prefix, or all matching a regex; returns how many went. */
  remove(name: string | null = null, prefix: string | null = null, regex: string | null = null): number | Promise<number> {
    return this.#stored(naming(() => this.#registry.remove(name, prefix, regex)));
  }

  /**
   * `{ name: url }` of the registrations matching at most one filter
   * (`prefix`, `regex` as re.match, `metadata_all`, `metadata_any`); with
   * `return_metadata`, `{ name: [url, tags] }`.
   */
  list(
    prefix: string | null = null,
    regex: string | null = null,
    metadata_all: unknown = null,
    metadata_any: unknown = null,
    return_metadata = false,
  ): Record<string, string | [string, string[]]> {
    return naming(() => {
      const out = nullProto<string | [string, string[]]>();
      for (const [n, e] of this.#registry.list({ prefix, regex, metadataAll: metadata_all, metadataAny: metadata_any })) {
        out[n] = return_metadata ? withMeta(e) : e.url;
      }
      return out;
    });
  }

  /** Answers when the name server is up (Pyro's returns None). */
  ping(): null {
    return null;
  }

  /** Registrations held, the name server's own included (as in Pyro). */
  count(): number {
    return this.#registry.count();
  }
}
