/**
 * Loads the reference and stream tables (./ref-tables.ts with the stream
 * producer and consumer) the first time a connection needs them: a page that
 * never passes a callback, `ref()` object or stream does not fetch them.
 * A Node server starts loading at once (no latency on its first use).
 */
import type { RefSession } from "./ref-tables.js";

type RefSessionClass = typeof RefSession;

let loaded: RefSessionClass | undefined;
let loading: Promise<RefSessionClass> | undefined;

/** The class once loaded; undefined before. */
export function refSessionClass(): RefSessionClass | undefined {
  return loaded;
}

/** Load the tables (once); a failed load may be retried. */
export function loadRefSession(): Promise<RefSessionClass> {
  return (loading ??= import("./ref-tables.js").then(
    (m) => (loaded = m.RefSession),
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  ));
}
