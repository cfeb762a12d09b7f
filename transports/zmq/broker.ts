/**
 * Scale-out with ZeroMQ's own machinery: a ROUTER frontend for clients, a
 * DEALER backend for workers, and ZeroMQ's proxy (in a worker thread)
 * between them. The backend DEALER deals requests round-robin over the
 * connected workers; replies find their way back by the routing frames.
 *
 * The proxy keeps no state, which is what makes it fast and restartable, and
 * also why a worker that dies takes its in-flight calls with it: nobody
 * knows they were there, so their callers see `TIMEOUT` (set a per-call or
 * per-proxy `timeout` when calling through a broker).
 *
 * Neither side of a broker can tell who a peer is (no authkey crosses it,
 * and CURVE without a client list only encrypts), so like a server without
 * an authkey each side serves loopback peers only unless `allowRemote`:
 * a stranger at the frontend could call every worker, and a stranger at
 * the backend would receive the clients' calls.
 */
import type { Observer } from "zeromq";
import { RpcError, parseEndpoint } from "../../src/transport-sdk.js";
import { curveServerOptions, registerZapDomain } from "./curve.js";
import { loadZeromq, type ZeroMQModule } from "./load-zeromq.js";
import { baseSocketOptions, booleanOption, publicUrl, zmqEndpoint, type SocketSettings, type ZmqOptions } from "./zmq-options.js";

export interface BrokerOptions {
  /** Options for the client-facing ROUTER: high-water marks, `maxFrameSize`, CURVE (`curveSecretKey`...), `linger`, `allowRemote` (clients not on loopback). */
  frontend?: ZmqOptions;
  /** Options for the worker-facing DEALER, the same ones (`allowRemote`: workers not on loopback). */
  backend?: ZmqOptions;
}

/** A running broker. */
export interface Broker {
  /** Where clients connect: `connect(broker.frontendUrl)`. */
  readonly frontendUrl: string;
  /** Where workers connect: `serveWorker(handler, broker.backendUrl)`. */
  readonly backendUrl: string;
  /** Workers currently connected to the backend. */
  readonly workers: number;
  /** Resolves once `workers` is `n` (or rejects with `TIMEOUT` after `timeout` ms, default 10000). */
  waitForWorkers(n: number, timeout?: number): Promise<void>;
  /** Stop the proxy and close both sockets. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start a broker: `frontend` and `backend` are `zmq+tcp://` or `zmq+ipc://`
 * URLs to bind (port 0 picks a free port; the real URLs are on the result).
 */
export async function startBroker(frontend: string | URL, backend: string | URL, options: BrokerOptions = {}): Promise<Broker> {
  const zmq = await loadZeromq();
  const fe = zmqEndpoint(parseEndpoint(frontend).url, true);
  const be = zmqEndpoint(parseEndpoint(backend).url, true);
  const feOpts = options.frontend ?? {};
  const beOpts = options.backend ?? {};
  const feSettings: SocketSettings = { ...baseSocketOptions(feOpts, fe.ipv6), ...curveServerOptions(feOpts) };
  const beSettings: SocketSettings = { ...baseSocketOptions(beOpts, be.ipv6), ...curveServerOptions(beOpts) };
  const releases: (() => void)[] = [];
  const releaseZap = (): void => {
    for (const release of releases.splice(0)) release();
  };
  await loopbackOnly(zmq, fe.endpoint, feOpts, feSettings, releases);
  await loopbackOnly(zmq, be.endpoint, beOpts, beSettings, releases);
  const front = new zmq.Router(feSettings);
  const back = new zmq.Dealer(beSettings);
  try {
    await front.bind(fe.endpoint);
    await back.bind(be.endpoint);
  } catch (err) {
    front.close();
    back.close();
    releaseZap();
    throw new RpcError("CONNECT_FAILED", `the broker cannot bind: ${(err as Error)?.message ?? err}`, { cause: err });
  }
  const broker = new RunningBroker(
    publicUrl(front.lastEndpoint ?? fe.endpoint),
    publicUrl(back.lastEndpoint ?? be.endpoint),
    // The monitor must be set up before the proxy thread owns the socket.
    back.events,
  );
  const proxy = new zmq.Proxy(front, back);
  broker.run(proxy.run().finally(releaseZap), () => proxy.terminate());
  return broker;
}

/** A tcp socket of the broker without `allowRemote` admits loopback peers only (ZAP); ipc is left to the file's permissions. */
async function loopbackOnly(zmq: ZeroMQModule, endpoint: string, options: ZmqOptions, settings: SocketSettings, releases: (() => void)[]): Promise<void> {
  if (!endpoint.startsWith("tcp://") || booleanOption(options, "allowRemote")) return;
  const zap = await registerZapDomain(zmq, { loopbackOnly: true });
  releases.push(zap.release);
  settings.zapDomain = zap.domain;
  settings.zapEnforceDomain = true;
}

class RunningBroker implements Broker {
  readonly frontendUrl: string;
  readonly backendUrl: string;
  #workers = 0;
  /** Connections that failed their handshake and have yet to be reported disconnected. */
  #failed = 0;
  #waiters: { n: number; resolve: () => void }[] = [];
  #done: Promise<void> = Promise.resolve();
  #stop: () => void = () => {};
  #closing: Promise<void> | undefined;

  constructor(frontendUrl: string, backendUrl: string, events: Observer) {
    this.frontendUrl = frontendUrl;
    this.backendUrl = backendUrl;
    // From the backend's socket events: a connection that fails its
    // handshake (a worker with wrong CURVE keys) is reported disconnected too.
    events.on("handshake", () => this.#count(1));
    const failed = (): void => {
      this.#failed++;
    };
    events.on("handshake:error:protocol", failed);
    events.on("handshake:error:auth", failed);
    events.on("handshake:error:other", failed);
    events.on("disconnect", () => {
      if (this.#failed > 0) this.#failed--;
      else this.#count(-1);
    });
  }

  get workers(): number {
    return this.#workers;
  }

  run(done: Promise<void>, stop: () => void): void {
    this.#done = done.catch(() => {});
    this.#stop = stop;
  }

  waitForWorkers(n: number, timeout = 10_000): Promise<void> {
    if (this.#workers === n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new RpcError("TIMEOUT", `${this.#workers} workers connected, not ${n}, after ${timeout} ms`));
      }, timeout);
      this.#waiters.push(waiter);
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop();
      await this.#done;
    })();
    return this.#closing;
  }

  #count(delta: number): void {
    this.#workers = Math.max(0, this.#workers + delta);
    const ready = this.#waiters.filter((w) => w.n === this.#workers);
    this.#waiters = this.#waiters.filter((w) => w.n !== this.#workers);
    for (const w of ready) w.resolve();
  }
}
