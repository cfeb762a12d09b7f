/**
 * The client side of `system.multicall`: many calls in one HTTP round trip.
 */
import type { Caller } from "../../src/call-types.js";
import { invalid } from "./codec-error.js";
import { faultToError } from "./faults.js";
import type { Fault } from "./message.js";

/** One call in a batch: the method name followed by its positional arguments. */
export type BatchedCall = readonly [methodName: string, ...params: unknown[]];

/** Anything that can make a call: a `Caller`, or a facade from `connect()` (its `$caller`). */
export type CallerLike = Caller | { readonly $caller: Caller };

function callerOf(c: CallerLike): Caller {
  return "$caller" in c ? c.$caller : c;
}

/**
 * Send `calls` as one `system.multicall` and settle each like
 * `Promise.allSettled` does: `{status: "fulfilled", value}` or
 * `{status: "rejected", reason}` with the fault rebuilt as an error. A
 * failure of the batch itself (transport, or a server without multicall)
 * rejects the returned promise.
 */
export async function multicall(target: CallerLike, calls: readonly BatchedCall[]): Promise<PromiseSettledResult<unknown>[]> {
  const batch = calls.map(([methodName, ...params]) => ({ methodName, params }));
  const out = await callerOf(target).call("system.multicall", [batch]);
  if (!Array.isArray(out) || out.length !== calls.length) throw invalid("system.multicall answered with something other than one entry per call");
  return out.map((entry: unknown): PromiseSettledResult<unknown> => {
    if (Array.isArray(entry) && entry.length === 1) return { status: "fulfilled", value: entry[0] };
    if (typeof entry === "object" && entry !== null && typeof (entry as Fault).faultCode === "number") {
      const f = entry as Record<string, unknown>;
      const fault: Fault = { ...f, faultCode: f.faultCode as number, faultString: typeof f.faultString === "string" ? f.faultString : "" };
      return { status: "rejected", reason: faultToError(fault) };
    }
    return { status: "rejected", reason: invalid("a system.multicall entry is neither [result] nor a fault struct") };
  });
}
