/**
 * `locateNS(url?)`: a client of a name server, Pyro4's NameServer proxy with
 * camelCase options. It calls the `Pyro.NameServer` object's methods with
 * Pyro's argument names as keyword arguments (docs/protocol.md).
 */
import { connect } from "../endpoint.js";
import type { AnyRemote, CallOptions } from "../call-types.js";
import type { ProxyOptions } from "../proxy.js";
import type { TransportOptions } from "../transport.js";
import { registerError } from "../errors.js";
import { NamingError } from "./name-server-object.js";
import { NAMESERVER_NAME } from "./registry.js";
import { DEFAULT_NAMESERVER_URL } from "./start.js";

/** A registration as `lookup(name, { metadata: true })` and `list({ metadata: true })` give it. */
export interface NameRecord {
  url: string;
  metadata: string[];
}

export interface ListOptions {
  /** Names starting with this. */
  prefix?: string;
  /** Names matching this regular expression at their start (Python's re.match; linear-time subset, see docs/objects.md). */
  regex?: string;
  /** Registrations carrying every one of these tags. */
  metadataAll?: Iterable<string>;
  /** Registrations carrying at least one of these tags. */
  metadataAny?: Iterable<string>;
}

export interface RegisterOptions {
  /** Tags that `list({ metadataAll/metadataAny })` and `PYROMETA:` find it by. */
  metadata?: Iterable<string>;
  /** Refuse (`NAME_TAKEN`) when the name is registered already. */
  safe?: boolean;
  /** A lease (ms): the name is dropped unless registered again within it. */
  ttl?: number;
}

/** What `locateNS` takes: where the name server is and how to connect to it. */
export type LocateOptions = ProxyOptions & TransportOptions;

/**
 * Where a name server is when none is given: `WIRECALL_NS` (Node), else
 * `tcp://127.0.0.1:9090`.
 */
export function defaultNameServerUrl(): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WIRECALL_NS;
  return env && env.trim() !== "" ? env.trim() : DEFAULT_NAMESERVER_URL;
}

/** `host:port` (Pyro's form) means the tcp name server there; a full URL is used as is. */
export function nameServerUrl(address: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) return address;
  const m = /^(\[[^\]]+\]|[^:/?#[\]@]+)(?::(\d{1,5}))?$/.exec(address);
  if (!m) return address; // connect() says what is wrong with it
  return `tcp://${m[1]}:${m[2] ?? "9090"}`;
}

let errorsRegistered = false;

/**
 * Connect to the name server at `url` (default `WIRECALL_NS`, else
 * `tcp://127.0.0.1:9090`; `host:port` means tcp). Options are connect()'s
 * (authkey, serializer, timeout...).
 */
export async function locateNS(url?: string, options: LocateOptions = {}): Promise<NameServerClient> {
  if (!errorsRegistered) {
    // So `err instanceof NamingError` holds for the name server's refusals.
    registerError(NamingError);
    errorsRegistered = true;
  }
  const address = nameServerUrl(url ?? defaultNameServerUrl());
  const target = new URL(address);
  if (target.hash === "") target.hash = encodeURIComponent(NAMESERVER_NAME);
  const proxy = (await connect(target.href, options)) as AnyRemote;
  return new NameServerClient(proxy, address);
}

// A string passes as is, so the name server refuses it rather than spreading it into letters.
function tags(v: Iterable<string> | undefined): string[] | string | null {
  return v === undefined ? null : typeof v === "string" ? v : [...v];
}

// Node 20 before 20.4 has no Symbol.asyncDispose; the facade uses the same fallback.
const asyncDispose: typeof Symbol.asyncDispose = ((Symbol as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for("nodejs.asyncDispose")) as typeof Symbol.asyncDispose;

/** A connection to a name server. Close it with `close()` (or `await using`). */
export class NameServerClient {
  readonly #proxy: AnyRemote;
  /** The name server's address as given (without the object id). */
  readonly url: string;

  constructor(proxy: AnyRemote, url: string) {
    this.#proxy = proxy;
    this.url = url;
  }

  #call<R>(method: string, kwargs: Record<string, unknown>, options?: CallOptions): Promise<R> {
    return this.#proxy.$call<R>(method, [], kwargs, options);
  }

  /** Register `name` -> `url` (any URL connect() takes: `server.urlOf(id)`, `PYRO:obj@host:port`...); `call`: timeout/signal of this call. */
  async register(name: string, url: string, options: RegisterOptions = {}, call?: CallOptions): Promise<void> {
    const kwargs: Record<string, unknown> = { name, uri: url, safe: options.safe ?? false, metadata: tags(options.metadata) };
    if (options.ttl !== undefined) kwargs.ttl_ms = options.ttl;
    await this.#call("register", kwargs, call);
  }

  /** The URL registered as `name` (`NAME_NOT_FOUND` if none); with `{ metadata: true }`, the URL and its tags. */
  lookup(name: string, options?: CallOptions & { metadata?: false }): Promise<string>;
  lookup(name: string, options: CallOptions & { metadata: true }): Promise<NameRecord>;
  async lookup(name: string, options: CallOptions & { metadata?: boolean } = {}): Promise<string | NameRecord> {
    const { metadata: withMetadata, ...call } = options;
    // String(): a Pyro4 name server (over pyro://) answers with URI objects, which print as their URL.
    if (!withMetadata) return String(await this.#call<unknown>("lookup", { name }, call));
    const [url, metadata] = await this.#call<[unknown, Iterable<string>]>("lookup", { name, return_metadata: true }, call);
    return { url: String(url), metadata: [...metadata] };
  }

  /** `{ name: url }` of the registrations matching one filter (or all); with `metadata: true`, records. */
  list(options?: ListOptions & { metadata?: false }): Promise<Record<string, string>>;
  list(options: ListOptions & { metadata: true }): Promise<Record<string, NameRecord>>;
  async list(options: ListOptions & { metadata?: boolean } = {}): Promise<Record<string, string> | Record<string, NameRecord>> {
    const kwargs: Record<string, unknown> = {};
    if (options.prefix !== undefined) kwargs.prefix = options.prefix;
    if (options.regex !== undefined) kwargs.regex = options.regex;
    if (options.metadataAll !== undefined) kwargs.metadata_all = tags(options.metadataAll);
    if (options.metadataAny !== undefined) kwargs.metadata_any = tags(options.metadataAny);
    if (!options.metadata) return this.#call<Record<string, string>>("list", kwargs);
    kwargs.return_metadata = true;
    const raw = await this.#call<Record<string, [string, string[]]>>("list", kwargs);
    const out = Object.create(null) as Record<string, NameRecord>;
    for (const [n, [url, metadata]] of Object.entries(raw)) out[n] = { url, metadata };
    return out;
  }

  /** Replace the tags of a registered name. */
  async setMetadata(name: string, metadata: Iterable<string>): Promise<void> {
    await this.#call("set_metadata", { name, metadata: tags(metadata) });
  }

  /** Remove `name`, or every name under `{ prefix }` or matching `{ regex }`; returns how many went. */
  remove(name: string, options?: CallOptions): Promise<number>;
  remove(filter: { prefix: string } | { regex: string }, options?: CallOptions): Promise<number>;
  remove(what: string | { prefix?: string; regex?: string }, options?: CallOptions): Promise<number> {
    if (typeof what === "string") return this.#call<number>("remove", { name: what }, options);
    const kwargs: Record<string, unknown> = {};
    if (what.prefix !== undefined) kwargs.prefix = what.prefix;
    if (what.regex !== undefined) kwargs.regex = what.regex;
    return this.#call<number>("remove", kwargs, options);
  }

  /** Resolves when the name server answers. */
  async ping(options?: CallOptions): Promise<void> {
    await this.#call("ping", {}, options);
  }

  /** Registrations held, the name server's own included. */
  count(): Promise<number> {
    return this.#call<number>("count", {});
  }

  /** Close the connection to the name server. */
  close(): Promise<void> {
    return this.#proxy.$close();
  }

  /** `await using ns = await locateNS()` closes it. */
  [asyncDispose](): Promise<void> {
    return this.close();
  }
}

