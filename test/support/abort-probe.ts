/**
 * A handler method that runs until its call is aborted (the caller went
 * away, a deadline passed...), and the two moments a test waits on: that it
 * started, and the reason its `ctx.signal` gave.
 */
import type { CallContext, RPCHandler } from "../../src/index.js";
import { Deferred } from "./async.js";

/** Register `name` on `h`: it never settles on its own, and rejects with the abort reason. */
export function registerAbortProbe(h: RPCHandler, name = "wait"): { started: Promise<void>; aborted: Promise<unknown> } {
  const started = new Deferred();
  const aborted = new Deferred<unknown>();
  h.register(
    name,
    (ctx: CallContext) =>
      new Promise((_, reject) => {
        started.resolve();
        ctx.signal.addEventListener("abort", () => {
          aborted.resolve(ctx.signal.reason);
          reject(ctx.signal.reason);
        });
      }),
    { context: true },
  );
  return { started: started.promise, aborted: aborted.promise };
}
