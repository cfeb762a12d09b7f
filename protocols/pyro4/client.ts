/**
 * `connect("PYRO:obj@host:port")`: a Caller on a Pyro4 daemon (Python's, or
 * a wirecall one). One connection, the Pyro4 handshake (with metadata, so
 * the object's one-way methods go one-way as a Pyro4 proxy sends them),
 * then calls matched to answers by sequence number, so several may be
 * outstanding. Python exceptions come back as `Pyro4RemoteError`s (a
 * `RemoteError` named for the Python class); iterator results as
 * AsyncIterables read with Pyro4's item-stream calls.
 */
import net from "node:net";
import { RpcError, startCall, type Caller, type CallerDefaults, type CallOptions, type OutgoingCall } from "../../src/transport-sdk.js";
import { resolveAuthkey } from "../../src/transport-sdk.js";
import { decompress, maybeCompress } from "./compression.js";
import { DAEMON_NAME } from "./daemon-objects.js";
import { pyro4Limits, type Pyro4Limits } from "./limits.js";
import { Flags, MsgType, encodeMessage, type HmacKey, type PyroMessage } from "./message.js";
import { MessageDecoder } from "./message-decoder.js";
import { Pyro4RemoteError } from "./python-values.js";
import { serializerById, type Pyro4Serializer } from "./serializers.js";
import { pyroSerializer, type SerpentBytes } from "./serializer-choice.js";
import { pyroTarget, type PyroTarget } from "./url.js";

/** Options of `connect("PYRO:obj@host:port", options)`. */
export interface Pyro4ConnectOptions {
  /** The daemon's HMAC key (Python's `_pyroHmacKey`), else WIRECALL_AUTHKEY; none: no HMAC. */
  authkey?: string | Uint8Array | false;
  /** Pyro4 serializer: "serpent" (default, Pyro4's), "json" or "marshal". */
  serializer?: "serpent" | "json" | "marshal";
  /** How serpent calls carry bytes: "literal" (default, `b'...'`) or "dict" (Pyro4's base64 dict). */
  serpentBytes?: SerpentBytes;
  /** Per-call timeout default, ms. */
  timeout?: number;
  /** Per-call AbortSignal default. */
  signal?: AbortSignal;
  /** Connect and handshake within this, ms (default 10000). */
  handshakeTimeout?: number;
  /** Append the calling line's stack to errors (default true). */
  captureStack?: boolean;
  /** Compress calls of 200 bytes or more (Pyro4's COMPRESSION; default false). */
  compression?: boolean;
  /** Codec limits for answers (maxMessageSize defaults to 16 MiB). */
  limits?: Partial<Pyro4Limits>;
  /** Calls outstanding at once; more wait in line (default 256). */
  maxInFlight?: number;
}


/** A Pyro4 client on one connection. */
export class Pyro4Client implements Caller {
  readonly #socket: net.Socket;
  readonly #target: PyroTarget;
  readonly #ser: Pyro4Serializer;
  readonly #key: HmacKey | undefined;
  readonly #limits: Pyro4Limits;
  readonly #decoder: MessageDecoder;
  readonly #pending = new Map<number, { call: OutgoingCall | undefined; onMessage: (m: PyroMessage) => void }>();
  readonly #defaults: CallerDefaults;
  readonly #compression: boolean;
  readonly #maxInFlight: number;
  readonly #waiting: (() => void)[] = [];
  #oneway = new Set<string>();
  #seq = 0;
  #closed: RpcError | undefined;

  private constructor(socket: net.Socket, target: PyroTarget, ser: Pyro4Serializer, key: HmacKey | undefined, options: Pyro4ConnectOptions) {
    this.#socket = socket;
    this.#target = target;
    this.#ser = ser;
    this.#key = key;
    this.#limits = pyro4Limits({ maxMessageSize: 16 * 1024 * 1024, ...options.limits });
    this.#decoder = new MessageDecoder({ ...(key === undefined ? {} : { hmacKey: key }), limits: this.#limits });
    this.#compression = options.compression === true;
    this.#maxInFlight = options.maxInFlight ?? 256;
    const d: CallerDefaults = {};
    if (options.timeout !== undefined) d.timeout = options.timeout;
    if (options.signal !== undefined) d.signal = options.signal;
    if (options.captureStack === false) d.captureStack = false;
    this.#defaults = d;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#fail(new RpcError("CONNECTION_CLOSED", `the connection to the Pyro4 daemon at ${this.#where} failed: ${err.message}`, { cause: err })));
    socket.on("close", () => this.#fail(new RpcError("CONNECTION_CLOSED", `the Pyro4 daemon at ${this.#where} closed the connection`)));
  }

  get #where(): string {
    return `${this.#target.host}:${this.#target.port}`;
  }

  /** Dial, handshake (with metadata when the URL names an object). */
  static async open(url: URL, options: Pyro4ConnectOptions = {}): Promise<Pyro4Client> {
    const target = pyroTarget(url);
    const ser = pyroSerializer(options.serializer ?? "serpent", options.serpentBytes);
    const key = resolveAuthkey(options.authkey);
    const timeout = options.handshakeTimeout ?? 10_000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: target.host, port: target.port });
      const timer = setTimeout(() => s.destroy(new Error(`no connection within ${timeout} ms`)), timeout);
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        resolve(s);
      });
      s.once("error", (err) => {
        clearTimeout(timer);
        reject(new RpcError("CONNECT_FAILED", `cannot reach the Pyro4 daemon at ${target.host}:${target.port}: ${err.message}`, { cause: err }));
      });
    });
    const client = new Pyro4Client(socket, target, ser, key, options);
    try {
      await client.#handshake(timeout);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return client;
  }

  async #handshake(timeout: number): Promise<void> {
    const objectId = this.#target.objectId;
    const flags = objectId === undefined ? 0 : Flags.META_ON_CONNECT;
    const body = objectId === undefined ? { handshake: "hello" } : { handshake: "hello", object: objectId };
    const seq = this.#seq;
    const reply = await new Promise<PyroMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RpcError("CONNECT_FAILED", `no Pyro4 handshake answer from ${this.#where} within ${timeout} ms`)), timeout);
      this.#pending.set(seq, {
        call: undefined,
        onMessage: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
      this.#failHandshake = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      this.#write(MsgType.CONNECT, flags, seq, this.#ser.dumps(body));
    });
    this.#failHandshake = undefined;
    const answer = this.#decode(reply);
    if (reply.type === MsgType.CONNECTFAIL) {
      throw new RpcError("CONNECT_FAILED", `the Pyro4 daemon at ${this.#where} refused the connection: ${String(answer)}`);
    }
    if (reply.type !== MsgType.CONNECTOK) throw new RpcError("PROTOCOL_ERROR", `Pyro4: handshake answered with message type ${reply.type}`);
    if (reply.flags & Flags.META_ON_CONNECT) {
      const meta = (answer as { meta?: Record<string, unknown> } | null)?.meta;
      const oneway: unknown = meta?.oneway;
      if (Array.isArray(oneway) || oneway instanceof Set) this.#oneway = new Set([...(oneway as Iterable<unknown>)].filter((x): x is string => typeof x === "string"));
    }
  }

  #failHandshake: ((err: RpcError) => void) | undefined;

  /** The object and method a call name means: the URL's object, or `object.method`. */
  #split(name: string): [string, string] {
    if (this.#target.objectId !== undefined) return [this.#target.objectId, name];
    const dot = name.lastIndexOf(".");
    if (dot <= 0) throw new RpcError("INVALID_PARAMS", `'${name}': a pyro://host:port proxy calls object.method (or connect to PYRO:object@host:port)`);
    return [name.slice(0, dot), name.slice(dot + 1)];
  }

  call(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RpcError("CONNECTION_CLOSED", `cannot call '${name}': ${this.#closed.message}`));
    let target: [string, string];
    try {
      target = this.#split(name);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#target.objectId !== undefined && this.#oneway.has(name)) return this.notify(name, args, kwargs);
    return this.#call(target[0], target[1], name, args, kwargs, options);
  }

  #call(objectId: string, method: string, name: string, args: unknown[], kwargs: Record<string, unknown> | undefined, options: CallOptions | undefined): Promise<unknown> {
    const { promise, call } = startCall(name, args, kwargs, options, this.#defaults);
    if (call) void this.#send(call, objectId, method);
    return promise;
  }

  /** A one-way call (Pyro4's ONEWAY flag): resolves once written; the daemon sends no answer. */
  notify(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>): Promise<void> {
    if (this.#closed) return Promise.reject(new RpcError("CONNECTION_CLOSED", `cannot call '${name}': ${this.#closed.message}`));
    try {
      const [objectId, method] = this.#split(name);
      this.#invoke(objectId, method, args, kwargs ?? {}, Flags.ONEWAY, this.#nextSeq());
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async close(): Promise<void> {
    this.#fail(new RpcError("CONNECTION_CLOSED", "the proxy was closed"));
    this.#socket.destroy();
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) & 0xffff;
    return this.#seq;
  }

  async #send(call: OutgoingCall, objectId: string, method: string): Promise<void> {
    while (this.#pending.size >= this.#maxInFlight && !this.#closed) await new Promise<void>((r) => this.#waiting.push(r));
    if (call.settled) return;
    if (this.#closed) return call.reject(this.#closed);
    let seq = this.#nextSeq();
    while (this.#pending.has(seq)) seq = this.#nextSeq();
    this.#pending.set(seq, { call, onMessage: (m) => this.#answer(call, m) });
    // Pyro4 has no cancel: a call given up on is forgotten here, its answer dropped when it comes.
    call.onAbandon = () => this.#release(seq);
    try {
      this.#invoke(objectId, method, call.args, call.kwargs ?? {}, 0, seq);
    } catch (err) {
      this.#release(seq);
      call.reject(err);
    }
  }

  #release(seq: number): void {
    this.#pending.delete(seq);
    this.#waiting.shift()?.();
  }

  #invoke(objectId: string, method: string, args: readonly unknown[], kwargs: Record<string, unknown>, flags: number, seq: number): void {
    let data = this.#ser.dumpsCall(objectId, method, args, kwargs);
    if (this.#compression) {
      const c = maybeCompress(data);
      data = c.data;
      if (c.compressed) flags |= Flags.COMPRESSED;
    }
    this.#write(MsgType.INVOKE, flags, seq, data);
  }

  #write(type: number, flags: number, seq: number, data: Uint8Array): void {
    const bytes = encodeMessage({ type, flags, seq, serializerId: this.#ser.id, data }, this.#key === undefined ? {} : { hmacKey: this.#key, maxMessageSize: this.#limits.maxMessageSize });
    this.#socket.write(bytes);
  }

  #decode(m: PyroMessage): unknown {
    if (m.data.length === 0) return undefined;
    const ser = m.serializerId === this.#ser.id ? this.#ser : serializerById(m.serializerId);
    const body = m.flags & Flags.COMPRESSED ? decompress(m.data, this.#limits.maxDecompressedSize) : m.data;
    return ser.loads(body, { limits: this.#limits });
  }

  #answer(call: OutgoingCall, m: PyroMessage): void {
    if (m.type !== MsgType.RESULT) return call.reject(new RpcError("PROTOCOL_ERROR", `Pyro4: a call was answered with message type ${m.type}`));
    let v: unknown;
    try {
      v = this.#decode(m);
    } catch (err) {
      return call.reject(err);
    }
    if (m.flags & Flags.ITEMSTREAMRESULT) {
      const id = Buffer.from(m.annotations.get("STRM") ?? new Uint8Array(0)).toString("utf8");
      if (!id) return call.reject(new RpcError("PROTOCOL_ERROR", "Pyro4: the result is an iterator, but the daemon does not stream (ITER_STREAMING off)"));
      return call.resolve(this.#itemStream(id));
    }
    if (m.flags & Flags.EXCEPTION) return call.reject(v instanceof Error ? v : new RpcError("REMOTE_ERROR", `Pyro4 daemon raised ${String(v)}`));
    call.resolve(v);
  }

  /** Pyro4's item stream: `Pyro.Daemon.get_next_stream_item(id)` until StopIteration; `break` closes it. */
  #itemStream(id: string): AsyncIterable<unknown> {
    const next = (): Promise<IteratorResult<unknown>> =>
      this.#call(DAEMON_NAME, "get_next_stream_item", `${DAEMON_NAME}.get_next_stream_item`, [id], undefined, undefined).then(
        (value) => ({ value, done: false }),
        (err: unknown) => {
          if (err instanceof Pyro4RemoteError && err.name === "StopIteration") return { value: undefined, done: true };
          throw err;
        },
      );
    let done = false;
    return {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          if (done) return { value: undefined, done: true };
          const r = await next();
          if (r.done) done = true;
          return r;
        },
        return: async () => {
          if (!done && !this.#closed) {
            done = true;
            this.#invoke(DAEMON_NAME, "close_stream", [id], {}, Flags.ONEWAY, this.#nextSeq());
          }
          return { value: undefined, done: true };
        },
      }),
    };
  }

  #onData(chunk: Buffer): void {
    let msgs: PyroMessage[];
    try {
      msgs = this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(err as RpcError);
      this.#socket.destroy();
      return;
    }
    for (const m of msgs) {
      const p = this.#pending.get(m.seq);
      if (!p) continue; // the answer to a call given up on (timeout, abort)
      this.#release(m.seq);
      p.onMessage(m);
    }
  }

  #fail(err: RpcError): void {
    if (this.#closed) return;
    this.#closed = err;
    this.#failHandshake?.(err);
    for (const [, p] of this.#pending) {
      p.call?.reject(err);
    }
    this.#pending.clear();
    for (const w of this.#waiting.splice(0)) w();
  }
}
