/**
 * Shared by the production tests (metadata, deadlines, hooks, telemetry,
 * retries): the transports they run over, and bounded waits.
 */
import { after } from "node:test";
import { serve, type RPCHandler, type ServeOptions, type Server } from "../src/index.js";
import { getTransport, parseEndpoint, type Connection } from "../src/transport-sdk.js";
import "../transports/memory/index.js";
import "../transports/tcp/index.js";
import "../transports/ws/index.js";

/** Every transport the issue names (tcp, ws, zmq) and the in-process one. */
export const TRANSPORTS: readonly { name: string; url: () => string }[] = [
  { name: "tcp", url: () => "tcp://127.0.0.1:0" },
  { name: "ws", url: () => "ws://127.0.0.1:0/rpc" },
  { name: "zmq", url: () => "zmq+tcp://127.0.0.1:0" },
];

/** A failing test, never a hung one: the time any single wait may take. */
export const BOUND = 20_000;

/** Reject if `p` has not settled within `ms`. */
export function within<T>(p: Promise<T>, what: string, ms = BOUND): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Serve `h` at `url`; closed when the file's tests are done. */
export async function start(h: RPCHandler, url: string, opts: ServeOptions = {}): Promise<Server> {
  const s = await serve(h, url, { closeTimeout: 500, ...opts });
  servers.push(s);
  return s;
}

export class Deferred<T = void> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** A raw JSON peer over tcp: frames in, frames out. */
export async function raw(url: string): Promise<{ conn: Connection; next(): Promise<unknown>; send(v: unknown): void }> {
  const ep = parseEndpoint(url);
  const conn = await (await getTransport(ep.scheme)).connect(ep.url, {});
  const queue: unknown[] = [];
  let waiter: Deferred<unknown> | undefined;
  conn.open({
    frame(f) {
      const v = JSON.parse(dec.decode(f)) as unknown;
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w.resolve(v);
      } else queue.push(v);
    },
    drain() {},
    close(err) {
      waiter?.reject(err ?? new Error("closed"));
    },
  });
  return {
    conn,
    send: (v) => conn.send(enc.encode(JSON.stringify(v)), true),
    next() {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      waiter = new Deferred<unknown>();
      return within(waiter.promise, "a frame");
    },
  };
}

