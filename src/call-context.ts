import { installFollow } from "./call-start.js";
import { RpcError } from "./errors.js";
import type { AnyRemote, CallContext } from "./call-types.js";
import { checkMeta, DEFAULT_META_LIMITS, NO_META, type Meta } from "./meta/meta.js";
import type { KeyEntry } from "./meta/idempotency.js";

const sessions = new WeakMap<PeerInfo, Record<string, unknown>>();

/** The per-connection state object of a connection (`ctx.session`), made on first use. */
export function sessionState(origin: PeerInfo): Record<string, unknown> {
  let s = sessions.get(origin);
  if (s === undefined) {
    s = {};
    sessions.set(origin, s);
  }
  return s;
}

/** Where a call came from; shared by every call of one connection. */
export interface PeerInfo {
  readonly transport: string;
  readonly remoteAddress: string | undefined;
  /**
   * The facade calling back to the peer over the same connection (`ctx.peer`),
   * when the connection carries calls both ways. Read lazily: most calls never ask.
   */
  readonly remote?: AnyRemote | undefined;
  /** Streams and references alive on the connection (src/refs/), when it carries them. */
  readonly references?: { exports: number; imports: number; streams: number } | undefined;
  /** Aborted when the connection closes (per-connection instances, src/instance-modes.ts). */
  readonly closed?: AbortSignal;
  /** Which protocol serves the connection, for the error when `remote` is missing ("python-recipe", "xmlrpc"). */
  readonly protocol?: string;
}

/**
 * The per-call context. The AbortController is created only when a handler
 * reads `signal` (most never do), so the hot path allocates one object per call.
 */
export class ServerCall implements CallContext {
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #aborted = false;
  #state: Record<string, unknown> | undefined;
  /** Metadata that came with the call. */
  meta: Readonly<Meta> = NO_META;
  /** Deadline from the call's header, ms since the epoch. */
  deadline: number | undefined = undefined;
  /** The idempotency key from the call's header. */
  key: string | undefined = undefined;
  /** Metadata set by the handler for its answer. */
  responseMeta: Meta | undefined = undefined;
  /** This call is the first of its idempotency key: its outcome answers the key's repeats. */
  keyEntry: KeyEntry | undefined = undefined;
  /** The deadline's timer, while armed. */
  timer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(
    readonly method: string,
    readonly args: readonly unknown[],
    readonly kwargs: Readonly<Record<string, unknown>> | undefined,
    readonly origin: PeerInfo,
    readonly oneway: boolean,
  ) {}

  get transport(): string {
    return this.origin.transport;
  }

  get remoteAddress(): string | undefined {
    return this.origin.remoteAddress;
  }

  get peer(): AnyRemote {
    const remote = this.origin.remote;
    if (remote === undefined) {
      throw new RpcError("PROTOCOL_ERROR", `ctx.peer: this connection (${this.origin.protocol ?? this.origin.transport}) cannot carry calls back to the caller`);
    }
    return remote;
  }

  get session(): Record<string, unknown> {
    return sessionState(this.origin);
  }

  setResponseMeta(meta: Record<string, string>): void {
    const merged = this.responseMeta === undefined ? meta : { ...this.responseMeta, ...meta };
    // Checked here, where the handler can see the error, not when the answer is sent.
    this.responseMeta = checkMeta(merged, DEFAULT_META_LIMITS, `response metadata of '${this.method}'`);
  }

  get state(): Record<string, unknown> {
    return (this.#state ??= {});
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Abort the call's signal. Safe to call more than once. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }
}

// A call made while serving one follows it: not sent once it ended, stopped when it ends (src/caller.ts).
installFollow({
  ended(name, parent) {
    const signal = parent.signal;
    return signal.aborted ? new RpcError("CANCELLED", `call to '${name}' not sent: the call it was made for has ended`, { cause: signal.reason }) : undefined;
  },
  follow(call, parent) {
    const signal = parent.signal;
    const onAbort = (): void => {
      const r = signal.reason as { code?: unknown } | undefined;
      const code = r instanceof RpcError && r.code === "TIMEOUT" ? "TIMEOUT" : "CANCELLED";
      call.giveUp(new RpcError(code, `call to '${call.name}' stopped: the call it was made for ended (${(r as Error | undefined)?.message ?? "cancelled"})`, { cause: r }));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    call.onSettle = () => signal.removeEventListener("abort", onAbort);
  },
});
