/**
 * One Pyro4 client connection on a wirecall daemon: the handshake, then
 * INVOKE and PING messages, answered in order as Python's Pyro4 daemon
 * answers them (one call at a time per connection; one-way calls run
 * alongside, up to `maxInFlight`). Item streams (generator results) live
 * on the connection and end with it.
 */
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { RpcError, ServerCall, type PeerInfo } from "../../src/transport-sdk.js";
import { decompress, maybeCompress } from "./compression.js";
import { DAEMON_NAME, forPyroClient, type ObjectView } from "./daemon-objects.js";
import { failureDict, pyroError } from "./daemon-errors.js";
import type { Pyro4Limits } from "./limits.js";
import { Flags, MsgType, SerializerId, encodeMessage, type HmacKey, type PyroMessage } from "./message.js";
import { MessageDecoder, Pyro4MessageError } from "./message-decoder.js";
import { Pyro4ExceptionWrapper, Pyro4RemoteError } from "./python-values.js";
import { exceptionDict } from "./class-dicts.js";
import { serializerById, type Pyro4Serializer, type PyroCall } from "./serializers.js";

/** What every connection of one daemon shares. */
export interface DaemonSettings {
  readonly view: ObjectView;
  readonly hmacKey: HmacKey | undefined;
  readonly limits: Pyro4Limits;
  /** The serializers accepted (Pyro4's SERIALIZERS_ACCEPTED), by header id. */
  readonly serializers: ReadonlyMap<number, Pyro4Serializer>;
  readonly maxInFlight: number;
  readonly maxStreams: number;
  readonly handshakeTimeout: number;
  readonly idleTimeout: number;
  readonly compression: boolean;
  readonly exposeStack: boolean;
  readonly onError: ((err: unknown) => void) | undefined;
  readonly onHandshakeError: ((err: Error, remoteAddress: string | undefined) => void) | undefined;
}

type Timer = ReturnType<typeof setTimeout>;
const ITERATOR_RESULT = "result of call is an iterator";
/** A timer this late (ms) fired after the event loop was blocked, not after the peer fell silent. */
const LATE = 250;

function isStreamResult(v: unknown): v is AsyncIterable<unknown> | Iterator<unknown> {
  if (v === null || typeof v !== "object") return false;
  if (typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function") return true;
  // A generator or other iterator (Python's _streamResponse streams iterators, not lists or sets).
  return typeof (v as { next?: unknown }).next === "function" && typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function";
}

function iteratorOf(v: AsyncIterable<unknown> | Iterator<unknown>): AsyncIterator<unknown> | Iterator<unknown> {
  const a = (v as AsyncIterable<unknown>)[Symbol.asyncIterator];
  return typeof a === "function" ? a.call(v) : (v as Iterator<unknown>);
}

export class DaemonConnection {
  readonly #socket: Socket;
  readonly #s: DaemonSettings;
  readonly #decoder: MessageDecoder;
  readonly #queue: PyroMessage[] = [];
  readonly #closed = new AbortController();
  readonly #origin: PeerInfo;
  readonly #calls = new Set<ServerCall>();
  readonly #streams = new Map<string, AsyncIterator<unknown> | Iterator<unknown>>();
  #handshaken = false;
  #busy = false;
  #oneways = 0;
  #shutdown = false;
  #ended = false;
  #timer: Timer | undefined;
  #idleWaiters: (() => void)[] = [];
  /** Called once when the connection is gone. */
  onClose: ((c: DaemonConnection) => void) | undefined;

  constructor(socket: Socket, settings: DaemonSettings) {
    this.#socket = socket;
    this.#s = settings;
    this.#decoder = new MessageDecoder({ ...(settings.hmacKey === undefined ? {} : { hmacKey: settings.hmacKey }), limits: settings.limits });
    this.#origin = { transport: "pyro", remoteAddress: socket.remoteAddress, closed: this.#closed.signal, protocol: "pyro4" };
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {});
    socket.on("close", () => this.#gone());
    this.#arm(settings.handshakeTimeout, "no Pyro4 handshake in time");
  }

  /** Calls (and one-way calls) running now. */
  get inFlight(): number {
    return (this.#busy ? 1 : 0) + this.#oneways;
  }

  /** Stop taking calls: close now if idle, else once the running call is answered. */
  beginShutdown(): void {
    this.#shutdown = true;
    if (this.inFlight === 0) this.#socket.end();
  }

  /** Resolves when no call runs. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Close at once, aborting what runs. */
  destroy(reason: RpcError): void {
    for (const c of this.#calls) c.abort(reason);
    this.#socket.destroy();
  }

  #arm(ms: number, why: string): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (ms <= 0 || this.#ended) return;
    const due = Date.now() + ms;
    const timer = setTimeout(() => {
      // Decide after this turn's I/O (setImmediate runs after the poll phase): a message that arrived
      // while the loop was busy elsewhere (a big message on another connection) re-arms first.
      setImmediate(() => {
        if (this.#timer !== timer || this.#ended) return;
        // Fired late: the loop was blocked, so the peer could not be heard; give it the time again.
        if (this.inFlight > 0 || Date.now() - due > LATE) this.#arm(ms, why);
        else this.destroy(new RpcError("TIMEOUT", `Pyro4 daemon: ${why}`));
      });
    }, ms);
    this.#timer = timer;
    this.#timer.unref?.();
  }

  #onData(chunk: Buffer): void {
    if (this.#ended) return;
    let msgs: PyroMessage[];
    try {
      msgs = this.#decoder.push(chunk);
    } catch (err) {
      this.#refuse(err as RpcError);
      return;
    }
    if (msgs.length === 0) return;
    this.#arm(this.#s.idleTimeout, "idle");
    for (const m of msgs) this.#queue.push(m);
    this.#pump();
  }

  /** A message that cannot be served: a refused handshake is answered (as Pyro4 does), then the connection goes. */
  #refuse(err: RpcError): void {
    this.#s.onError?.(err);
    if (!this.#handshaken) {
      this.#s.onHandshakeError?.(err, this.#socket.remoteAddress);
      // Python's daemon answers a failed handshake with CONNECTFAIL, the reason as a str in marshal (its fallback) when the serializer is unknown.
      const h = err instanceof Pyro4MessageError ? err.header : undefined;
      const seq = h?.seq ?? 0;
      const ser = (h && this.#s.serializers.get(h.serializerId)) ?? serializerById(SerializerId.marshal);
      this.#write(MsgType.CONNECTFAIL, 0, seq, ser, ser.dumps(err.message));
      this.#ended = true;
      this.#socket.end();
      return;
    }
    this.#ended = true;
    this.#socket.destroy();
  }

  #pump(): void {
    while (!this.#busy && !this.#ended && this.#queue.length > 0) {
      if (this.#oneways >= this.#s.maxInFlight) break;
      const m = this.#queue.shift() as PyroMessage;
      try {
        this.#handle(m);
      } catch (err) {
        this.#refuse(err instanceof RpcError ? err : new RpcError("PROTOCOL_ERROR", `Pyro4: ${String(err)}`));
        return;
      }
    }
    // Messages waiting: stop reading, so a flood waits in the peer's socket, not here.
    if (this.#queue.length > 0 || this.#busy) this.#socket.pause();
    else if (!this.#ended) this.#socket.resume();
  }

  #handle(m: PyroMessage): void {
    if (!this.#handshaken) {
      if (m.type !== MsgType.CONNECT) throw new Pyro4MessageError("PROTOCOL_ERROR", `Pyro4: expected the CONNECT handshake, got message type ${m.type}`, { ...m, dataSize: 0, annotationsSize: 0 });
      this.#handshake(m);
      return;
    }
    if (m.type === MsgType.PING) {
      this.#write(MsgType.PING, 0, m.seq, { id: m.serializerId } as Pyro4Serializer, Buffer.from("pong"));
      return;
    }
    if (m.type !== MsgType.INVOKE) throw new RpcError("PROTOCOL_ERROR", `Pyro4: a client sent message type ${m.type} after the handshake`);
    if (this.#shutdown) {
      this.#ended = true;
      this.#socket.end();
      return;
    }
    const oneway = (m.flags & Flags.ONEWAY) !== 0;
    if (oneway) {
      this.#oneways++;
      void this.#invoke(m).finally(() => {
        this.#oneways--;
        this.#settled();
      });
    } else {
      this.#busy = true;
      void this.#invoke(m).finally(() => {
        this.#busy = false;
        this.#settled();
      });
    }
  }

  #settled(): void {
    if (this.inFlight === 0) {
      // Idle time counts from the last answer, not from the last message: a long call is not idleness.
      this.#arm(this.#s.idleTimeout, "idle");
      const w = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const f of w) f();
      if (this.#shutdown) {
        this.#ended = true;
        this.#socket.end();
        return;
      }
    }
    this.#pump();
  }

  #handshake(m: PyroMessage): void {
    const reply = (type: number, flags: number, ser: Pyro4Serializer, value: unknown) => this.#write(type, flags, m.seq, ser, ser.dumps(value));
    const ser = this.#s.serializers.get(m.serializerId);
    if (!ser) {
      reply(MsgType.CONNECTFAIL, 0, serializerById(SerializerId.marshal), `message used serializer that is not accepted: ${m.serializerId} (this daemon speaks serpent, json and marshal)`);
      this.#ended = true;
      this.#socket.end();
      return;
    }
    let data: unknown;
    try {
      data = ser.loads(this.#body(m), { limits: this.#s.limits });
    } catch (err) {
      reply(MsgType.CONNECTFAIL, 0, ser, (err as Error).message);
      this.#ended = true;
      this.#socket.end();
      return;
    }
    const d = data !== null && typeof data === "object" && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
    if (m.flags & Flags.META_ON_CONNECT) {
      const objectId = typeof d.object === "string" ? d.object : "";
      const meta = objectId === DAEMON_NAME ? daemonMetadata() : this.#s.view.metadata(objectId);
      if (!meta) {
        reply(MsgType.CONNECTFAIL, 0, ser, "unknown object");
        this.#ended = true;
        this.#socket.end();
        return;
      }
      this.#handshaken = true;
      reply(MsgType.CONNECTOK, Flags.META_ON_CONNECT, ser, { handshake: "hello", meta });
    } else {
      this.#handshaken = true;
      reply(MsgType.CONNECTOK, 0, ser, "hello");
    }
    this.#arm(this.#s.idleTimeout, "idle");
  }

  #body(m: PyroMessage): Uint8Array {
    return m.flags & Flags.COMPRESSED ? decompress(m.data, this.#s.limits.maxDecompressedSize) : m.data;
  }

  async #invoke(m: PyroMessage): Promise<void> {
    const oneway = (m.flags & Flags.ONEWAY) !== 0;
    const ser = this.#s.serializers.get(m.serializerId);
    if (!ser) {
      // Answered in marshal, which every Pyro4 has; Python's daemon does the same.
      if (!oneway) this.#fail(m.seq, serializerById(SerializerId.marshal), pyroError("SerializeError", `message used serializer that is not accepted: ${m.serializerId}`), "");
      return;
    }
    let call: PyroCall;
    try {
      call = ser.loadsCall(this.#body(m), { limits: this.#s.limits });
    } catch (err) {
      if (!oneway) this.#fail(m.seq, ser, pyroError("SerializeError", (err as Error).message), "");
      else this.#s.onError?.(err);
      return;
    }
    const where = `${call.objectId}.${call.method}`;
    if (m.flags & Flags.BATCH) {
      const results: unknown[] = [];
      for (const entry of call.args) {
        if (this.#ended) return;
        if (!Array.isArray(entry) || entry.length !== 3 || typeof entry[0] !== "string" || !Array.isArray(entry[1])) {
          if (!oneway) this.#fail(m.seq, ser, pyroError("ProtocolError", "a batch entry is not (method, args, kwargs)"), where);
          return;
        }
        const kwargs = entry[2] !== null && typeof entry[2] === "object" && !Array.isArray(entry[2]) ? (entry[2] as Record<string, unknown>) : {};
        try {
          results.push(await this.#dispatch(call.objectId, entry[0], entry[1] as unknown[], kwargs, oneway, false));
        } catch (err) {
          // As Pyro4: the batch stops at the first failure, which takes its place in the result list.
          results.push(new Pyro4ExceptionWrapper(failureDict(err, `${call.objectId}.${entry[0]}`, this.#s.exposeStack)));
          break;
        }
      }
      if (!oneway) this.#result(m.seq, ser, results, Flags.BATCH, where);
      return;
    }
    let result: unknown;
    try {
      result = await this.#dispatch(call.objectId, call.method, call.args, call.kwargs, oneway, true);
    } catch (err) {
      if (oneway) this.#s.onError?.(err);
      else this.#fail(m.seq, ser, err, where);
      return;
    }
    if (oneway) return;
    if (isStreamResult(result)) {
      this.#startStream(m.seq, ser, result, where);
      return;
    }
    this.#result(m.seq, ser, result, 0, where);
  }

  /** Run one call on the handler (or the daemon's own object). */
  async #dispatch(objectId: string, method: string, args: unknown[], kwargs: Record<string, unknown>, oneway: boolean, streams: boolean): Promise<unknown> {
    if (objectId === DAEMON_NAME) return this.#daemonCall(method, args, kwargs, streams);
    const view = this.#s.view;
    const ctx = new ServerCall(view.callName(objectId, method), args, kwargs, this.#origin, oneway);
    this.#calls.add(ctx);
    try {
      return forPyroClient(objectId, method, await view.handler.dispatch(ctx));
    } catch (err) {
      if (err instanceof RpcError && err.code === "METHOD_NOT_FOUND" && view.methodsOf(objectId).length === 0) {
        throw pyroError("DaemonError", "unknown object");
      }
      throw err;
    } finally {
      this.#calls.delete(ctx);
    }
  }

  /** The daemon's own object, `Pyro.Daemon`, as Pyro4's DaemonObject. */
  async #daemonCall(method: string, args: unknown[], kwargs: Record<string, unknown>, streams: boolean): Promise<unknown> {
    const arg = (i: number, name: string) => (args.length > i ? args[i] : kwargs[name]);
    switch (method) {
      case "ping":
        return null;
      case "registered":
        return this.#s.view.registered();
      case "info":
        return `wirecall Pyro4 daemon bound on ${this.#socket.localAddress ?? "?"}:${this.#socket.localPort ?? "?"}, ${this.#s.view.registered().length} objects registered`;
      case "get_metadata": {
        const id = arg(0, "objectId");
        const meta = typeof id === "string" ? (id === DAEMON_NAME ? daemonMetadata() : this.#s.view.metadata(id)) : undefined;
        if (!meta) throw pyroError("DaemonError", "unknown object");
        if (arg(1, "as_lists") === true) return meta;
        return { methods: new Set(meta.methods), oneway: new Set(meta.oneway), attrs: new Set(meta.attrs) };
      }
      case "get_next_stream_item": {
        if (!streams) throw pyroError("PyroError", "item streams cannot be read in a batch");
        const id = String(arg(0, "streamId"));
        const it = this.#streams.get(id);
        if (!it) throw pyroError("PyroError", "item stream terminated");
        let r: IteratorResult<unknown>;
        try {
          r = await it.next();
        } catch (err) {
          this.#streams.delete(id);
          throw err;
        }
        if (r.done) {
          this.#streams.delete(id);
          throw new Pyro4RemoteError("builtins.StopIteration", []);
        }
        return r.value;
      }
      case "close_stream": {
        const id = String(arg(0, "streamId"));
        const it = this.#streams.get(id);
        this.#streams.delete(id);
        if (it) stopIterator(it);
        return null;
      }
      default: {
        const e = new Error(`remote object 'Pyro.Daemon' has no exposed attribute or method '${method}'`);
        e.name = "AttributeError";
        throw e;
      }
    }
  }

  #startStream(seq: number, ser: Pyro4Serializer, result: AsyncIterable<unknown> | Iterator<unknown>, where: string): void {
    if (this.#streams.size >= this.#s.maxStreams) {
      stopIterator(iteratorOf(result));
      this.#fail(seq, ser, pyroError("PyroError", `too many open item streams on this connection (maxStreams ${this.#s.maxStreams}); read or close some first`), where);
      return;
    }
    const id = randomUUID();
    this.#streams.set(id, iteratorOf(result));
    // As Pyro4: an exception result (for older clients) flagged as an item stream, the id in STRM.
    const dict = exceptionDict(pyroError("ProtocolError", ITERATOR_RESULT));
    this.#send(seq, ser, ser.dumps(dict), Flags.EXCEPTION | Flags.ITEMSTREAMRESULT, { STRM: Buffer.from(id, "utf8") });
  }

  #result(seq: number, ser: Pyro4Serializer, value: unknown, flags: number, where: string): void {
    let data: Uint8Array;
    try {
      data = ser.dumps(value);
    } catch (err) {
      this.#fail(seq, ser, err, where);
      return;
    }
    this.#send(seq, ser, data, flags);
  }

  #fail(seq: number, ser: Pyro4Serializer, err: unknown, where: string): void {
    let data: Uint8Array;
    try {
      data = ser.dumps(failureDict(err, where, this.#s.exposeStack));
    } catch (e2) {
      // The exception's own attributes cannot travel: send its class and message, as Pyro4 falls back to a PyroError.
      const msg = `Error serializing exception: ${(e2 as Error).message}. Original exception: ${(err as Error)?.name}: ${(err as Error)?.message}`;
      data = ser.dumps(exceptionDict(pyroError("PyroError", msg)));
    }
    this.#send(seq, ser, data, Flags.EXCEPTION);
  }

  #send(seq: number, ser: Pyro4Serializer, data: Uint8Array, flags: number, annotations?: Record<string, Uint8Array>): void {
    let body = data;
    if (this.#s.compression) {
      const c = maybeCompress(data);
      body = c.data;
      if (c.compressed) flags |= Flags.COMPRESSED;
    }
    this.#write(MsgType.RESULT, flags, seq, ser, body, annotations);
  }

  #write(type: number, flags: number, seq: number, ser: Pick<Pyro4Serializer, "id">, data: Uint8Array, annotations?: Record<string, Uint8Array>): void {
    if (this.#socket.destroyed) return;
    const bytes = encodeMessage(
      { type, flags, seq, serializerId: ser.id, data, ...(annotations ? { annotations } : {}) },
      this.#s.hmacKey === undefined ? {} : { hmacKey: this.#s.hmacKey },
    );
    this.#socket.write(bytes);
  }

  #gone(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#ended = true;
    this.#queue.length = 0;
    const reason = new RpcError("CONNECTION_CLOSED", "the Pyro4 client disconnected");
    for (const c of this.#calls) c.abort(reason);
    for (const it of this.#streams.values()) stopIterator(it);
    this.#streams.clear();
    this.#closed.abort(reason);
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const f of w) f();
    this.onClose?.(this);
  }
}

/** Let a stream's producer run its `finally`. */
function stopIterator(it: AsyncIterator<unknown> | Iterator<unknown>): void {
  if (typeof it.return !== "function") return;
  try {
    const r = it.return() as unknown;
    if (r instanceof Promise) r.catch(() => {});
  } catch {
    // a producer failing while it stops has no one to tell
  }
}

function daemonMetadata(): { methods: string[]; oneway: string[]; attrs: string[] } {
  return { methods: ["close_stream", "get_metadata", "get_next_stream_item", "info", "ping", "registered"], oneway: [], attrs: [] };
}
