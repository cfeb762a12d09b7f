/**
 * The in-process transport's options: none beyond the core's (an `authkey`
 * other than `false` passes the check and is refused by the transport,
 * which says why). Declaring the empty set makes every other name an
 * `INVALID_OPTION`, as on the other transports.
 */
import type { OptionSpecs, TransportOptions } from "../../src/transport-sdk.js";

/** What `serve("mem://...")` and `connect("mem://...")` check their options against (src/options.ts). */
export const MEM_OPTIONS: OptionSpecs = {};

// Exact option types for literal mem:// URLs (src/transport.ts).
declare module "../../src/transport.js" {
  interface ConnectOptionsByScheme {
    mem: TransportOptions;
  }
  interface ServeOptionsByScheme {
    mem: TransportOptions;
  }
}
