/**
 * `startCall` for clients that are never in a page (the Python recipe,
 * XML-RPC over HTTP, Pyro4, NATS, calls on references): every option
 * (./call-start.ts) is here from the start, so no call waits for it.
 */
import { makeStart } from "./call-start.js";
import { PARTS } from "./caller.js";

/**
 * Start a call: applies the timeout and signal (per call, else the
 * defaults), metadata, the deadline (its own, and the one it inherits from
 * the call being served) and the idempotency key, and returns the call and
 * the promise the caller awaits. A signal that is already aborted, metadata
 * that is refused, a parent that ended or a deadline that passed reject at
 * once and `call` is undefined: nothing must be sent.
 */
export const startCall = makeStart(PARTS);
