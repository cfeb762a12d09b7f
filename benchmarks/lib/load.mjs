/**
 * The two load shapes. Sequential: one call at a time, each timed into the
 * histogram. Pipelined: `depth` calls kept in flight, counting completions.
 * Both stop at a deadline or a call budget, whichever comes first.
 */
import { performance } from "node:perf_hooks";
import { createRecorder } from "./histogram.mjs";

export async function sequential(call, { seconds, maxCalls, minCalls = 0, maxSeconds = seconds }) {
  const rec = createRecorder();
  const start = performance.now();
  const end = start + seconds * 1000;
  const hardEnd = start + Math.max(seconds, maxSeconds) * 1000;
  let n = 0;
  let now = start;
  // Runs until `seconds` have passed and `minCalls` calls are done (the
  // warm-up asks for both), but never past `maxSeconds` or `maxCalls`.
  while ((now < end || n < minCalls) && now < hardEnd && n < maxCalls) {
    const t0 = now;
    await call();
    now = performance.now();
    rec.record((now - t0) * 1000);
    n++;
  }
  const secs = (now - start) / 1000;
  return { calls: n, secs, callsPerSec: n / secs, latencyUs: rec.summary() };
}

export async function pipelined(call, { seconds, maxCalls, depth }) {
  const start = performance.now();
  const end = start + seconds * 1000;
  let started = 0;
  let done = 0;
  async function lane() {
    while (started < maxCalls && performance.now() < end) {
      started++;
      await call();
      done++;
    }
  }
  await Promise.all(Array.from({ length: depth }, lane));
  const secs = (performance.now() - start) / 1000;
  return { calls: done, secs, callsPerSec: done / secs, depth };
}
