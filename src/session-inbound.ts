/**
 * What a session does with frames a plain client never receives: calls,
 * one-way calls and cancels from the peer (handed to the serving half), and
 * reference and stream frames (kinds 5-12, and calls or answers that carry
 * a reference list). src/session.ts loads it with the first such frame
 * (holding that frame and those after it, reading paused, and replaying
 * them in order once it is here), so a page that only calls never fetches
 * it; a side that serves loads it ahead.
 */
import { isCallId } from "./call-id.js";
import type { OutgoingCall } from "./caller.js";
import { RpcError } from "./errors.js";
import { fromWireError } from "./errors-from-wire.js";
import type { CallHeader } from "./meta/header.js";
import type { MetaLimits } from "./meta/limits.js";
import { readHeader } from "./meta/read-header.js";
import { replaceRefs } from "./refs/walk.js";
import { Kind, validateEnvelope, type CallId, type Envelope } from "./protocol.js";
import type { RefSession } from "./refs/ref-tables.js";
import type { Serving } from "./serving.js";

/** How this module reaches into its session (src/session.ts fills it in). */
export interface InboundAccess<S> {
  refsOn(s: S): boolean;
  /** The serializer is json (Map, Set and non-finite numbers are refused rather than sent changed). */
  json(s: S): boolean;
  refs(s: S): RefSession | undefined;
  /** Make the reference tables now; false when their module is not loaded yet. */
  makeRefs(s: S): boolean;
  /** The serving half, made now when its module is loaded (`make`), else only when it exists. */
  serving(s: S, make: boolean): Serving<S> | undefined;
  withServing(s: S, then: (err?: Error) => void): void;
  /** Hold `frame` and those after it until what `wait` waits for (the reference tables by default) is here. */
  hold(s: S, frame: Uint8Array, wait?: (then: (err?: Error) => void) => void): void;
  pending(s: S): Map<CallId, OutgoingCall>;
  metaLimits(s: S): Readonly<MetaLimits>;
  /** An error answer without metadata (or one about the connection: id null). */
  errorReply(s: S, id: CallId | null, err: Error): void;
  /** The server's opening (undefined on the side that sent the hello). */
  opening(s: S): { undecodable(decoded: unknown, err: RpcError, frame: Uint8Array): void } | undefined;
}

/** What this module needs of the session itself. */
interface SessionLike {
  fail(err: Error): void;
}

/** Handle a decoded frame of one of those kinds (its call header, if any, already taken off). */
export function inbound<S extends SessionLike>(s: S, a: InboundAccess<S>, decoded: unknown[], frame: Uint8Array, header: unknown): void {
  // The commonest frame, the plain call `[0, id, name, args]` (no header, kwargs or reference list), checked as validateEnvelope checks it.
  if (header === undefined && decoded.length === 4 && decoded[0] === Kind.Call) {
    const id = decoded[1];
    const name = decoded[2];
    const args = decoded[3];
    if (isCallId(id) && typeof name === "string" && Array.isArray(args)) {
      const serving = a.serving(s, true);
      if (serving !== undefined) return serving.incoming(id, name, args, undefined, frame.byteLength);
    }
  }
  let msg: Envelope;
  let refList: unknown;
  try {
    if (a.refsOn(s)) {
      const kind = decoded[0] as unknown;
      const refFrame = typeof kind === "number" && kind >= 5 && kind <= 12;
      const listed = (kind === Kind.Call && decoded.length === 6) || (kind === Kind.Reply && decoded.length === 4);
      if (refFrame || listed) {
        // The first reference or stream either way: this frame and those after it wait for the tables.
        if (a.refs(s) === undefined && !a.makeRefs(s)) return a.hold(s, frame);
        if (refFrame) {
          const refs = a.refs(s) as RefSession;
          if (kind !== 5) return refs.frame(decoded);
          const serving = a.serving(s, true);
          if (serving === undefined) return a.hold(s, frame, (k) => a.withServing(s, k));
          // Calls on this side's references take the same in-flight slots and queue as calls.
          const rc = refs.parseRefCall(decoded);
          return serving.incoming(rc.id, rc.name, rc.args, undefined, frame.byteLength, rc.refs, rc.target, decoded);
        }
        refList = decoded.pop();
      }
    }
    msg = validateEnvelope(decoded);
  } catch (err) {
    undecodable(s, a, decoded, err, frame);
    return;
  }
  switch (msg[0]) {
    case Kind.Call:
    case Kind.Notify: {
      // The first call from the peer: it and the frames after it wait for the serving half.
      const serving = a.serving(s, true);
      if (serving === undefined) return a.hold(s, frame, (k) => a.withServing(s, k));
      if (msg[0] === Kind.Call) return serving.incoming(msg[1], msg[2], msg[3], msg[4] ?? undefined, frame.byteLength, refList, undefined, undefined, header);
      return serving.incoming(null, msg[1], msg[2], msg[3] ?? undefined, frame.byteLength, undefined, undefined, undefined, header);
    }
    case Kind.Cancel:
      return a.serving(s, false)?.cancel(msg[1]);
    case Kind.Reply: {
      // An answer that brings metadata, references or streams (one with none comes no further than the session).
      const pending = a.pending(s);
      const call = pending.get(msg[1]);
      if (!call) return; // timed out or cancelled: the late reply is dropped
      pending.delete(msg[1]);
      const refs = a.refs(s);
      if (header !== undefined && !answerMeta(s, a, call, header)) {
        refs?.endOutgoing(call);
        return;
      }
      if (refList !== undefined) {
        const r = refs as RefSession;
        try {
          // Streams the call sent live while the streams its answer brings are read (bidirectional streams).
          r.decode(msg as unknown as unknown[], refList, undefined, call, () => r.endOutgoing(call));
        } catch (err) {
          r.endOutgoing(call);
          call.reject(err);
          return;
        }
      } else {
        refs?.endOutgoing(call);
      }
      call.resolve(msg[2]);
      return;
    }
    case Kind.Error: {
      // An error answer with metadata.
      if (msg[1] === null) return a.errorReply(s, null, fromWireError(msg[2]));
      const pending = a.pending(s);
      const call = pending.get(msg[1]);
      if (!call) return;
      pending.delete(msg[1]);
      a.refs(s)?.endOutgoing(call);
      if (answerMeta(s, a, call, header)) call.reject(fromWireError(msg[2]));
      return;
    }
  }
}

/** Hand an answer's metadata to its call. False when the header was refused (the call is rejected). */
function answerMeta<S extends SessionLike>(s: S, a: InboundAccess<S>, call: OutgoingCall, header: unknown): boolean {
  let h: CallHeader;
  try {
    h = readHeader(header, a.metaLimits(s), `response metadata of '${call.name}'`);
  } catch (err) {
    call.reject(err);
    return false;
  }
  if (h.meta !== undefined) {
    try {
      call.onResponseMeta?.(h.meta);
    } catch (err) {
      call.reject(err);
      return false;
    }
  }
  return true;
}

/** A frame from the peer that could not be decoded (or is not a valid envelope). */
export function undecodable<S extends SessionLike>(s: S, a: InboundAccess<S>, decoded: unknown, err: unknown, frame: Uint8Array): void {
  const e = err instanceof RpcError ? err : new RpcError("PROTOCOL_ERROR", `undecodable frame: ${(err as Error)?.message ?? err}`);
  // A broken answer to one of our calls fails that call rather than leaving it to its timeout.
  if (Array.isArray(decoded) && (decoded[0] === Kind.Reply || decoded[0] === Kind.Error) && typeof decoded[1] === "number") {
    const pending = a.pending(s);
    const call = pending.get(decoded[1]);
    if (call) {
      pending.delete(decoded[1]);
      call.reject(new RpcError("PROTOCOL_ERROR", `malformed answer to '${call.name}': ${e.message}`));
      return;
    }
  }
  // The side that sent the hello gives up on a peer that sends garbage (docs/protocol.md, section 2).
  const opening = a.opening(s);
  if (opening === undefined) s.fail(new RpcError(e.code, `undecodable frame from the server: ${e.message}`));
  else opening.undecodable(decoded, e, frame);
}

/** How the encoding walk names where a value sits, by the envelope index it starts from. */
const ARG_NAMES: Record<number, string[]> = { 2: ["", "", "args", "kwargs"], 3: ["", "", "", "args", "kwargs"], 4: ["", "", "", "", "args", "kwargs"] };

/**
 * Encode the arguments of an outgoing call (from index `from` of `env`)
 * that hold references, streams or values only the walk handles: through
 * the reference tables when made, else the walk alone, which refuses what
 * cannot travel on this connection.
 */
export function encode<S extends SessionLike>(s: S, a: InboundAccess<S>, env: unknown[], from: number, call: OutgoingCall): unknown[] {
  const refs = a.refs(s);
  return refs !== undefined ? refs.encode(env, from, ARG_NAMES[from] as string[], a.json(s), call) : walk(env, from, a.json(s));
}

/** The walk alone (no reference tables): refuses references, streams, and under json what json would change. */
export function walk(env: unknown[], from: number, json: boolean): unknown[] {
  return replaceRefs(env, from, ARG_NAMES[from] as string[], undefined, json)[0];
}
