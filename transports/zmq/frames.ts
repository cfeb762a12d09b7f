/**
 * The multipart layout of the ZeroMQ transport (docs/protocol.md, section 5.4).
 *
 * As a ROUTER sees it, a message is `[routing..., "", body...]`: one or more
 * routing frames (the peer's identity, plus one per broker hop), the empty
 * delimiter of REQ/REP, then the body. The body is `[payload]`, or
 * `[hello, payload]` when the client repeats its hello so that any worker
 * behind a load-balancing broker can decode the payload without having seen
 * the first message, or `[tag, payload]` where the one-byte tag stands for
 * one of the hellos of {@link HELLO_TAGS} (negotiated: see there). An empty
 * payload is a goodbye: the session is over.
 *
 * Compact messages (negotiated, bound servers and direct DEALER peers only):
 * the ROUTER sees `[identity, tag ‖ payload]`, one frame after the identity
 * and no delimiter, where the frame's first byte is the tag; and the server
 * answers such a peer `[identity, payload]`. A two-frame message without a
 * delimiter meant nothing before (a malformed message), so it cannot be
 * mistaken for anything else, and like the tag it needs no session. Each
 * frame costs zeromq.js a native part on both sides (a buffer made, a
 * `zmq_msg` sent and received): the compact form halves the parts of an
 * `add`, which is most of what a call costs over ZeroMQ.
 *
 * Batches (negotiated like compact messages, which they extend): the
 * payloads a side writes in one tick leave as one ZeroMQ message instead of
 * one each, since each message costs a binding a native send and receive,
 * a readiness query and a promise, whatever its size. Up, one frame:
 * `0x00 ‖ tag ‖ entries`; down, two: `[0x00, entries]`; `entries` is each
 * payload as its length (unsigned LEB128, at most 3 bytes) then its bytes.
 */
import { RpcError, json, toWireError } from "../../src/transport-sdk.js";

export const EMPTY: Buffer = Buffer.alloc(0);
/** A client's first message when the server wants the authkey challenge: the server cannot deliver a challenge to a peer it has not heard from. */
export const KNOCK: Buffer = Buffer.from("#AUTH#");
/** The server's last handshake message: the challenge is over both ways and calls may flow (a REQ peer needs one reply per request anyway). */
export const READY: Buffer = Buffer.from("#WELCOME#");
/** The server's answer to a message too long to be a knock (over 256 bytes) from a peer it does not know: authenticate first. */
export const REFUSED: Buffer = Buffer.from("#FAILURE#");

/**
 * The hellos a one-byte tag frame may stand for (docs/protocol.md, 5.4):
 * tag `n` is entry `n - 1`, byte for byte. Append only: a tag never changes
 * meaning. A client offers tags by adding `"tags":1` to its hello; a bound
 * server that takes them says `"tags":1` in its answer, and from then on the
 * client sends `[tag, payload]` instead of `[hello, payload]` when its hello
 * is in this table. The tag is stateless (any server of this version decodes
 * it without having seen the hello), so a forgotten peer still gets a session.
 */
export const HELLO_TAGS: readonly Buffer[] = ["json", "msgpack", "superjson"].flatMap((s) =>
  ['"refs":1,"meta":1,', '"meta":1,', ""].map((extra) => Buffer.from(`{"wirecall":1,"serializer":"${s}",${extra}"tags":1}`)),
);

/** The tag frame for `hello`, or undefined when the hello has none. */
export function tagFor(hello: Uint8Array): Buffer | undefined {
  const i = HELLO_TAGS.findIndex((h) => h.equals(hello));
  return i < 0 ? undefined : Buffer.of(i + 1);
}

/** The entry of {@link HELLO_TAGS} equal to `hello` (so that later tags match it by identity), else `hello` itself. */
export function sharedHello(hello: Buffer): Buffer {
  return HELLO_TAGS.find((h) => h.equals(hello)) ?? hello;
}

/** The hello the tag byte `tag` stands for, or undefined for an unknown tag. */
export function helloForTag(tag: number): Buffer | undefined {
  return HELLO_TAGS[tag - 1];
}

/**
 * `hello` (JSON object text) with `"tags":1` added: offered by a client, or
 * accepted in a server's answer; with `compact`, the answer also grants
 * compact messages and batches (`"compact":1,"batch":1`).
 */
export function withTags(hello: Uint8Array, compact = false): Buffer {
  const text = Buffer.from(hello).toString("utf8").trimEnd();
  return Buffer.from(`${text.slice(0, -1)}${text.length > 2 ? "," : ""}"tags":1${compact ? ',"compact":1,"batch":1' : ""}}`);
}

/** The first byte of a batch frame from a client, and the one-byte first frame of a batch from a server: no hello tag is 0. */
export const BATCH = 0;
/** The first frame of a server's batch. */
export const BATCH_FRAME: Buffer = Buffer.of(BATCH);
/** The longest payload put into a batch (longer ones leave alone, uncopied); also the compact limit. */
export const BATCH_ENTRY_MAX = 2048;
/** A client's batch is sent once its entries reach this many bytes, without waiting for the end of the tick. */
export const BATCH_BYTES = 64 * 1024;
/**
 * ...or this many entries. A server takes a batch's entries one after the
 * other with nothing run in between, so a batch no longer than a session's
 * default in-flight limit (256) cannot by itself push it past what it may
 * hold while paused; between messages, as between calls sent one per
 * message, answers that are ready go out.
 */
export const BATCH_ENTRIES = 256;
/**
 * The most bytes of entries in a server's batch. A ROUTER holds up to
 * `sendHighWaterMark` messages for a peer that does not read them; kept
 * this small, batches of replies (to calls of a few bytes each) make those
 * messages no longer than a single compact reply can be.
 */
export const REPLY_BATCH_BYTES = BATCH_ENTRY_MAX;

/** Bytes of an entry of `n` bytes in a batch, its length prefix included. */
export function entrySize(n: number): number {
  return prefixLength(n) + n;
}

/** Bytes of an entry's length prefix. */
function prefixLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : 3;
}

/**
 * One batch buffer: `head` (the bytes in front: `0x00 ‖ tag` up, nothing
 * down) then each payload as an entry. Payloads are at most
 * {@link BATCH_ENTRY_MAX} bytes and never empty.
 */
export function encodeBatch(head: readonly number[], payloads: readonly Uint8Array[], count: number): Buffer {
  let size = head.length;
  for (let i = 0; i < count; i++) {
    const n = (payloads[i] as Uint8Array).length;
    size += prefixLength(n) + n;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const b of head) out[at++] = b;
  for (let i = 0; i < count; i++) {
    const p = payloads[i] as Uint8Array;
    let n = p.length;
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The entries of a batch, from byte `start` of `frame` on (views, no
 * copies), or what is wrong with it (then none is taken): an
 * entry that is empty (that would be a goodbye), whose length takes more
 * than 3 bytes or runs past the frame, or no entry at all. Time in
 * proportion to the entries, each at least two bytes.
 */
export function splitBatch(frame: Buffer, start: number): Buffer[] | string {
  const entries: Buffer[] = [];
  let at = start;
  while (at < frame.length) {
    let n = 0;
    let shift = 0;
    for (;;) {
      if (at >= frame.length) return "a batch entry's length runs past the frame";
      if (shift === 21) return "a batch entry's length takes more than 3 bytes";
      const b = frame[at++] as number;
      n |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) break;
    }
    if (n === 0) return "an empty batch entry (a goodbye is a message of its own)";
    if (n > frame.length - at) return `a batch entry of ${n} bytes runs past the frame`;
    entries.push(frame.subarray(at, at + n));
    at += n;
  }
  if (entries.length === 0) return "a batch with no entry";
  return entries;
}

/** Routing frames allowed before the delimiter: the peer identity plus a few broker hops. */
export const MAX_ROUTING_FRAMES = 4;
/** ZeroMQ routing ids are at most 255 bytes. */
const MAX_ROUTING_FRAME = 255;

export type Routed = { routing: Buffer[]; body: Buffer[] };

/** Split a ROUTER message at the empty delimiter, or say what is wrong with it. */
export function splitRouted(msg: readonly Buffer[]): Routed | string {
  let i = 1; // the first frame is the identity our ROUTER put there, never empty
  while (i < msg.length && (msg[i] as Buffer).length !== 0) i++;
  if (i >= msg.length) return "no empty delimiter frame before the payload";
  if (i > MAX_ROUTING_FRAMES) return `more than ${MAX_ROUTING_FRAMES} routing frames`;
  const routing = msg.slice(0, i);
  for (const f of routing) if (f.length > MAX_ROUTING_FRAME) return "routing frame longer than 255 bytes";
  const body = msg.slice(i + 1);
  if (body.length === 0) return "no payload frame after the delimiter";
  if (body.length > 2) return `${body.length} frames after the delimiter; expected [payload] or [hello, payload]`;
  return { routing, body };
}

/** A map key for a routing stack; length-prefixed so that no two stacks share a key. */
export function peerKey(routing: readonly Buffer[]): string {
  let key = "";
  for (const f of routing) key += String.fromCharCode(f.length) + f.toString("latin1");
  return key;
}

/** `peerKey([identity])`, for the common one-frame stack without the array. */
export function identityKey(identity: Buffer): string {
  return String.fromCharCode(identity.length) + identity.toString("latin1");
}

/** A readable name for a peer: its routing frames in hex. */
export function peerName(routing: readonly Buffer[]): string {
  return `zmq-peer:${routing.map((f) => f.toString("hex")).join("/")}`;
}

/**
 * A transport-level error for a message that never reached a session (wrong
 * frame count): always the JSON error envelope `[2, null, error]`, since no
 * serializer was agreed for it.
 */
export function protocolErrorFrame(message: string): Uint8Array {
  return json.encode([2, null, toWireError(new RpcError("PROTOCOL_ERROR", message))]);
}
