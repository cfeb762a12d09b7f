/**
 * A running server over a framed transport: the listener plus one
 * {@link PeerSession} per accepted connection, and the drain on close.
 */
import { RpcError } from "./errors.js";
import { objectUrl, type ObjectServer } from "./objects.js";
import { serverOpening, type ServerOpening } from "./server-opening.js";
import type { PeerSession } from "./session.js";
import type { Listener, Server } from "./transport.js";

export class FrameServer implements Server {
  readonly #listener: Listener;
  /** Each open connection's server end (its session behind it). */
  readonly #sessions = new Set<ServerOpening>();
  readonly #open = serverOpening((end) => this.#sessions.delete(end));
  readonly #closeTimeout: number;
  readonly #query: string;
  #closing: Promise<void> | undefined;

  /** `query`: the served URL's `?...` (its options, e.g. `serializer`), kept in {@link url}. */
  constructor(listener: Listener, closeTimeout: number, query = "") {
    this.#listener = listener;
    this.#closeTimeout = closeTimeout;
    this.#query = query;
  }

  /** The listener's URL with the served URL's query: a URL a client can connect to as is. */
  get url(): string {
    const u = this.#listener.url;
    return this.#query && !u.includes("?") ? u + this.#query : u;
  }

  /** The URL of the object registered as `id`: `url#id`. */
  urlOf(id: string): string {
    return objectUrl(this.#listener.url, id);
  }

  /** Connections currently open. */
  get connections(): number {
    return this.#sessions.size;
  }

  /** Serve the peer of `session` (a server-role session, not started yet) until it closes. */
  track(session: PeerSession): void {
    const end = session.start(this.#open) as ServerOpening;
    if (this.#closing) {
      end.abortAll(new RpcError("SHUTTING_DOWN", "the server is shutting down"));
      return;
    }
    this.#sessions.add(end);
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    await this.#listener.close();
    const sessions = [...this.#sessions];
    for (const s of sessions) s.beginShutdown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#closeTimeout);
    });
    // Calls and one-way calls alike: a session is idle when no handler of it is running.
    await Promise.race([Promise.all(sessions.map((s) => s.idle())), deadline]);
    clearTimeout(timer);
    const reason = new RpcError("SHUTTING_DOWN", "the server closed");
    for (const s of sessions) s.abortAll(reason);
  }
}

/** Give a running server its `urlOf(id)`. */
export function withUrlOf<S extends Server>(server: S): S & ObjectServer {
  const s = server as S & ObjectServer;
  if (typeof s.urlOf !== "function") {
    Object.defineProperty(s, "urlOf", { value: (id: string) => objectUrl(s.url, id), configurable: true });
  }
  return s;
}
