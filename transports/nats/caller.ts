/**
 * The calling side of `nats://host:port/subject`: one NATS client, and one
 * lane per worker serving the subject. A lane is an ordinary wirecall
 * connection (its own peer session: hello, pending calls, streams,
 * callbacks, cancel) to one worker, so everything a call starts stays with
 * the worker that runs it. Calls spread over the lanes: each goes to the
 * ready lane with the fewest calls pending, ties taken in turn.
 *
 * Workers are found by discovery (`subject._who`, every worker answers)
 * when connecting, when a call finds no lane, after a lane is lost, and
 * when a worker announces itself (`subject._up`). docs/nats.md explains why
 * lanes rather than one queue-group message per call.
 */
import type { NatsConnection as NatsClient, Subscription } from "@nats-io/transport-node";
import {
  PeerSession,
  RpcError,
  startCall,
  type Caller,
  type CallOptions,
  type OutgoingCall,
  type RPCHandler,
} from "../../src/transport-sdk.js";
import { getSerializer, json, loadSerializer, type ProxyOptions, type Serializer } from "../../src/index.js";
import { loadNats, type NatsModule } from "./load-nats.js";
import { NatsFrameConnection, type NatsPort } from "./nats-connection.js";
import { natsSettings, refuseAuthkey, type NatsOptions, type NatsSettings } from "./options.js";
import { connectNats, natsPort, subjects } from "./port.js";

/** Options of `connect()` on `nats://`. */
export type NatsConnectOptions = ProxyOptions & NatsOptions;

interface Lane {
  /** The worker's prefix (`subject._w.<id>`). */
  readonly worker: string;
  readonly conn: NatsFrameConnection;
  readonly session: PeerSession;
  ready: boolean;
  /** Settles once the hello is done or the lane is gone. */
  readonly opened: Promise<boolean>;
}

type Timer = ReturnType<typeof setTimeout>;
const EMPTY = new Uint8Array(0);

function hasRefs(session: PeerSession): boolean {
  const r = session.references;
  return r !== undefined && r.exports + r.imports + r.streams > 0;
}

function resolveSerializer(s: string | Serializer | undefined): Serializer {
  if (s === undefined) return json;
  if (typeof s !== "string") return s;
  const found = getSerializer(s);
  if (!found) throw new RpcError("SERIALIZE_ERROR", `unknown serializer '${s}'`);
  return found;
}

export class NatsCaller implements Caller {
  readonly #nc: NatsClient;
  readonly #s: NatsSettings;
  readonly #o: NatsConnectOptions;
  readonly #port: NatsPort;
  readonly #serializer: Serializer;
  readonly #inbox: string;
  readonly #lanes = new Map<string, Lane>();
  #order: Lane[] = [];
  #turn = 0;
  #laneNo = 0;
  /** Calls waiting for a lane. */
  #queue: OutgoingCall[] = [];
  #discovering: Promise<number> | undefined;
  /** A round queued behind the one in flight (which may have started before a lane was lost). */
  #nextDiscovery: Promise<number> | undefined;
  #closed = false;
  /** The NATS client lost its server and is reconnecting (between its disconnect and reconnect statuses). */
  #down = false;
  #closeReason: Error | undefined;
  /** Why the last lane that never became ready failed (a refused hello, say). */
  #lastFailure: Error | undefined;
  readonly #heartbeat: Timer;
  readonly #upSub: Subscription;

  private constructor(nats: NatsModule, nc: NatsClient, s: NatsSettings, o: NatsConnectOptions) {
    this.#nc = nc;
    this.#s = s;
    this.#o = o;
    this.#port = natsPort(nats, nc, s);
    this.#serializer = resolveSerializer(o.serializer);
    this.#inbox = nats.createInbox();
    const dec = new TextDecoder();
    this.#upSub = nc.subscribe(subjects.up(s.subject), {
      callback: (err, msg) => {
        if (!err && !msg.headers) this.#openLane(dec.decode(msg.data));
      },
    });
    this.#heartbeat = setInterval(() => {
      const now = Date.now();
      for (const lane of this.#order) lane.conn.tick(now, s.livenessTimeout);
    }, s.heartbeat);
    this.#heartbeat.unref();
    void this.#watch();
  }

  /** Connect to NATS, find the workers serving the subject and open a lane to each. */
  static async open(url: URL, options: NatsConnectOptions): Promise<NatsCaller> {
    refuseAuthkey(options, "client");
    const nats = await loadNats();
    const s = natsSettings(url, options, () => {
      throw new RpcError("INVALID_URL", `connect() needs the subject to call: nats://host:port/<subject>, got '${url.href}'`);
    });
    // msgpack and superjson load on first use (src/serializers/index.ts).
    if (typeof options.serializer === "string") await loadSerializer(options.serializer);
    resolveSerializer(options.serializer);
    const nc = await connectNats(nats, s, options, "client");
    const caller = new NatsCaller(nats, nc, s, options);
    try {
      const found = await caller.discover();
      if (found === 0) throw caller.#noResponders("CONNECT_FAILED");
      if (caller.workers === 0) throw caller.#lastFailure ?? caller.#noResponders("CONNECT_FAILED");
    } catch (err) {
      await caller.close();
      throw err;
    }
    return caller;
  }

  /** Workers this caller has a ready lane to. */
  get workers(): number {
    let n = 0;
    for (const lane of this.#order) if (lane.ready) n++;
    return n;
  }

  /** The prefixes of the workers with a ready lane (tests count calls per worker with it). */
  get workerIds(): string[] {
    return this.#order.filter((l) => l.ready).map((l) => l.worker);
  }

  /** Streams and references alive over all lanes (what `RPCProxy.session.references` gives on other transports). */
  get session(): { references: { exports: number; imports: number; streams: number } | undefined } {
    const lanes = this.#order;
    return {
      get references() {
        let out: { exports: number; imports: number; streams: number } | undefined;
        for (const lane of lanes) {
          const r = lane.session.references;
          if (!r) continue;
          out ??= { exports: 0, imports: 0, streams: 0 };
          out.exports += r.exports;
          out.imports += r.imports;
          out.streams += r.streams;
        }
        return out;
      },
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ---- Caller ------------------------------------------------------------

  call(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const { promise, call } = startCall(name, args, kwargs, options, this.#o);
    if (!call) return promise;
    const lane = this.#pick();
    if (lane) {
      lane.session.send(call);
    } else {
      call.onAbandon = this.#dropQueued;
      this.#queue.push(call);
      this.#needLanes();
    }
    return promise;
  }

  async notify(name: string, args: unknown[] = [], kwargs?: Record<string, unknown>): Promise<void> {
    if (this.#closed) throw this.#closedError();
    let lane = this.#pick();
    if (!lane) {
      await this.discover();
      lane = this.#pick();
    }
    if (!lane) throw this.#lastFailure ?? this.#noResponders("CONNECTION_CLOSED");
    return lane.session.notify(name, args, kwargs);
  }

  /** Close every lane (pending calls reject with `CONNECTION_CLOSED`) and the NATS client. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const reason = (this.#closeReason = new RpcError("CONNECTION_CLOSED", "the proxy was closed"));
    clearInterval(this.#heartbeat);
    this.#failQueued(reason);
    this.#upSub.unsubscribe();
    await Promise.all(this.#order.map((lane) => lane.session.end(reason)));
    // Closing the NATS client flushes what it buffered: the lanes' close notices.
    if (!this.#nc.isClosed()) await this.#nc.close().catch(() => {});
  }

  /**
   * Ask every worker serving the subject to say where it is, and open a lane
   * to each one not yet known. Resolves with the number of workers that
   * answered once their lanes' hellos are done (0 when NATS says no responders).
   */
  discover(): Promise<number> {
    if (this.#closed) return Promise.resolve(0);
    return (this.#discovering ??= this.#discoverOnce().finally(() => {
      this.#discovering = undefined;
    }));
  }

  // ---- internals ---------------------------------------------------------

  #discoverOnce(): Promise<number> {
    const inbox = `${this.#inbox}.d`;
    const prefix = `${this.#s.subject}._w.`;
    const opened: Promise<boolean>[] = [];
    const dec = new TextDecoder();
    return new Promise<number>((resolve) => {
      let found = 0;
      let stall: Timer | undefined;
      const finish = (): void => {
        clearTimeout(deadline);
        clearTimeout(stall);
        sub.unsubscribe();
        void Promise.all(opened).then(() => resolve(found));
      };
      const deadline = setTimeout(finish, this.#s.handshakeTimeout);
      const sub = this.#nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err || msg.headers?.code === 503) return finish();
          if (msg.headers) return;
          const worker = dec.decode(msg.data);
          if (!worker.startsWith(prefix)) return;
          found++;
          const lane = this.#openLane(worker);
          if (lane) opened.push(lane.opened);
          clearTimeout(stall);
          stall = setTimeout(finish, this.#s.discoveryWindow);
        },
      });
      try {
        this.#nc.publish(subjects.who(this.#s.subject), EMPTY, { reply: inbox });
      } catch {
        finish();
      }
    });
  }

  #openLane(worker: string): Lane | undefined {
    if (this.#closed || this.#lanes.has(worker) || !worker.startsWith(`${this.#s.subject}._w.`)) return this.#lanes.get(worker);
    const inbox = `${this.#inbox}.${++this.#laneNo}`;
    const conn = new NatsFrameConnection(this.#port, { peer: `${worker}.0`, self: inbox, learnPeer: true, side: "client" });
    const sub = this.#nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (!err) conn.receive(msg);
      },
    });
    conn.onGone = () => sub.unsubscribe();
    const o = this.#o;
    const session = new PeerSession(conn, {
      role: "client",
      serializer: this.#serializer,
      handler: o.handler as RPCHandler | undefined,
      ...(o.maxInFlight !== undefined ? { maxInFlight: o.maxInFlight } : {}),
      ...(o.streamWindow !== undefined ? { streamWindow: o.streamWindow } : {}),
      ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
      ...(o.captureStack !== undefined ? { captureStack: o.captureStack } : {}),
      onError: o.onError,
      idleTimeout: 0,
    });
    conn.busy = () => session.pending > 0 || hasRefs(session);
    let settle!: (ok: boolean) => void;
    const lane: Lane = { worker, conn, session, ready: false, opened: new Promise<boolean>((r) => (settle = r)) };
    const helloLimit = setTimeout(() => {
      if (!lane.ready) session.fail(new RpcError("CONNECT_FAILED", `the worker ${worker} did not answer the hello within ${this.#s.handshakeTimeout} ms`));
    }, this.#s.handshakeTimeout);
    helloLimit.unref();
    session.onReady = () => {
      clearTimeout(helloLimit);
      lane.ready = true;
      settle(true);
      this.#flushQueue();
    };
    session.onClose = (_s, err) => {
      clearTimeout(helloLimit);
      settle(false);
      this.#lostLane(lane, err);
    };
    this.#lanes.set(worker, lane);
    this.#order = [...this.#lanes.values()];
    session.start();
    return lane;
  }

  #lostLane(lane: Lane, err: Error | undefined): void {
    if (this.#lanes.get(lane.worker) === lane) this.#lanes.delete(lane.worker);
    this.#order = [...this.#lanes.values()];
    if (!lane.ready && err) this.#lastFailure = err;
    if (this.#closed) return;
    // The worker may still be there (it closed an idle lane, or reconnected): look again.
    // A lane that never became ready was refused: looking again would only repeat that.
    if (lane.ready) this.#needLanes();
    else this.#settleQueue();
  }

  /** A discovery round that starts after now: one in flight may have seen a lane that is gone since. */
  #discoverAfterNow(): Promise<number> {
    const current = this.#discovering;
    if (!current) return this.discover();
    return (this.#nextDiscovery ??= current.then(() => {
      this.#nextDiscovery = undefined;
      return this.discover();
    }));
  }

  /** Find workers; when none answers, fail the calls waiting for a lane. */
  #needLanes(): void {
    void this.#discoverAfterNow().then(() => this.#settleQueue());
  }

  /** Send the calls waiting for a lane, or fail them when no lane is ready, opening or being looked for. */
  #settleQueue(): void {
    if (this.#closed || this.#queue.length === 0) return;
    if (this.#pick()) return this.#flushQueue();
    // A later discovery round, or a hello on its way, decides (each ends by settling again).
    if (this.#discovering || this.#nextDiscovery) return;
    for (const lane of this.#order) if (!lane.ready) return;
    this.#failQueued(this.#lastFailure ?? this.#noResponders("CONNECTION_CLOSED"));
  }

  /** The ready lane with the fewest calls pending; ties go in turn. */
  #pick(): Lane | undefined {
    const lanes = this.#order;
    const n = lanes.length;
    let best: Lane | undefined;
    let bestPending = Infinity;
    const start = this.#turn++;
    for (let i = 0; i < n; i++) {
      const lane = lanes[(start + i) % n] as Lane;
      if (!lane.ready) continue;
      const p = lane.session.pending;
      if (p < bestPending) {
        best = lane;
        bestPending = p;
        if (p === 0) break;
      }
    }
    return best;
  }

  #flushQueue(): void {
    while (this.#queue.length > 0) {
      const lane = this.#pick();
      if (!lane) return;
      const call = this.#queue.shift() as OutgoingCall;
      call.onAbandon = undefined;
      lane.session.send(call);
    }
  }

  readonly #dropQueued = (call: OutgoingCall): void => {
    const i = this.#queue.indexOf(call);
    if (i >= 0) this.#queue.splice(i, 1);
  };

  #failQueued(reason: Error): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const call of queue) call.reject(reason);
  }

  /** React to the NATS client: a reconnect may have lost frames; a close ends everything. */
  async #watch(): Promise<void> {
    const nc = this.#nc;
    void nc.closed().then((err) => {
      if (this.#closed) return;
      const reason = new RpcError("CONNECTION_CLOSED", `the NATS connection closed${err ? `: ${err.message}` : ""}`, err ? { cause: err } : {});
      this.#closed = true;
      this.#closeReason = reason;
      clearInterval(this.#heartbeat);
      this.#failQueued(reason);
      for (const lane of this.#order) void lane.session.end(reason);
    });
    try {
      for await (const st of nc.status()) {
        if (this.#closed) continue;
        if (st.type === "disconnect") {
          // Frames in flight may be lost: end every lane now (their calls reject) rather than at the reconnect.
          // Calls made meanwhile wait for the rediscovery this starts, which goes out once NATS is back.
          this.#down = true;
          const reason = new RpcError("CONNECTION_CLOSED", `lost the NATS server ${nc.getServer()}; frames in flight may have been lost`);
          for (const lane of [...this.#order]) lane.conn.close(reason);
        } else if (st.type === "reconnect") {
          this.#down = false;
          const reason = new RpcError("CONNECTION_CLOSED", "reconnected to NATS; frames in flight may have been lost");
          for (const lane of [...this.#order]) lane.conn.close(reason);
        }
      }
    } catch {
      // the status iterator ends with the client
    }
  }

  #noResponders(code: "CONNECT_FAILED" | "CONNECTION_CLOSED"): RpcError {
    if (this.#down) {
      return new RpcError(code, `the NATS connection is down (reconnecting to ${this.#s.servers.join(", ")}): no worker of '${this.#s.subject}' can be reached`);
    }
    return new RpcError(
      code,
      `no server serves '${this.#s.subject}' on ${this.#s.servers[0]} (NATS: no responders): start one with serve(handler, "nats://.../${this.#s.subject}")`,
      { data: { noResponders: true, subject: this.#s.subject } },
    );
  }

  #closedError(): Error {
    return this.#closeReason ?? new RpcError("CONNECTION_CLOSED", "the proxy is closed");
  }
}
