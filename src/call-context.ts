import { RpcError } from "./errors.js";
import type { AnyRemote } from "./facade.js";
import type { CallContext } from "./handler.js";

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
