/**
 * Retries of idempotent calls (./retry-loop.ts), loaded by the first call
 * that has a retry policy: a page that never retries does not fetch them.
 */
import type { CallerDefaults } from "./caller.js";
import type { CallOptions, RetryPolicy } from "./call-types.js";
import { currentCall } from "./deadline.js";
import type * as RetryLoop from "./retry-loop.js";

let loading: Promise<typeof RetryLoop> | undefined;

/** Run `name` until it settles with something other than a retryable error, attempts run out, or its deadline passes. */
export async function retrying(
  proxy: RetryLoop.Attempts,
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
  options: CallOptions | undefined,
  defaults: CallerDefaults,
  policy: RetryPolicy,
): Promise<unknown> {
  // The call being served is read now, before the await: a CallStorage need not follow it.
  if (options?.parent === undefined && defaults.parent === undefined) options = { ...options, parent: currentCall() ?? null };
  const loop = await (loading ??= import("./retry-loop.js").catch((err: unknown) => {
    loading = undefined;
    throw err;
  }));
  return loop.retrying(proxy, name, args, kwargs, options, defaults, policy);
}
