/**
 * The bounds and envelope kinds of a connection's reference and stream
 * tables. The tables themselves (./ref-tables.ts, with the stream producer
 * and consumer) are loaded by src/refs/load.ts when first needed, so that
 * naming these constants does not put them in a page's first chunk.
 */

/** Envelope kinds added by references and streams. */
export const RefKind = { RefCall: 5, Release: 6, Keep: 7, Item: 8, Credit: 9, End: 10, Fail: 11, Stop: 12 } as const;

export { DEFAULT_STREAM_WINDOW } from "./stream-window.js";
/** References one frame may carry. */
export const MAX_REFS_PER_FRAME = 1024;
/**
 * Exports (streams, callbacks, `ref()` objects sent) alive at once on one
 * connection. Those a peer never reads, stops or releases live until it
 * closes; this bounds what a peer that asks and never lets go can hold.
 */
export const MAX_EXPORTS = 4096;
/**
 * Streams this side produces alive at once on one connection (within
 * MAX_EXPORTS). A stream holds its source (a suspended generator, the
 * handler's call) until it ends: about 10 KiB each, so this is what an
 * unread-stream flood can cost a connection. gRPC's servers allow 100 to
 * 250 concurrent streams per connection by default.
 */
export const MAX_STREAMS = 256;
