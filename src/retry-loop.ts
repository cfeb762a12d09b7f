/**
 * Retries of idempotent calls (loaded by ./retry.ts on first use): the same idempotency key on every attempt
 * (so a server that already ran the call answers with its first outcome),
 * exponential backoff with jitter, within the call's one deadline.
 */
import type { CallerDefaults } from "./caller.js";
import { newIdempotencyKey } from "./call-start.js";
import type { CallOptions, RetryPolicy } from "./call-types.js";
import { currentCall } from "./deadline.js";
import { RpcError } from "./errors.js";

const DEFAULT_CODES: readonly string[] = ["CONNECTION_CLOSED", "SHUTTING_DOWN"];

export interface Attempts {
  callOnce(name: string, args: unknown[], kwargs: Record<string, unknown> | undefined, options: CallOptions | undefined): Promise<unknown>;
  readonly closed: boolean;
}

/** Run `name` until it settles with something other than a retryable error, attempts run out, or its deadline passes. */
export async function retrying(
  proxy: Attempts,
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
  options: CallOptions | undefined,
  defaults: CallerDefaults,
  policy: RetryPolicy,
): Promise<unknown> {
  const idem = options?.idempotent ?? defaults.idempotent;
  const key = typeof idem === "string" ? idem : newIdempotencyKey();
  const attempts = Math.max(1, policy.attempts ?? 3);
  const codes = policy.codes ?? DEFAULT_CODES;
  const min = policy.minDelay ?? 50;
  const max = policy.maxDelay ?? 2000;
  // One deadline for every attempt: the call's timeout counts from now, not from each retry.
  const timeout = options?.timeout ?? defaults.timeout;
  let deadline = options?.deadline ?? defaults.deadline;
  if (timeout !== undefined && timeout > 0) deadline = Math.min(deadline ?? Infinity, Date.now() + timeout);
  const parent = options?.parent !== undefined ? options.parent : defaults.parent !== undefined ? defaults.parent : currentCall();
  const signal = options?.signal ?? defaults.signal;
  const each: CallOptions = { ...options, idempotent: key, timeout: 0, parent: parent ?? null };
  if (deadline !== undefined) each.deadline = deadline;
  for (let attempt = 1; ; attempt++) {
    try {
      return await proxy.callOnce(name, args, kwargs, each);
    } catch (err) {
      const code = err instanceof RpcError ? err.code : undefined;
      if (attempt >= attempts || code === undefined || !codes.includes(code) || proxy.closed || signal?.aborted) throw err;
      const delay = Math.min(max, min * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      if (deadline !== undefined && Date.now() + delay >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
