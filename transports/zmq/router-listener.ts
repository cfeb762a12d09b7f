/**
 * The server: one ROUTER socket, bound (a server) or connected to a broker's
 * backend (a worker). Each routing stack (peer identity, plus broker hops)
 * is one peer with its own session; see frames.ts for the layout.
 *
 * Peer lifetime: a peer ends when it says goodbye (an empty payload:
 * wirecall clients send it on close), when the ZeroMQ connection it arrived
 * on connects anew or disconnects (ZMQ_ROUTER_NOTIFY, bound servers only),
 * when it has been silent for `peerIdleTimeout`, or when `maxPeers` are held
 * and a new one arrives (the least recently active goes). An expired peer
 * that speaks again simply starts a new session: wirecall clients repeat
 * their hello before each payload, so nothing is lost but authentication.
 */
import { rmSync } from "node:fs";
import type { Router } from "zeromq";
import { MAX_HANDSHAKE_MESSAGE, RpcError, decodeHello, resolveAuthkey, serverHandshake, type Connection, type Listener } from "../../src/transport-sdk.js";
import { nodeHmac } from "../node-hmac.js";
import { curveClientKeys, curveClientOptions, curveServerOptions, registerZapDomain } from "./curve.js";
import { BATCH, BATCH_ENTRY_MAX, BATCH_FRAME, EMPTY, REPLY_BATCH_BYTES, entrySize, READY, REFUSED, encodeBatch, helloForTag, identityKey, peerKey, peerName, protocolErrorFrame, sharedHello, splitBatch, splitRouted } from "./frames.js";
import { reportSecurityFailures, waitForHandshake } from "./handshake-event.js";
import type { ZeroMQModule } from "./load-zeromq.js";
import { Mailbox } from "./mailbox.js";
import { PeerConnection, peerClosed, type PeerHost } from "./peer-connection.js";
import { SendQueue } from "./send-queue.js";
import { baseSocketOptions, booleanOption, handshakeTimeout, numberOption, publicUrl, zmqEndpoint, type SocketSettings, type ZmqOptions } from "./zmq-options.js";

/** Frames held for paused sessions, over all peers, before the socket stops being read. */
const MAX_HELD = 4096;
/** Bytes of those frames before the socket stops being read: at most this plus one frame is ever held. */
const MAX_HELD_BYTES = 32 * 1024 * 1024;
/**
 * Authkey challenges in progress, over all peers: they live apart from the
 * sessions, so no number of unauthenticated peers can push an authenticated
 * session out. Past it the oldest challenge is abandoned.
 */
const MAX_PENDING = 1024;
/** Authkey challenges in progress on one ZeroMQ connection (each extra routing frame is another peer). */
const MAX_PENDING_PER_CONNECTION = 4;

/** ZMQ_ROUTER_NOTIFY (a libzmq draft option, built into the zeromq package): an empty message per peer connect and disconnect. */
const ZMQ_ROUTER_NOTIFY = 97;
const NOTIFY_CONNECT_AND_DISCONNECT = 3;

interface Peer {
  readonly key: string;
  /** The ZeroMQ connection the peer speaks through: its first routing frame, the identity our ROUTER knows it by. */
  readonly link: string;
  readonly routing: Buffer[];
  conn: PeerConnection | undefined;
  /** The authkey challenge in progress. */
  handshake: Mailbox | undefined;
  lastActive: number;
  /** The peer sent a compact message, so it takes replies without the delimiter (frames.ts). */
  compact: boolean;
  /** The peer sent a batch, so it takes batches: its replies written in one tick wait in `out` for the end of the tick. */
  batch: boolean;
  out: Uint8Array[] | undefined;
  outCount: number;
  outBytes: number;
}

export class ZmqListener implements Listener, PeerHost {
  readonly url: string;
  readonly #sock: Router;
  /** Every send on the ROUTER (replies, error replies, the authkey challenge, goodbyes) goes through this one queue. */
  readonly #queue: SendQueue;
  readonly #accept: (conn: Connection) => void;
  /** Peers with a session, or authenticated and about to open one: least recently active first, at most `maxPeers`. */
  readonly #peers = new Map<string, Peer>();
  /** Peers in the authkey challenge: oldest first, at most MAX_PENDING. */
  readonly #pending = new Map<string, Peer>();
  /** Peers (with a session or in the challenge) by ZeroMQ connection (`Peer.link`): all of them end when that connection does. */
  readonly #links = new Map<string, Set<Peer>>();
  /** ZMQ_ROUTER_NOTIFY is on: `[identity, ""]` is a connection event, never a peer's message. */
  readonly #notified: boolean;
  readonly #byConn = new Map<PeerConnection, Peer>();
  readonly #authkey: Uint8Array | undefined;
  readonly #refuseLegacyMd5: boolean;
  readonly #handshakeTimeout: number;
  readonly #onHandshakeError: ZmqOptions["onHandshakeError"];
  readonly #maxPeers: number;
  readonly #idleTimeout: number;
  readonly #sweep: ReturnType<typeof setInterval> | undefined;
  readonly #releaseZap: (() => void) | undefined;
  /** The socket file of a bound ipc endpoint, removed on close. */
  readonly #ipcPath: string | undefined;
  /**
   * Behind a broker a peer's session spans every worker: one worker ending
   * its part must not tell the client that the service is gone.
   */
  readonly #sayGoodbye: boolean;
  /** Only a bound server takes hello tags: behind a broker a client's next message may reach an older worker that does not. */
  readonly #acceptTags: boolean;
  #held = 0;
  #heldBytes = 0;
  /** The peer last moved to the end of `#peers` (the most recently active one). */
  #lastTouched: Peer | undefined;
  #wakeReader: (() => void) | undefined;
  /** Peers with replies waiting for the end of the tick, in the order they first had one. */
  #outPeers: Peer[] = [];
  #outScheduled = false;
  readonly #flushOutTask = (): void => {
    this.#outScheduled = false;
    this.#flushOut();
  };
  #closing = false;
  #socketClosed = false;

  private constructor(
    sock: Router,
    url: string,
    ipcPath: string | undefined,
    options: ZmqOptions,
    authkey: Uint8Array | undefined,
    accept: (conn: Connection) => void,
    releaseZap: (() => void) | undefined,
    notified: boolean,
  ) {
    this.#sock = sock;
    this.#notified = notified;
    // A ROUTER never blocks: a peer past its high-water mark loses the message, so nothing waits and nothing drains.
    this.#queue = new SendQueue(sock, Number.MAX_SAFE_INTEGER, () => {}, () => {
      // EHOSTUNREACH cannot happen without ROUTER_MANDATORY; a closed socket has nobody to tell.
    }, true);
    this.#ipcPath = ipcPath;
    this.url = url;
    this.#accept = accept;
    this.#authkey = authkey;
    this.#releaseZap = releaseZap;
    this.#refuseLegacyMd5 = booleanOption(options, "refuseLegacyMd5");
    this.#sayGoodbye = !booleanOption(options, "connect");
    this.#acceptTags = this.#sayGoodbye;
    this.#handshakeTimeout = handshakeTimeout(options);
    this.#onHandshakeError = handshakeErrorHook(options);
    this.#maxPeers = Math.max(1, numberOption(options, "maxPeers", 10_000));
    this.#idleTimeout = numberOption(options, "peerIdleTimeout", 600_000);
    if (this.#idleTimeout > 0) {
      this.#sweep = setInterval(() => this.#expire(), Math.max(100, Math.min(this.#idleTimeout / 4, 30_000)));
      this.#sweep.unref();
    }
    void this.#readLoop();
  }

  /** Bind (or, with `connect`, connect to a broker backend) and start serving peers. */
  static async start(zmq: ZeroMQModule, url: URL, options: ZmqOptions, accept: (conn: Connection) => void): Promise<ZmqListener> {
    const connectMode = booleanOption(options, "connect");
    const { endpoint, ipv6 } = zmqEndpoint(url, !connectMode);
    let authkey: Uint8Array | undefined;
    if (connectMode) {
      // Behind a load-balancing broker the four challenge messages would reach different workers.
      if (options.authkey !== undefined) throw new RpcError("INVALID_URL", "authkey cannot be used by a worker behind a broker; secure the broker's frontend with CURVE");
    } else {
      authkey = resolveAuthkey(options.authkey);
    }
    // A worker is the CURVE client of a broker backend that has keys; anything bound is the CURVE server.
    const curve = connectMode && options.curveServerKey !== undefined ? curveClientOptions(zmq, options) : curveServerOptions(options);
    // A ROUTER never blocks (a peer over its high-water mark loses the message); the send queue keeps sendTimeout at 0.
    const settings: SocketSettings = { ...baseSocketOptions(options, ipv6), ...curve, sendTimeout: 0 };
    const allowed = curveClientKeys(options);
    const report = handshakeErrorHook(options);
    // As on tcp and ws: a server that cannot tell who a peer is (no authkey, no client keys) serves loopback peers only.
    // An ipc socket is a file: its permissions say who may connect.
    const loopbackOnly = !connectMode && !authkey && !allowed && !booleanOption(options, "allowRemote") && endpoint.startsWith("tcp://");
    const zap = allowed || loopbackOnly ? await registerZapDomain(zmq, { keys: allowed, loopbackOnly, refused: report }) : undefined;
    if (zap) {
      settings.zapDomain = zap.domain;
      // Fail closed: should the ZAP handler be missing, ZeroMQ refuses the peer instead of letting it in unchecked.
      settings.zapEnforceDomain = true;
    }
    const sock = new zmq.Router(settings);
    // A worker's own security failures fail serveWorker(); a bound server's are its peers'.
    if (report && !connectMode) reportSecurityFailures(sock, (err) => report(err, undefined), zap !== undefined);
    let publicAddress: string;
    try {
      // A bound server learns of every connect and disconnect, so a session lives exactly as long as the connection it arrived on.
      if (!connectMode) enableRouterNotify(sock);
      if (connectMode) {
        const reachable = waitForHandshake(sock, endpoint, handshakeTimeout(options));
        sock.connect(endpoint);
        await reachable;
        publicAddress = publicUrl(endpoint);
      } else {
        await sock.bind(endpoint);
        publicAddress = publicUrl(sock.lastEndpoint ?? endpoint);
      }
    } catch (err) {
      sock.close();
      zap?.release();
      if (err instanceof RpcError) throw err;
      throw new RpcError("CONNECT_FAILED", `cannot ${connectMode ? "connect to" : "bind"} ${endpoint}: ${(err as Error)?.message ?? err}`, { cause: err });
    }
    const ipcPath = !connectMode && endpoint.startsWith("ipc://") ? endpoint.slice("ipc://".length) : undefined;
    return new ZmqListener(sock, publicAddress, ipcPath, options, authkey, accept, zap?.release, !connectMode);
  }

  /** Peers currently holding a session or in the authkey challenge. */
  get peers(): number {
    return this.#peers.size + this.#pending.size;
  }

  /**
   * Stop taking new peers. Sessions already open stay until the core closes
   * them (each gets a goodbye); the socket closes after the last one.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#sweep) clearInterval(this.#sweep);
    const closed = new RpcError("SHUTTING_DOWN", "the server closed");
    for (const peer of [...this.#pending.values()]) this.#forget(peer, closed);
    for (const peer of [...this.#peers.values()]) if (!peer.conn) this.#forget(peer, closed);
    this.#closeSocketWhenIdle();
  }

  // ---- PeerHost ------------------------------------------------------

  sendTo(conn: PeerConnection, payload: Uint8Array): boolean {
    const peer = this.#byConn.get(conn);
    if (!peer) return false;
    this.#touch(peer);
    if (peer.compact && payload.length > 0 && !this.#socketClosed) {
      if (peer.batch && payload.length <= BATCH_ENTRY_MAX) {
        // Replies written in the same tick (calls that arrived together) leave as one message.
        const size = entrySize(payload.length);
        // A batch stays within REPLY_BATCH_BYTES: what a peer that reads nothing can make the ROUTER hold stays bounded.
        if (peer.outCount > 0 && peer.outBytes + size > REPLY_BATCH_BYTES) this.#flushPeer(peer);
        let out = peer.out;
        if (out === undefined) out = peer.out = [];
        if (peer.outCount === 0) this.#outPeers.push(peer);
        out[peer.outCount++] = payload;
        peer.outBytes += size;
        if (!this.#outScheduled) {
          this.#outScheduled = true;
          process.nextTick(this.#flushOutTask);
        }
        return true;
      }
      if (this.#outPeers.length > 0) this.#flushOut(); // in order: what was written before goes first
      // A compact peer is a direct one: its routing is its identity alone.
      this.#queue.push([peer.routing[0] as Buffer, payload]);
      return true;
    }
    return this.#send(peer.routing, payload);
  }

  detach(conn: PeerConnection): void {
    const peer = this.#byConn.get(conn);
    if (!peer) return;
    this.#byConn.delete(conn);
    peer.conn = undefined;
    this.#flushPeer(peer); // its last replies, then the goodbye
    this.#remove(peer);
    if (this.#sayGoodbye) this.#send(peer.routing, EMPTY); // goodbye: the server ended this session
    this.#closeSocketWhenIdle();
  }

  held(frames: number, bytes: number): void {
    this.#held += frames;
    this.#heldBytes += bytes;
    if (this.#held < MAX_HELD && this.#heldBytes < MAX_HELD_BYTES && this.#wakeReader) {
      const wake = this.#wakeReader;
      this.#wakeReader = undefined;
      wake();
    }
  }

  // ---- receiving -----------------------------------------------------

  async #readLoop(): Promise<void> {
    for (;;) {
      // Sessions paused at their in-flight limit hold frames; past the bound, leave them in ZeroMQ's queues (and the peers' TCP windows).
      if (this.#held >= MAX_HELD || this.#heldBytes >= MAX_HELD_BYTES) await new Promise<void>((resolve) => (this.#wakeReader = resolve));
      let msg: Buffer[];
      try {
        msg = await this.#sock.receive();
      } catch {
        return; // the socket closed
      }
      try {
        this.#onMessage(msg);
      } catch {
        // A failure inside one session must not stop the server for everyone else.
      }
    }
  }

  #onMessage(msg: Buffer[]): void {
    if (this.#notified && msg.length === 2 && (msg[1] as Buffer).length === 0) {
      this.#connectionEvent(msg[0] as Buffer);
      return;
    }
    if (msg.length === 2 && this.#acceptTags) {
      // [identity, tag ‖ payload]: a compact message (frames.ts); any other two-frame message has no delimiter.
      const identity = msg[0] as Buffer;
      const frame = msg[1] as Buffer;
      let peer = this.#lastPeer(identity);
      let key: string;
      if (peer) {
        key = peer.key;
      } else {
        key = identityKey(identity);
        peer = this.#peers.get(key);
      }
      if (frame[0] === BATCH && frame.length > 1) {
        this.#onBatch(key, peer ? peer.routing : [identity], peer, frame);
        return;
      }
      this.#onBody(key, peer ? peer.routing : [identity], peer, frame[0] as number, frame.subarray(1), true);
      return;
    }
    const routed = splitRouted(msg);
    if (typeof routed === "string") {
      // Answer on the peer's identity alone: without a delimiter nothing else is trustworthy.
      if (msg[0] && msg[0].length > 0) this.#send([msg[0]], protocolErrorFrame(`malformed ZeroMQ message: ${routed}`));
      return;
    }
    const { routing, body } = routed;
    let peer = routing.length === 1 ? this.#lastPeer(routing[0] as Buffer) : undefined;
    const key = peer ? peer.key : peerKey(routing);
    peer ??= this.#peers.get(key);
    const payload = body[body.length - 1] as Buffer;
    const first = body.length === 2 ? (body[0] as Buffer) : undefined;
    this.#onBody(key, routing, peer, first?.length === 1 ? (first[0] as number) : first, payload, false);
  }

  /**
   * A batch `0x00 ‖ tag ‖ entries` (frames.ts): each entry as if it came
   * alone as `[identity, tag ‖ entry]`. From a peer without a session it
   * counts as one message (the knock, or a call during the challenge) of its
   * whole length, so a batch adds nothing to what an unauthenticated peer
   * can do. Should the session end while the entries are taken (a goodbye
   * cannot be among them), the rest are dropped.
   */
  #onBatch(key: string, routing: Buffer[], peer: Peer | undefined, frame: Buffer): void {
    const tag = frame[1] as number;
    if (!peer && (this.#authkey || this.#pending.has(key))) {
      this.#onBody(key, routing, peer, tag, frame.subarray(1), true);
      return;
    }
    if (helloForTag(tag) === undefined) {
      this.#send(routing, protocolErrorFrame(`a batch (first byte 0) whose hello tag ${tag} is unknown (docs/protocol.md, 5.4, lists the tags); send the hello itself instead`));
      return;
    }
    const entries = splitBatch(frame, 2);
    if (typeof entries === "string") {
      this.#send(routing, protocolErrorFrame(`malformed batch: ${entries} (docs/protocol.md, 5.4); none of its entries was taken`));
      return;
    }
    const first = this.#onBody(key, routing, peer, tag, entries[0] as Buffer, true);
    if (first === undefined) return;
    first.batch = true;
    const conn = first.conn;
    for (let i = 1; i < entries.length; i++) {
      if (first.conn !== conn || conn === undefined || conn.closed) return;
      (conn as PeerConnection).deliver(entries[i] as Buffer);
    }
  }

  /**
   * The most recently active peer when `identity` is its whole routing
   * stack: a byte compare, cheaper than making the map key (a string) for
   * every message of a peer that sends many in a row.
   */
  #lastPeer(identity: Buffer): Peer | undefined {
    const last = this.#lastTouched;
    if (last === undefined || last.routing.length !== 1) return undefined;
    const known = last.routing[0] as Buffer;
    if (known.length !== identity.length) return undefined;
    for (let i = 0; i < known.length; i++) if (known[i] !== identity[i]) return undefined;
    return last;
  }

  /**
   * One message of the peer `key` (`peer`, when it has a session):
   * `hello` is the hello frame before `payload`, or the tag byte standing
   * for one, or undefined for a one-frame body; `compact`: it came in the
   * compact form. Returns the peer when the payload reached its session.
   */
  #onBody(key: string, routing: Buffer[], peer: Peer | undefined, hello: Buffer | number | undefined, payload: Buffer, compact: boolean): Peer | undefined {
    const bye = hello === undefined && payload.length === 0;
    let lone: ReturnType<typeof decodeHello>;
    if (!peer) {
      const challenged = this.#pending.get(key);
      if (challenged) {
        // Forgotten at once: the peer's next message is a new knock, whatever the challenge's promise does later.
        if (bye || hello !== undefined) this.#forget(challenged, new RpcError("AUTH_FAILED", "the peer left or sent a call during the authkey challenge"));
        else {
          const mailbox = challenged.handshake as Mailbox;
          mailbox.push(payload);
          // A message that failed the challenge ends it now, not when the challenge's promise settles: the
          // peer's next message, even one taken in this same turn, is a new knock and gets its own answer.
          if (mailbox.failed) this.#forget(challenged, new RpcError("AUTH_FAILED", "the peer failed the authkey challenge"));
        }
        return undefined;
      }
      if (bye) return undefined; // goodbye from a peer we no longer (or never) knew
      if (this.#closing) {
        if (this.#sayGoodbye) this.#send(routing, EMPTY);
        return undefined;
      }
      if (this.#authkey) {
        // This first message is the knock, whatever it holds; its length counts the tag too.
        this.#knock(key, routing, payload.length + (compact ? 1 : 0), this.#authkey);
        return undefined;
      }
      peer = this.#addPeer(key, routing);
    } else {
      this.#touch(peer);
      if (bye) {
        this.#forget(peer, peerClosed());
        return undefined;
      }
    }
    if (hello !== undefined) {
      if (typeof hello === "number") {
        const tagged = helloForTag(hello);
        if (!tagged) {
          const why = compact
            ? `malformed ZeroMQ message: no empty delimiter frame, and the frame's first byte ${hello} is not a hello tag (docs/protocol.md, 5.4); put the empty delimiter first`
            : `unknown hello tag ${hello} (docs/protocol.md, 5.4, lists the tags); send the hello itself instead`;
          this.#send(routing, protocolErrorFrame(why));
          return undefined;
        }
        hello = tagged;
      }
      // The common case is the same hello as last time: the same table entry (a tag), or a byte compare, no parse.
      const current = peer.conn?.hello;
      if (current !== hello && !current?.equals(hello)) {
        if (!decodeHello(hello)) {
          this.#send(routing, protocolErrorFrame("with two frames after the delimiter, the first must be a hello or a hello tag"));
          return undefined;
        }
        this.#openSession(peer, hello, true);
      }
      // A peer that sends compact messages takes compact replies.
      if (compact) peer.compact = true;
    } else if ((lone = decodeHello(payload))) {
      // A hello on its own starts a session, replacing any earlier one. A direct peer (no broker hop) may also send compact messages.
      const offer = this.#acceptTags && (lone as { tags?: unknown }).tags === 1 ? (routing.length === 1 ? 2 : 1) : 0;
      this.#openSession(peer, sharedHello(payload), false, offer);
      (peer.conn as PeerConnection).deliver(payload);
      return peer;
    } else if (!peer.conn) {
      this.#openSession(peer, undefined, false); // no hello: version 1 with json
    }
    (peer.conn as PeerConnection).deliver(payload);
    return peer;
  }

  /** A new peer with a session (no authkey), or one that just passed the challenge. */
  #addPeer(key: string, routing: Buffer[]): Peer {
    const peer = this.#newPeer(key, routing);
    this.#admit(peer);
    return peer;
  }

  #newPeer(key: string, routing: Buffer[]): Peer {
    const link = (routing[0] as Buffer).toString("latin1");
    const peer: Peer = { key, link, routing, conn: undefined, handshake: undefined, lastActive: Date.now(), compact: false, batch: false, out: undefined, outCount: 0, outBytes: 0 };
    let onLink = this.#links.get(link);
    if (!onLink) this.#links.set(link, (onLink = new Set()));
    onLink.add(peer);
    return peer;
  }

  /** Into the table of sessions; past `maxPeers` the least recently active session goes. */
  #admit(peer: Peer): void {
    while (this.#peers.size >= this.#maxPeers) {
      const oldest = this.#peers.values().next().value as Peer;
      this.#forget(oldest, new RpcError("CONNECTION_CLOSED", `dropped: more than ${this.#maxPeers} peers (maxPeers)`));
    }
    peer.lastActive = Date.now();
    this.#peers.set(peer.key, peer);
    this.#lastTouched = peer;
  }

  /**
   * Start a session for `peer`; `quiet`: the hello came before a payload and
   * was answered elsewhere; `offer`: the answer accepts hello tags (1), and
   * compact messages too (2).
   */
  #openSession(peer: Peer, hello: Buffer | undefined, quiet: boolean, offer: 0 | 1 | 2 = 0): void {
    if (peer.conn) {
      const old = peer.conn;
      this.#byConn.delete(old);
      old.ended(new RpcError("CONNECTION_CLOSED", "the peer started a new session"));
    }
    const conn = new PeerConnection(this, peerName(peer.routing), hello, quiet, offer);
    peer.conn = conn;
    this.#byConn.set(conn, peer);
    if (quiet && hello) conn.deliver(hello);
    this.#accept(conn);
  }

  /**
   * A new peer's first message on a server with an authkey: start the
   * challenge. The knock's content is not kept, but like every message
   * before authentication it may be at most MAX_HANDSHAKE_MESSAGE bytes; a
   * longer one is answered `#FAILURE#` and leaves nothing behind. What an
   * unauthenticated peer can make the server hold is its entry in
   * `#pending` (bounded overall and per connection) and a mailbox of at most
   * four such messages.
   */
  #knock(key: string, routing: Buffer[], length: number, authkey: Uint8Array): void {
    if (length > MAX_HANDSHAKE_MESSAGE) {
      this.#send(routing, REFUSED);
      this.#onHandshakeError?.(
        new RpcError("AUTH_FAILED", `a message of ${length} bytes before authentication (at most ${MAX_HANDSHAKE_MESSAGE}); authenticate first`),
        peerName(routing),
      );
      return;
    }
    const peer = this.#newPeer(key, routing);
    // The link's set is in arrival order, so its first peer in the challenge is its oldest one.
    let onLink = 0;
    let oldest: Peer | undefined;
    for (const other of this.#links.get(peer.link) as Set<Peer>) {
      if (!other.handshake) continue;
      oldest ??= other;
      onLink++;
    }
    if (oldest && onLink >= MAX_PENDING_PER_CONNECTION) {
      this.#forget(oldest, new RpcError("AUTH_FAILED", `more than ${MAX_PENDING_PER_CONNECTION} authkey challenges at once on one ZeroMQ connection`));
    }
    if (this.#pending.size >= MAX_PENDING) {
      this.#forget(this.#pending.values().next().value as Peer, new RpcError("AUTH_FAILED", `more than ${MAX_PENDING} authkey challenges at once`));
    }
    const mailbox = new Mailbox((msg) => this.#send(peer.routing, msg), MAX_HANDSHAKE_MESSAGE);
    peer.handshake = mailbox;
    this.#pending.set(key, peer);
    serverHandshake(mailbox, authkey, { hmac: nodeHmac, refuseLegacyMd5: this.#refuseLegacyMd5, timeout: this.#handshakeTimeout }).then(
      () => {
        if (this.#pending.get(peer.key) !== peer || peer.handshake !== mailbox) return;
        this.#pending.delete(peer.key);
        peer.handshake = undefined;
        this.#admit(peer);
        this.#send(peer.routing, READY);
      },
      (err: unknown) => {
        const e = err instanceof RpcError ? err : new RpcError("AUTH_FAILED", String(err), { cause: err });
        mailbox.fail(e);
        if (this.#pending.get(peer.key) === peer && peer.handshake === mailbox) {
          this.#remove(peer);
          this.#closeSocketWhenIdle();
        }
        this.#onHandshakeError?.(e, peerName(peer.routing));
      },
    );
  }

  // ---- peer table ----------------------------------------------------

  #touch(peer: Peer): void {
    peer.lastActive = Date.now();
    // Re-insert so that the map's order is least recently active first (already last: nothing to move).
    if (this.#lastTouched === peer) return;
    this.#lastTouched = peer;
    this.#peers.delete(peer.key);
    this.#peers.set(peer.key, peer);
  }

  /**
   * ZeroMQ connected or disconnected the connection known by `identity`
   * (ZMQ_ROUTER_NOTIFY). Either way every session that arrived on an earlier
   * connection with this identity is over: on a disconnect its calls are
   * aborted at once, and on a connect a newcomer that reuses a departed
   * peer's routing id (any peer may choose its own) inherits nothing, not
   * its authentication nor its calls. libzmq refuses a second connection
   * with an identity in use and delivers everything the old one sent before
   * the new one's first message, so the events cannot be overtaken. A peer
   * that sends a lone empty frame looks the same and only ends its own sessions.
   */
  #connectionEvent(identity: Buffer): void {
    const onLink = this.#links.get(identity.toString("latin1"));
    if (!onLink) return;
    for (const peer of [...onLink]) this.#forget(peer, new RpcError("CONNECTION_CLOSED", "the peer's ZeroMQ connection ended"));
  }

  /** Take the peer out of the tables. */
  #remove(peer: Peer): void {
    if (peer.handshake) {
      if (this.#pending.get(peer.key) === peer) this.#pending.delete(peer.key);
    } else if (this.#peers.get(peer.key) === peer) {
      this.#peers.delete(peer.key);
    }
    const onLink = this.#links.get(peer.link);
    if (onLink?.delete(peer) && onLink.size === 0) this.#links.delete(peer.link);
    if (this.#lastTouched === peer) this.#lastTouched = undefined;
    // Replies still waiting for the end of the tick go nowhere: a newcomer that takes over the identity must not get them.
    peer.outCount = 0;
    peer.outBytes = 0;
    peer.out = undefined;
  }

  /** End the peer's session (or challenge) without a goodbye: it left, expired or was evicted. */
  #forget(peer: Peer, reason: Error): void {
    this.#remove(peer);
    peer.handshake?.fail(reason);
    peer.handshake = undefined;
    const conn = peer.conn;
    if (conn) {
      peer.conn = undefined;
      this.#byConn.delete(conn);
      conn.ended(reason);
    }
    this.#closeSocketWhenIdle();
  }

  #expire(): void {
    const limit = Date.now() - this.#idleTimeout;
    for (const peer of this.#peers.values()) {
      if (peer.lastActive > limit) break; // least recently active first: the rest are younger
      this.#forget(peer, new RpcError("CONNECTION_CLOSED", `idle for more than ${this.#idleTimeout} ms (peerIdleTimeout)`));
    }
  }

  // ---- sending and closing ------------------------------------------

  #send(routing: readonly Buffer[], payload: Uint8Array): boolean {
    if (this.#socketClosed) return false;
    if (this.#outPeers.length > 0) this.#flushOut(); // in order: replies written before go first
    let parts: (Buffer | Uint8Array)[];
    if (routing.length === 1) {
      parts = [routing[0] as Buffer, EMPTY, payload];
    } else {
      parts = routing.slice();
      parts.push(EMPTY, payload);
    }
    this.#queue.push(parts);
    return true;
  }

  /** Send every peer's waiting replies. */
  #flushOut(): void {
    const peers = this.#outPeers;
    if (peers.length === 0) return;
    this.#outPeers = [];
    for (const peer of peers) this.#flushPeer(peer);
  }

  /** Send the peer's waiting replies: one alone as `[identity, payload]`, more as `[identity, 0x00, entries]`. */
  #flushPeer(peer: Peer): void {
    const count = peer.outCount;
    const out = peer.out;
    if (count === 0 || out === undefined) return;
    peer.outCount = 0;
    peer.outBytes = 0;
    if (!this.#socketClosed) {
      const identity = peer.routing[0] as Buffer;
      this.#queue.push(count === 1 ? [identity, out[0] as Uint8Array] : [identity, BATCH_FRAME, encodeBatch([], out, count)]);
    }
    // Keep the array (no allocation per tick), not the payloads.
    for (let i = 0; i < count; i++) out[i] = EMPTY;
  }

  #closeSocketWhenIdle(): void {
    if (!this.#closing || this.#socketClosed || this.#peers.size > 0 || this.#pending.size > 0) return;
    this.#socketClosed = true;
    // Goodbyes still waiting in the send queue go first (a ROUTER never blocks, so normally there are none).
    const sock = this.#sock;
    const queue = this.#queue;
    if (queue.idle) {
      queue.close();
      sock.close(); // queued goodbyes still leave within the linger time
    } else {
      void queue.flushed().then(() => {
        queue.close();
        sock.close();
      });
    }
    // ZeroMQ leaves an ipc socket file behind on close (only unbind removes it); a closed server should not.
    if (this.#ipcPath) rmSync(this.#ipcPath, { force: true });
    this.#releaseZap?.();
    this.#wakeReader?.();
  }
}

/**
 * Turn on ZMQ_ROUTER_NOTIFY. The zeromq package builds libzmq with its draft
 * API but declares no setter for this option; without it a departed peer's
 * routing id could be reused to take over its authenticated session.
 */
function enableRouterNotify(sock: Router): void {
  const native = sock as unknown as { setInt32Option?: (option: number, value: number) => void };
  try {
    if (typeof native.setInt32Option !== "function") throw new Error("no setInt32Option");
    native.setInt32Option(ZMQ_ROUTER_NOTIFY, NOTIFY_CONNECT_AND_DISCONNECT);
  } catch (err) {
    throw new RpcError("MISSING_DEPENDENCY", `this build of the zeromq package lacks ZMQ_ROUTER_NOTIFY (libzmq's draft API), which a wirecall server needs to end sessions with their connections; install the zeromq package's own prebuilt libzmq`, { cause: err });
  }
}

function handshakeErrorHook(options: ZmqOptions): ZmqOptions["onHandshakeError"] {
  return typeof options.onHandshakeError === "function" ? options.onHandshakeError : undefined;
}
