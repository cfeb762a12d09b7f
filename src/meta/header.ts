/**
 * The call header: one optional trailing element of calls, one-way calls,
 * replies and errors on connections whose hello negotiated `"meta": 1`
 * (docs/protocol.md, "Call headers"). A peer that did not negotiate it never
 * receives one, so older peers see the envelopes they always saw.
 *
 *   [0, id, name, args, kwargs|null, refs|null, header]   call
 *   [3, name, args, kwargs|null, header]                  one-way call
 *   [1, id, result, refs|null, header]                    reply
 *   [2, id, error, header]                                error
 *
 * header: {"meta"?: {string: string}, "timeout"?: ms, "key"?: string}
 *
 * Reading one (./read-header.ts) is apart: a client loads it when the first
 * answer with a header arrives.
 */
import type { Meta } from "./meta.js";

/** What a header carries. */
export interface CallHeader {
  /** Call or response metadata. */
  meta?: Meta;
  /** Calls: ms the caller still waits (its deadline, relative, so clocks need not agree). */
  timeout?: number;
  /** Calls: the idempotency key; a repeat within the server's window gets the first outcome. */
  key?: string;
}

/** Length an envelope of each kind has when it ends with a header. */
function headerAt(kind: unknown): number {
  return kind === 0 ? 6 : kind === 1 ? 4 : kind === 2 ? 3 : kind === 3 ? 4 : -1;
}

/**
 * Remove and return the header of a decoded envelope (and the `null` that
 * holds the reference list's place when there is none), or undefined.
 */
export function takeHeader(env: unknown[]): unknown {
  const at = headerAt(env[0]);
  if (at < 0 || env.length !== at + 1) return undefined;
  const h = env.pop();
  if ((at === 6 || at === 4) && env[at - 1] === null) env.pop();
  return h;
}

/** Append `header` to an encoded envelope, filling the optional places before it with null. */
export function putHeader(env: unknown[], header: CallHeader): unknown[] {
  const at = headerAt(env[0]);
  while (env.length < at) env.push(null);
  env.push(header);
  return env;
}
