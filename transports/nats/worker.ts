/**
 * The serving side of `nats://host:port/subject`: one NATS client per
 * `serve()`, one wirecall connection (and peer session) per client lane.
 *
 * A worker subscribes to
 * - `subject` in a queue group: plain NATS requests from any client (one
 *   call each, JSON envelopes without a hello), NATS spreading them;
 * - `subject._who`: discovery, answered with the worker's own prefix;
 * - `<prefix>.>`: its connections. `<prefix>.0` opens one (a client lane's
 *   hello), `<prefix>.<n>` is connection n.
 * and says `subject._up` when it starts and after every reconnect.
 */
import type { Msg, NatsConnection as NatsClient, Subscription } from "@nats-io/transport-node";
import {
  DEFAULT_LIMITS,
  FrameServer,
  PeerSession,
  RpcError,
  toWireError,
  type RPCHandler,
  type Server,
  type SessionOptions,
} from "../../src/transport-sdk.js";
import { loadNats } from "./load-nats.js";
import { H_CLOSE, H_PING, NatsFrameConnection, type NatsPort } from "./nats-connection.js";
import { natsSettings, refuseAuthkey, type NatsServeOptions } from "./options.js";
import { connectNats, natsPort, subjects } from "./port.js";


/** A server on NATS: the usual {@link Server}, and which worker it is. */
export interface NatsServer extends Server {
  /** This worker's own subject prefix (unique per `serve()`). */
  readonly worker: string;
  /** Client lanes open to this worker. */
  readonly connections: number;
}

const HELLO = new TextEncoder().encode('{"wirecall"');

function isHello(frame: Uint8Array): boolean {
  if (frame.byteLength < HELLO.byteLength) return false;
  for (let i = 0; i < HELLO.byteLength; i++) if (frame[i] !== HELLO[i]) return false;
  return true;
}

function hasRefs(session: PeerSession): boolean {
  const r = session.references;
  return r !== undefined && r.exports + r.imports + r.streams > 0;
}

/** `url`'s query holds only what its clients take (the core checked the options and took the server's out). */
export async function serveNats(handler: RPCHandler, url: URL, options: NatsServeOptions): Promise<NatsServer> {
  refuseAuthkey(options, "server");
  const nats = await loadNats();
  const s = natsSettings(url, options, () => `wirecall.${nats.nuid.next()}`);
  const nc = await connectNats(nats, s, options, "server");
  const port = natsPort(nats, nc, s);
  const id = nats.nuid.next();
  const prefix = subjects.worker(s.subject, id);
  const conns = new Map<string, NatsFrameConnection>();
  const maxConnections = options.maxConnections ?? 10_000;
  let counter = 0;
  let accepting = true;
  const enc = new TextEncoder();

  const sessionOpts: SessionOptions = {
    role: "server",
    handler,
    maxInFlight: options.maxInFlight ?? DEFAULT_LIMITS.maxInFlight,
    firstFrameTimeout: s.handshakeTimeout,
  };
  if (options.idleTimeout !== undefined) sessionOpts.idleTimeout = options.idleTimeout;

  const closeNotice = (to: string, err: RpcError): void => {
    const h = nats.headers();
    h.set(H_CLOSE, JSON.stringify(toWireError(err)));
    try {
      nc.publish(to, new Uint8Array(0), { headers: h });
    } catch {
      // closing anyway
    }
  };

  let frameServer: FrameServer | undefined;
  const open = (msg: Msg): void => {
    if (msg.headers) {
      // Control for a connection this worker does not have (closed, or lost in a reconnect): say so.
      if (msg.reply && msg.headers.code === 0 && msg.headers.has(H_PING)) {
        closeNotice(msg.reply, new RpcError("CONNECTION_CLOSED", `this worker of '${s.subject}' has no such connection (it reconnected to NATS or closed it)`));
      }
      return;
    }
    if (!msg.reply) return; // a plain publish: nowhere to answer
    if (!accepting) {
      closeNotice(msg.reply, new RpcError("SHUTTING_DOWN", "the server is shutting down"));
      return;
    }
    if (conns.size >= maxConnections) {
      const err = new RpcError("CONNECTION_CLOSED", `this worker of '${s.subject}' has ${maxConnections} connections open (maxConnections): try again later`);
      // A plain request gets an error envelope it can read; a lane's hello a close notice.
      if (isHello(msg.data)) closeNotice(msg.reply, err);
      else nc.publish(msg.reply, enc.encode(JSON.stringify([2, null, toWireError(err)])));
      return;
    }
    const n = String(++counter);
    const conn = new NatsFrameConnection(port, { peer: msg.reply, self: `${prefix}.${n}`, side: "server", oneShot: !isHello(msg.data) });
    conns.set(n, conn);
    conn.onGone = () => conns.delete(n);
    const session = new PeerSession(conn, sessionOpts);
    conn.busy = () => session.inFlight > 0 || hasRefs(session);
    (frameServer as FrameServer).track(session);
    conn.receive(msg);
  };

  const onConn = (msg: Msg): void => {
    const n = msg.subject.slice(prefix.length + 1);
    const conn = conns.get(n);
    if (conn) return conn.receive(msg);
    if (n === "0") return open(msg);
    if (msg.reply && !msg.headers?.has(H_CLOSE) && msg.headers?.code !== 503) {
      closeNotice(msg.reply, new RpcError("CONNECTION_CLOSED", `this worker of '${s.subject}' has no connection ${n} (it reconnected to NATS or closed it)`));
    }
  };

  const subs: Subscription[] = [];
  const sub = (subject: string, cb: (msg: Msg) => void, queue?: string): Subscription => {
    const it = nc.subscribe(subject, {
      ...(queue ? { queue } : {}),
      callback: (err, msg) => {
        if (!err) cb(msg);
      },
    });
    subs.push(it);
    return it;
  };
  const own = sub(`${prefix}.>`, onConn);
  const queueSub = sub(s.subject, open, s.queue);
  const whoSub = sub(subjects.who(s.subject), (msg) => {
    if (accepting && msg.reply && !msg.headers) nc.publish(msg.reply, enc.encode(prefix));
  });
  const announce = (): void => {
    if (accepting && !nc.isClosed()) nc.publish(subjects.up(s.subject), enc.encode(prefix));
  };
  try {
    // Subscriptions are in place at the server before anyone hears of this worker.
    await nc.flush();
  } catch (err) {
    await nc.close().catch(() => {});
    throw new RpcError("CONNECT_FAILED", `NATS did not confirm the subscriptions of '${s.subject}': ${(err as Error)?.message ?? err}`, { cause: err });
  }
  announce();

  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const conn of conns.values()) conn.tick(now, s.livenessTimeout);
  }, s.heartbeat);
  heartbeat.unref();

  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === "reconnect") {
        // Frames may have been lost while disconnected: end every connection (its caller learns
        // at once from the notice, or at its next ping) rather than leave a call waiting forever.
        const reason = new RpcError("CONNECTION_CLOSED", `the worker reconnected to NATS; frames in flight may have been lost`);
        for (const conn of [...conns.values()]) conn.close(reason);
        announce();
      }
    }
  })().catch(() => {});

  const base = `${url.protocol}//${url.host}/${s.subject}`;
  frameServer = new FrameServer(
    {
      url: base,
      async close() {
        if (!accepting) return;
        accepting = false;
        queueSub.unsubscribe();
        whoSub.unsubscribe();
        await nc.flush().catch(() => {});
      },
    },
    options.closeTimeout ?? DEFAULT_LIMITS.closeTimeout,
    url.search,
  );
  const fs = frameServer;
  let closing: Promise<void> | undefined;
  return {
    get url() {
      return fs.url;
    },
    worker: prefix,
    get connections() {
      return conns.size;
    },
    urlOf: (objectId: string) => fs.urlOf(objectId),
    close() {
      return (closing ??= (async () => {
        await fs.close();
        clearInterval(heartbeat);
        own.unsubscribe();
        // Closing the NATS client flushes what it buffered: the close notices the sessions just sent.
        await closeClient(nc);
      })());
    },
  };
}

async function closeClient(nc: NatsClient): Promise<void> {
  if (!nc.isClosed()) await nc.close().catch(() => {});
}

export type { NatsPort };
