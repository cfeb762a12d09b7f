/**
 * The server side of Python's RPCHandler recipe: a {@link FrameProtocol}
 * that recognises a recipe client by its first frame and then serves its
 * `(name, args, kwargs)` requests on that connection.
 *
 * Calls run one at a time, in order, as the recipe's own `handle_connection`
 * loop does: the recipe has no call ids, so replies must come back in request
 * order. Each reply uses the idiom its request came in (see ./idioms.ts).
 * A request of the wrong shape gets an error reply and the connection stays
 * open. A pickle the decoder refuses gets a `PROTOCOL_ERROR` reply (a pickled
 * ValueError) after the replies to earlier requests, and the connection is
 * closed; a frame that is not a recipe message at all closes it, without a
 * reply, once earlier requests are answered. Requests read ahead wait as
 * bytes and are decoded one at a time, so a connection holds at most one
 * decoded request, whatever its read-ahead.
 */
import { ServerCall, type PeerInfo } from "../../src/call-context.js";
import { RpcError } from "../../src/errors.js";
import type { RPCHandler } from "../../src/handler.js";
import type { FrameProtocol, SessionLike } from "../../src/frame-protocol.js";
import type { Connection, ConnectionSink } from "../../src/transport.js";
import { decodeRequest, encodeErrorReply, encodeReply, isRecipeFrame, type RecipeBadRequest, type RecipeRequest } from "./idioms.js";
import { resolvePickleLimits, type PickleLimits } from "./pickle-limits.js";

export interface RecipeProtocolOptions {
  /** Limits for decoding requests and encoding replies (see `DEFAULT_PICKLE_LIMITS`). */
  limits?: Partial<PickleLimits>;
  /** Requests read ahead of the running one before the connection stops being read (default 16). */
  maxQueued?: number;
  /**
   * Bytes of requests read ahead before the connection stops being read
   * (default 1 MiB). Requests wait undecoded: a decoded one may cost many
   * times its bytes (within `limits`), so only the running request is ever
   * decoded.
   */
  maxQueuedBytes?: number;
}

/** A FrameProtocol serving the Python recipe; pass it in `ServeOptions.protocols` or a transport's `protocols`. */
export function createPythonRecipeProtocol(options: RecipeProtocolOptions = {}): FrameProtocol {
  // Resolved (and checked) once: every frame then reuses the same object.
  const limits = resolvePickleLimits(options.limits);
  const maxQueued = options.maxQueued ?? 16;
  const maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
  return {
    name: "python-recipe",
    detect: isRecipeFrame,
    start(handler: RPCHandler, conn: Connection, peer: PeerInfo) {
      return new RecipeSession(handler, conn, peer, limits, maxQueued, maxQueuedBytes);
    },
  };
}

/** The recipe protocol with default limits; the TCP transport lists it, so `tcp://` servers answer Python recipe clients. */
export const pythonRecipeProtocol: FrameProtocol = createPythonRecipeProtocol();

/** Runs `fn` after pending I/O: setImmediate where there is one (Node), else a zero timeout (browsers). */
const defer: (fn: () => void) => void =
  (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate ?? ((fn: () => void) => void setTimeout(fn, 0));

/** A frame that is not a recipe message: the connection closes, without a reply, once earlier calls are answered. */
interface NotRecipe {
  readonly closeWith: RpcError;
}

type Item = RecipeRequest | RecipeBadRequest | NotRecipe;

class RecipeSession implements ConnectionSink, SessionLike {
  readonly #handler: RPCHandler;
  readonly #conn: Connection;
  readonly #peer: PeerInfo;
  readonly #limits: Partial<PickleLimits>;
  readonly #maxQueued: number;
  readonly #maxQueuedBytes: number;
  /** Frames read ahead, not yet decoded (frames belong to the core once delivered). */
  #queue: Uint8Array[] = [];
  #head = 0;
  #queuedBytes = 0;
  #running: ServerCall | undefined;
  #readPaused = false;
  #writeBlocked = false;
  #shuttingDown = false;
  #refusing = false;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  #pumpScheduled = false;

  constructor(handler: RPCHandler, conn: Connection, peer: PeerInfo, limits: Partial<PickleLimits>, maxQueued: number, maxQueuedBytes: number) {
    this.#handler = handler;
    this.#conn = conn;
    this.#peer = peer;
    this.#limits = limits;
    this.#maxQueued = Math.max(1, maxQueued);
    this.#maxQueuedBytes = Math.max(0, maxQueuedBytes);
  }

  get inFlight(): number {
    return this.#running ? 1 : 0;
  }

  frame(frame: Uint8Array): void {
    if (this.#closed || this.#refusing) return;
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    this.#pump(); // decodes it at once when nothing runs; pauses reading when too much waits

  }

  /** Decoded only when it is its turn, so at most one decoded request per connection is held. */
  #decode(frame: Uint8Array): Item {
    let item: Item;
    try {
      item = decodeRequest(frame, this.#limits);
    } catch (err) {
      item = { closeWith: err instanceof RpcError ? err : new RpcError("PROTOCOL_ERROR", String(err)) };
    }
    // After a refused frame nothing more is read: earlier calls were answered, then the refusal, then close.
    const refusal = "closeWith" in item ? item.closeWith : "error" in item && item.fatal ? item.error : undefined;
    if (refusal) {
      this.#refusing = true;
      this.#handler.options.onError?.(refusal, undefined);
    }
    return item;
  }

  drain(): void {
    this.#writeBlocked = false;
    this.#updateReading();
  }

  close(err?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    const call = this.#running;
    this.#running = undefined;
    call?.abort(new RpcError("CONNECTION_CLOSED", "the caller disconnected", err ? { cause: err } : {}));
    this.#wakeIdle();
  }

  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  idle(): Promise<void> {
    if (!this.#running && !this.#pumpScheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    while (!this.#running && !this.#closed && this.#head < this.#queue.length) {
      const frame = this.#queue[this.#head++] as Uint8Array;
      this.#queuedBytes -= frame.length;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      const item = this.#decode(frame);
      if ("closeWith" in item) {
        return this.#conn.close(item.closeWith);
      } else if ("error" in item) {
        this.#send(encodeErrorReply(item.idiom, item.python, item.error));
        if (item.fatal) return this.#conn.close(item.error);
      } else if (this.#shuttingDown) {
        this.#send(encodeErrorReply(item.idiom, item.python, new RpcError("SHUTTING_DOWN", "the server is shutting down")));
      } else {
        this.#run(item);
      }
    }
    this.#updateReading();
  }

  #run(req: RecipeRequest): void {
    const call = new ServerCall(req.name, req.args, req.kwargs, this.#peer, false);
    this.#running = call;
    this.#handler.dispatch(call).then(
      (result) => this.#finish(req, call, result, undefined),
      (err: unknown) => this.#finish(req, call, undefined, err ?? new Error(String(err))),
    );
  }

  #finish(req: RecipeRequest, call: ServerCall, result: unknown, err: unknown): void {
    if (this.#running !== call) return; // the connection is gone
    this.#running = undefined;
    let frame: Uint8Array | undefined;
    if (err === undefined) {
      try {
        frame = encodeReply(req.idiom, req.python, result, this.#limits);
      } catch (e) {
        err = e instanceof RpcError ? e : new RpcError("SERIALIZE_ERROR", `cannot encode the result of '${call.method}': ${String(e)}`);
      }
    }
    this.#send(frame ?? encodeErrorReply(req.idiom, req.python, err));
    this.#wakeIdle();
    // Replies resolve as microtasks: pumping the next queued request from here would chain every
    // queued decode and encode without letting I/O in, so other connections wait for the whole batch.
    // While shutting down the rest are only refused (cheap), and must be before idle() lets the server close.
    if (this.#head < this.#queue.length && !this.#shuttingDown) this.#schedulePump();
    else this.#pump();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    defer(() => {
      this.#pumpScheduled = false;
      this.#pump();
      this.#wakeIdle();
    });
  }

  #send(frame: Uint8Array): void {
    if (!this.#conn.send(frame, false) && !this.#closed) this.#writeBlocked = true;
  }

  #updateReading(): void {
    if (this.#closed) return;
    const queued = this.#queue.length - this.#head;
    const pause = this.#writeBlocked || this.#refusing || queued >= this.#maxQueued || (queued > 0 && this.#queuedBytes >= this.#maxQueuedBytes);
    if (pause === this.#readPaused) return;
    this.#readPaused = pause;
    if (pause) this.#conn.pause();
    else this.#conn.resume();
  }

  #wakeIdle(): void {
    if (this.#running || this.#pumpScheduled) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
