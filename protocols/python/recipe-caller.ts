/**
 * The client side of Python's RPCHandler recipe: a {@link Caller} that
 * speaks to a Python server written with the recipe (`name, args, kwargs =
 * conn.recv()`, call, `conn.send(result)`), so `connect(url, { profile:
 * "python" })` gives the usual typed facade over it.
 *
 * The recipe has no call ids: one request is on the wire at a time and the
 * next waits for its reply. A call that times out or is aborted after it was
 * sent still occupies the connection until its (discarded) reply arrives,
 * since the server cannot be told to cancel. No hello is sent.
 */
import type { CallerDefaults, OutgoingCall } from "../../src/caller.js";
import { startCall } from "../../src/start-call.js";
import type { Caller, CallOptions } from "../../src/call-types.js";
import { RpcError } from "../../src/errors.js";
import { refuseReferences } from "../../src/refs/walk.js";
import type { Connection, ConnectionSink } from "../../src/transport.js";
import { decodeReply, encodeRequest, parseIdiom, type Idiom } from "./idioms.js";
import { resolvePickleLimits, type PickleLimits } from "./pickle-limits.js";

export interface RecipeCallerOptions extends CallerDefaults {
  /**
   * How requests are put on the wire; it must be the idiom the Python server
   * reads: 1 / "json-str" (`json.loads(conn.recv())`), 2 / "pickle-bytes"
   * (`pickle.loads(conn.recv())`, the Python Cookbook's recipe: the default),
   * 3 / "pickle" (`conn.recv()`), 4 / "json-bytes" (`json.loads(conn.recv_bytes())`).
   */
  idiom?: Idiom | string;
  /** Limits for encoding requests and decoding replies (see `DEFAULT_PICKLE_LIMITS`). */
  limits?: Partial<PickleLimits>;
}

/** A request: the call (timeout, signal, stack: src/caller.ts) and its encoded frame. */
interface Pending {
  readonly call: OutgoingCall;
  readonly frame: Uint8Array;
}

/**
 * A client for a Python recipe server, one connection, one request on the
 * wire at a time. Most code gets it through `connect(url, { profile: "python" })`.
 */
export class RecipeCaller implements Caller {
  readonly #conn: Connection;
  readonly #idiom: Idiom;
  readonly #opts: RecipeCallerOptions;
  readonly #limits: PickleLimits;
  readonly #queue: Pending[] = [];
  #sent: Pending | undefined;
  #closed = false;
  #closeReason: Error | undefined;
  #closedWaiters: (() => void)[] = [];

  private constructor(conn: Connection, options: RecipeCallerOptions) {
    this.#conn = conn;
    this.#idiom = parseIdiom(options.idiom ?? 2);
    this.#opts = options;
    this.#limits = resolvePickleLimits(options.limits);
  }

  /** Open the connection (authenticated by the transport) and return the caller. */
  static async open(dial: () => Promise<Connection>, options: RecipeCallerOptions = {}): Promise<RecipeCaller> {
    parseIdiom(options.idiom ?? 2); // fail before dialing
    resolvePickleLimits(options.limits);
    const conn = await dial();
    const caller = new RecipeCaller(conn, options);
    // Caller and ConnectionSink both have a close(); the sink is a separate face.
    const sink: ConnectionSink = {
      frame: (f) => caller.#onFrame(f),
      drain: () => {},
      close: (err) => caller.#onClose(err),
    };
    conn.open(sink);
    return caller;
  }

  /** The idiom requests are sent in. */
  get idiom(): Idiom {
    return this.#idiom;
  }

  call(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const { promise, call } = startCall(name, args, kwargs, options, this.#opts);
    if (!call) return promise;
    let frame: Uint8Array;
    try {
      refuseReferences(args, kwargs, "the Python recipe");
      frame = encodeRequest(this.#idiom, name, args, kwargs, this.#limits);
    } catch (err) {
      call.reject(err);
      return promise;
    }
    const p: Pending = { call, frame };
    // Not yet sent: it simply leaves the queue. Sent: its reply will be dropped.
    call.onAbandon = () => {
      const i = this.#queue.indexOf(p);
      if (i >= 0) this.#queue.splice(i, 1);
    };
    this.#queue.push(p);
    this.#next();
    return promise;
  }

  /** The recipe has no one-way calls: the call is made and its reply discarded. */
  async notify(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>): Promise<void> {
    this.call(name, args, kwargs).catch(() => {});
  }

  async close(): Promise<void> {
    if (!this.#closed) this.#conn.close();
    if (this.#closed) return;
    await new Promise<void>((resolve) => this.#closedWaiters.push(resolve));
  }

  // --- from the connection

  #onFrame(frame: Uint8Array): void {
    const p = this.#sent;
    if (!p) {
      this.#conn.close(new RpcError("PROTOCOL_ERROR", "the Python server sent a frame nobody asked for"));
      return;
    }
    this.#sent = undefined;
    let reply;
    try {
      reply = decodeReply(this.#idiom, frame, this.#limits);
    } catch (err) {
      p.call.reject(err);
      this.#conn.close(err as Error);
      return;
    }
    if (reply.ok) p.call.resolve(reply.value);
    else p.call.reject(reply.error);
    this.#next();
  }

  #onClose(err?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = err;
    const reason = this.#closedError();
    this.#sent?.call.reject(reason);
    this.#sent = undefined;
    for (const p of this.#queue.splice(0)) p.call.reject(reason);
    const waiters = this.#closedWaiters;
    this.#closedWaiters = [];
    for (const w of waiters) w();
  }

  // ---

  #next(): void {
    if (this.#sent || this.#closed) return;
    const p = this.#queue.shift();
    if (!p) return;
    this.#sent = p;
    this.#conn.send(p.frame, false);
  }

  #closedError(): RpcError {
    const cause = this.#closeReason;
    return new RpcError("CONNECTION_CLOSED", cause ? `the connection closed: ${cause.message}` : "the connection is closed", cause ? { cause } : {});
  }
}
