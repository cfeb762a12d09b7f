/**
 * `server.publish(name, options)`: register one of the server's objects
 * with a name server and keep it registered while the server runs. The
 * registration is a lease (`ttl`, default 30 s) renewed every ttl/3, so a
 * server that dies without closing (crash, SIGKILL) disappears from the
 * name server within `ttl`; `server.close()` removes its names first.
 */
import type { CallOptions } from "../call-types.js";
import { RpcError } from "../errors.js";
import type { ObjectServer } from "../objects.js";
import { DEFAULT_PUBLISH_TTL, type NameServerHandle, type Publisher, type PublishOptions } from "../url-resolvers.js";

/** Longest a close waits for the name server to remove a name (ms): a dead name server must not hold close(). */
const REMOVE_TIMEOUT = 2000;

class Publication {
  #client: NameServerHandle | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #renewing = false;
  #stopped = false;

  constructor(
    readonly name: string,
    readonly url: string,
    readonly options: PublishOptions,
    readonly ttl: number,
  ) {}

  async #ns(): Promise<NameServerHandle> {
    const given = this.options.nameserver;
    if (given !== undefined && typeof given !== "string") return given;
    if (this.#client) return this.#client;
    const { locateNS } = await import("./locate.js");
    this.#client = await locateNS(given, this.options.nameserverOptions ?? {});
    return this.#client;
  }

  async #register(): Promise<void> {
    const ns = await this.#ns();
    const opts: { metadata?: Iterable<string>; ttl: number } = { ttl: this.ttl };
    if (this.options.metadata !== undefined) opts.metadata = this.options.metadata;
    // A name server that accepted the connection but does not answer must not stall renewals for good.
    await ns.register(this.name, this.url, opts, { timeout: Math.max(1000, Math.floor(this.ttl / 3)) });
  }

  async start(): Promise<void> {
    await this.#register();
    this.#timer = setInterval(() => void this.#renew(), Math.max(1, Math.floor(this.ttl / 3)));
    // A publication alone must not keep a process alive; the server's listener does.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#stopped) return;
    this.#renewing = true;
    try {
      await this.#register();
    } catch {
      // The name server is gone or restarting: reconnect on the next tick and register again.
      const c = this.#client;
      this.#client = undefined;
      await c?.close().catch(() => undefined);
    } finally {
      this.#renewing = false;
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    try {
      const ns = await this.#ns();
      const options: CallOptions = { timeout: REMOVE_TIMEOUT };
      // Only our own registration: another server may have taken the name since.
      const current = await ns.lookup(this.name, { timeout: REMOVE_TIMEOUT }).catch(() => undefined);
      if (current === this.url) await ns.remove(this.name, options);
    } catch {
      // Unreachable name server: the lease ends by itself within ttl.
    } finally {
      await this.#client?.close().catch(() => undefined);
      this.#client = undefined;
    }
  }
}

/** Give a server `publish`/`unpublish`, and make its close() unpublish first. */
export function withPublish<S extends ObjectServer>(server: S): S & Publisher {
  const s = server as S & Publisher;
  if (typeof s.publish === "function") return s;
  const publications = new Map<string, Publication>();
  const close = server.close.bind(server);
  let closing: Promise<void> | undefined;
  Object.defineProperties(s, {
    publish: {
      configurable: true,
      writable: true,
      value: async (name: string, options: PublishOptions = {}): Promise<string> => {
        if (closing) throw new RpcError("SHUTTING_DOWN", "the server is closing: nothing to publish");
        const url = options.object === null ? server.url : server.urlOf(options.object ?? name);
        const p = new Publication(name, url, options, options.ttl ?? DEFAULT_PUBLISH_TTL);
        await publications.get(name)?.stop();
        publications.set(name, p);
        try {
          await p.start();
        } catch (err) {
          publications.delete(name);
          await p.stop();
          throw err;
        }
        return url;
      },
    },
    unpublish: {
      configurable: true,
      writable: true,
      value: async (name: string): Promise<void> => {
        const p = publications.get(name);
        publications.delete(name);
        await p?.stop();
      },
    },
    close: {
      configurable: true,
      writable: true,
      value: (): Promise<void> =>
        (closing ??= (async () => {
          const all = [...publications.values()];
          publications.clear();
          await Promise.all(all.map((p) => p.stop()));
          await close();
        })()),
    },
  });
  return s;
}
