/**
 * What the serving half (src/serving.ts) and the server's opening
 * (src/server-opening.ts) need of a session beyond what a client runs: the
 * origin of the peer's calls (`ctx.peer`, `ctx.session`, `origin.closed`)
 * and the error answer. Loaded with them, so a page that only calls never
 * fetches it; {@link install} fills the session's access table in.
 */
import type { AnyRemote, Caller } from "./call-types.js";
import type { PeerInfo } from "./call-context.js";
import type { WireError } from "./errors.js";
import { toWireError } from "./errors-to-wire.js";
import { createFacade } from "./facade.js";
import type { RPCHandler } from "./handler.js";
import { Kind, type CallId } from "./protocol.js";
import { json, type Serializer } from "./serializers/index.js";
import type { Connection } from "./transport.js";

/** The session as seen from here (src/session.ts's PeerSession; named by shape, so that no import loop forms). */
export interface SessionFace {
  readonly conn: Connection;
  readonly serializer: Serializer | undefined;
  readonly references: { exports: number; imports: number; streams: number } | undefined;
  call: Caller["call"];
  notify: Caller["notify"];
  end(): Promise<void>;
}

/** What this module takes from, and gives to, the sessions' access table. */
export interface PartsAccess<S> {
  opts(s: S): { readonly handler?: RPCHandler | undefined };
  closedSignal(s: S): AbortSignal;
  headers(s: S): boolean;
  send(s: S, frame: Uint8Array): void;
  sendError(s: S, id: CallId | null, err: unknown, meta?: Record<string, string>): void;
  wireId(s: S, id: CallId | null): CallId | bigint | null;
}

/** Where a session's calls come from: its getters on the prototype, not closures per connection. */
export class Origin<S extends SessionFace> implements PeerInfo {
  readonly transport: string;
  readonly remoteAddress: string | undefined;
  readonly #s: S;
  readonly #a: PartsAccess<S>;
  #remote: AnyRemote | undefined;

  constructor(session: S, access: PartsAccess<S>) {
    this.#s = session;
    this.#a = access;
    this.transport = session.conn.transport;
    this.remoteAddress = session.conn.remoteAddress;
  }

  get remote(): AnyRemote {
    const s = this.#s;
    // The facade's Caller is a face of its own: ConnectionSink.close(err) and Caller.close() differ.
    return (this.#remote ??= createFacade({
      call: (name, args, kwargs, options) => s.call(name, args, kwargs, options),
      notify: (name, args, kwargs) => s.notify(name, args, kwargs),
      close: () => s.end(),
    }));
  }

  get references(): { exports: number; imports: number; streams: number } | undefined {
    return this.#s.references;
  }

  get closed(): AbortSignal {
    return this.#a.closedSignal(this.#s);
  }
}

/**
 * The id as the answer carries it: msgpack writes a number beyond 32 bits
 * as a float64, so a peer's 64-bit id goes back as an int64 it can match.
 */
function wireId(s: SessionFace, id: CallId | null): CallId | bigint | null {
  return id !== null && id > 0xffffffff && s.serializer?.name === "msgpack" ? BigInt(id) : id;
}

function sendError<S extends SessionFace>(a: PartsAccess<S>, s: S, id: CallId | null, err: unknown, meta?: Record<string, string>): void {
  const serializer = s.serializer ?? json;
  const wire = toWireError(err, a.opts(s).handler?.options.exposeStack ?? false);
  const env: unknown[] = [Kind.Error, wireId(s, id), wire];
  if (meta !== undefined && a.headers(s)) env.push({ meta });
  let frame: Uint8Array;
  try {
    frame = serializer.encode(env);
  } catch {
    // data/props the serializer cannot carry: keep what always encodes.
    env[2] = { name: wire.name, message: wire.message, code: wire.code } satisfies WireError;
    frame = serializer.encode(env);
  }
  a.send(s, frame);
}

/** Give the sessions' access table what lives here (idempotent: one table for every session). */
export function install<S extends SessionFace>(a: PartsAccess<S>): void {
  a.wireId = wireId;
  a.sendError = (s, id, err, meta) => sendError(a, s, id, err, meta);
}
