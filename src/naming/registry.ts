/**
 * The name server's table: names -> (URL, metadata tags, optional lease).
 * Transport-free and front-end-free: the wirecall name server object
 * (name-server-object.ts) and any other front-end (Pyro4's wire) share it.
 *
 * Leases: a registration made with a `ttl` expires that many ms after it
 * was made unless registered again; expired names are dropped before any
 * read, so a lookup never hands out a name past its lease.
 */
import { RpcError } from "../errors.js";
import { NameRegex } from "./name-regex.js";
import { DEFAULT_NAMING_LIMITS, type NamingLimits } from "./naming-limits.js";

/** Pyro's name for the name server's own registration (constants.NAMESERVER_NAME). */
export const NAMESERVER_NAME = "Pyro.NameServer";

export interface NameEntry {
  readonly url: string;
  readonly metadata: ReadonlySet<string>;
  /** Epoch ms after which the registration is gone; undefined: no lease. */
  readonly expires: number | undefined;
}

/** What a storage file holds (JSON): one row per registration. */
export interface RegistrySnapshot {
  version: 1;
  /** [name, url, metadata tags, lease end (epoch ms) or null] */
  names: Array<[string, string, string[], number | null]>;
}

/** Filters of `list`: at most one of them, as in Pyro. */
export interface NameFilter {
  prefix?: string | null | undefined;
  regex?: string | null | undefined;
  metadataAll?: unknown;
  metadataAny?: unknown;
}

export interface RegistryOptions {
  limits?: Partial<NamingLimits>;
  /** The clock (epoch ms); tests may pass their own. */
  now?: () => number;
  /** Called after every change a client made (not after expiry), e.g. to persist. */
  onChange?: () => void;
}

function limit(message: string): RpcError {
  return new RpcError("NAMING_LIMIT", message);
}

function invalid(message: string): RpcError {
  return new RpcError("INVALID_PARAMS", message);
}

export class NameRegistry {
  readonly limits: Readonly<NamingLimits>;
  readonly #names = new Map<string, NameEntry>();
  readonly #now: () => number;
  readonly #onChange: (() => void) | undefined;
  /** Earliest lease end in the table (Infinity: none), so reads sweep only when something is due. */
  #nextExpiry = Infinity;

  constructor(options: RegistryOptions = {}) {
    this.limits = Object.freeze({ ...DEFAULT_NAMING_LIMITS, ...options.limits });
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
  }

  /** Registrations held now (leases past their end are not counted). */
  count(): number {
    this.#sweep();
    return this.#names.size;
  }

  /** The entry for `name`, or `NAME_NOT_FOUND`. */
  lookup(name: unknown): NameEntry {
    const n = this.#checkName(name);
    this.#sweep();
    const e = this.#names.get(n);
    if (!e) throw new RpcError("NAME_NOT_FOUND", `unknown name: ${n} (not registered, removed, or its lease ran out)`);
    return e;
  }

  /**
   * Register `name` -> `url`. `safe` refuses a name already taken
   * (`NAME_TAKEN`); `ttl` (ms) makes it a lease, renewed by registering again.
   */
  register(name: unknown, url: unknown, options: { safe?: unknown; metadata?: unknown; ttl?: unknown } = {}): void {
    const n = this.#checkName(name);
    const u = this.#checkUrl(url);
    const metadata = this.#checkMetadata(options.metadata, "metadata");
    const expires = this.#expiry(options.ttl);
    if (n === NAMESERVER_NAME && this.#names.has(n)) {
      throw new RpcError("NAME_TAKEN", `${NAMESERVER_NAME} is the name server's own registration and cannot be replaced`);
    }
    this.#sweep();
    const had = this.#names.has(n);
    if (had && options.safe) throw new RpcError("NAME_TAKEN", `name already registered: ${n} (remove it first, or register without safe)`);
    if (!had && this.#names.size >= this.limits.maxNames) {
      throw limit(`the name server holds ${this.limits.maxNames} names, its limit: remove some first`);
    }
    this.#set(n, { url: u, metadata, expires });
    this.#onChange?.();
  }

  /** Replace the metadata of a registered name. */
  setMetadata(name: unknown, metadata: unknown): void {
    const e = this.lookup(name);
    const m = this.#checkMetadata(metadata, "metadata");
    this.#names.set(name as string, { url: e.url, metadata: m, expires: e.expires });
    this.#onChange?.();
  }

  /**
   * Remove one name, or every name matching a prefix or regex (Pyro's
   * `remove(name, prefix, regex)`: the first given wins). The name server's
   * own registration stays. Returns how many went.
   */
  remove(name?: unknown, prefix?: unknown, regex?: unknown): number {
    this.#sweep();
    let gone: string[];
    if (name !== undefined && name !== null && name !== "") {
      const n = this.#checkName(name);
      gone = this.#names.has(n) && n !== NAMESERVER_NAME ? [n] : [];
      // Pyro falls through to prefix/regex when the name is not there.
      if (gone.length === 0 && (prefix || regex)) return this.remove(undefined, prefix, regex);
    } else if (prefix) {
      gone = this.list({ prefix: prefix as string }).map(([n]) => n);
    } else if (regex) {
      gone = this.list({ regex: regex as string }).map(([n]) => n);
    } else return 0;
    gone = gone.filter((n) => n !== NAMESERVER_NAME);
    for (const n of gone) this.#names.delete(n);
    if (gone.length > 0) this.#onChange?.();
    return gone.length;
  }

  /** Registrations matching at most one filter, in registration order. */
  list(filter: NameFilter = {}): Array<[string, NameEntry]> {
    const given = [filter.prefix, filter.regex, filter.metadataAll, filter.metadataAny].filter((f) => f !== undefined && f !== null);
    if (given.length > 1) throw invalid("list() filters on one thing at a time: give only one of prefix, regex, metadata_all, metadata_any");
    this.#sweep();
    const all = [...this.#names];
    if (filter.prefix !== undefined && filter.prefix !== null && filter.prefix !== "") {
      const p = this.#checkString(filter.prefix, "prefix", this.limits.maxNameLength);
      return all.filter(([n]) => n.startsWith(p));
    }
    if (filter.regex !== undefined && filter.regex !== null && filter.regex !== "") {
      const r = this.#checkString(filter.regex, "regex", this.limits.maxRegexLength);
      const re = new NameRegex(r, this.limits.maxRegexProgram);
      const budget = { steps: 0, max: this.limits.maxRegexSteps };
      return all.filter(([n]) => re.match(n, budget));
    }
    if (filter.metadataAll !== undefined && filter.metadataAll !== null) {
      const want = [...this.#checkMetadata(filter.metadataAll, "metadata_all")];
      if (want.length === 0) return all;
      return all.filter(([, e]) => want.every((t) => e.metadata.has(t)));
    }
    if (filter.metadataAny !== undefined && filter.metadataAny !== null) {
      const want = [...this.#checkMetadata(filter.metadataAny, "metadata_any")];
      if (want.length === 0) return all;
      return all.filter(([, e]) => want.some((t) => e.metadata.has(t)));
    }
    return all;
  }

  /** The table as plain data (leases as absolute times), for a storage file. */
  snapshot(): RegistrySnapshot {
    this.#sweep();
    return { version: 1, names: [...this.#names].map(([n, e]) => [n, e.url, [...e.metadata], e.expires ?? null]) };
  }

  /**
   * Load a snapshot (a storage file, so untrusted data): each row is checked
   * as a registration would be; expired leases are dropped; a row replaces
   * what is registered under its name.
   */
  restore(snapshot: unknown): void {
    const s = snapshot as Partial<RegistrySnapshot> | null;
    if (!s || typeof s !== "object" || s.version !== 1 || !Array.isArray(s.names)) {
      throw new RpcError("NAMING_STORAGE_FAILED", "not a wirecall name server snapshot (expected { version: 1, names: [...] })");
    }
    const now = this.#now();
    for (const row of s.names) {
      if (!Array.isArray(row) || row.length !== 4) throw new RpcError("NAMING_STORAGE_FAILED", "a snapshot row is not [name, url, metadata, expires]");
      const [name, url, metadata, expires] = row as unknown[];
      if (expires !== null && (typeof expires !== "number" || !Number.isFinite(expires))) {
        throw new RpcError("NAMING_STORAGE_FAILED", `the lease of ${JSON.stringify(name)} is not a time`);
      }
      if (typeof expires === "number" && expires <= now) continue;
      const n = this.#checkName(name);
      if (n === NAMESERVER_NAME) continue; // the running server registers itself
      if (!this.#names.has(n) && this.#names.size >= this.limits.maxNames) throw limit(`the snapshot holds more than ${this.limits.maxNames} names`);
      this.#set(n, { url: this.#checkUrl(url), metadata: this.#checkMetadata(metadata, "metadata"), expires: expires ?? undefined });
    }
  }

  #set(name: string, e: NameEntry): void {
    // Delete first so a re-registration moves to the end, as a fresh one would.
    this.#names.delete(name);
    this.#names.set(name, e);
    if (e.expires !== undefined && e.expires < this.#nextExpiry) this.#nextExpiry = e.expires;
  }

  /** Drop expired leases; O(names) only when one is due. */
  #sweep(): void {
    const now = this.#now();
    if (now < this.#nextExpiry) return;
    let next = Infinity;
    for (const [n, e] of this.#names) {
      if (e.expires === undefined) continue;
      if (e.expires <= now) this.#names.delete(n);
      else if (e.expires < next) next = e.expires;
    }
    this.#nextExpiry = next;
  }

  #expiry(ttl: unknown): number | undefined {
    if (ttl === undefined || ttl === null) return undefined;
    const { minTtl, maxTtl } = this.limits;
    if (typeof ttl !== "number" || !Number.isFinite(ttl)) throw invalid(`ttl must be a number of milliseconds, got ${typeof ttl}`);
    if (ttl < minTtl || ttl > maxTtl) throw limit(`ttl ${ttl} ms is outside [${minTtl}, ${maxTtl}] ms`);
    return this.#now() + ttl;
  }

  #checkString(v: unknown, what: string, max: number): string {
    if (typeof v !== "string") throw invalid(`${what} must be a string, got ${v === null ? "null" : typeof v}`);
    if (v.length > max) throw limit(`${what} is ${v.length} characters long; the name server takes at most ${max}`);
    return v;
  }

  #checkName(name: unknown): string {
    const n = this.#checkString(name, "name", this.limits.maxNameLength);
    if (n === "") throw invalid("name must not be empty");
    // list() answers with an object keyed by name; these keys some serializers
    // refuse (superjson) or drop (msgpack "__proto__"), so the name would vanish.
    if (UNKEYABLE.has(n)) throw invalid(`name '${n}' cannot be registered: it cannot be a key of list()'s reply in every serializer`);
    return n;
  }

  #checkUrl(url: unknown): string {
    const u = this.#checkString(url, "uri", this.limits.maxUrlLength);
    let scheme: string;
    try {
      scheme = new URL(u).protocol.toLowerCase();
    } catch {
      throw invalid(`uri ${JSON.stringify(u.slice(0, 100))} is not a URL (e.g. tcp://host:port#object, PYRO:object@host:port)`);
    }
    if (scheme === "pyroname:" || scheme === "pyrometa:") {
      throw invalid(`uri ${JSON.stringify(u.slice(0, 100))} is itself a name lookup: register the URL it resolves to`);
    }
    return u;
  }

  /** A collection of tags (array, Set, any iterable but a string), bounded. */
  #checkMetadata(m: unknown, what: string): ReadonlySet<string> {
    if (m === undefined || m === null) return EMPTY;
    if (typeof m === "string") throw invalid(`${what} must be a collection of strings (array or Set), not a string`);
    if (typeof m !== "object" || typeof (m as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
      throw invalid(`${what} must be a collection of strings (array or Set)`);
    }
    const out = new Set<string>();
    let seen = 0;
    for (const t of m as Iterable<unknown>) {
      if (++seen > this.limits.maxMetadata) throw limit(`${what} has more than ${this.limits.maxMetadata} tags`);
      out.add(this.#checkString(t, `a ${what} tag`, this.limits.maxMetadataLength));
    }
    return out.size === 0 ? EMPTY : out;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
const UNKEYABLE: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);
