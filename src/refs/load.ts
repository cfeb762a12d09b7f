/**
 * Loads the reference and stream tables (./ref-tables.ts with the stream
 * producer and consumer) the first time a connection needs them: a page that
 * never passes a callback, `ref()` object or stream does not fetch them.
 * A Node server starts loading at once (no latency on its first use).
 */
import { Lazy } from "../lazy.js";
import type { tablesOf } from "./ref-tables.js";

/** What makes a session's tables, once loaded. */
export const REF_TABLES = new Lazy("streams and references (src/refs/ref-tables.js)", async () => (await import("./ref-tables.js")).tablesOf);

/** The tables' maker once loaded; undefined before. */
export function refSessionClass(): typeof tablesOf | undefined {
  return REF_TABLES.m;
}

/** Load the tables (once); a failed load may be retried. */
export function loadRefSession(): Promise<typeof tablesOf> {
  return REF_TABLES.load();
}
