/**
 * What only `serve` uses of the option rules (src/options.ts): the options of
 * every server and the client part of a served URL's query string. Apart from
 * options.ts so that a page that only connects does not bundle them.
 */
import type { OptionSpecs } from "./transport.js";
import { option, specOf, urlOption } from "./options.js";

/** Options of every `serve`, whatever the transport. */
export const SERVE_OPTIONS: OptionSpecs = {
  maxInFlight: urlOption("number"),
  closeTimeout: urlOption("number"),
  idleTimeout: urlOption("number"),
  protocols: option("object"),
  handshakeTimeout: urlOption("number"),
  authkey: option("string", "bytes", "false"),
  maxFrameSize: urlOption("number"),
  // docs/production.md
  metaLimits: option("object"),
  onConnect: option("function"),
  onDisconnect: option("function"),
  idempotency: urlOption("boolean", "object"),
  telemetry: urlOption("boolean", "object"),
};

/**
 * The part of a served URL's query string its clients can use (names a
 * `connect` on the transport takes), for `server.url`: server-only options
 * (`closeTimeout`, `allowedOrigins`) would be refused by the client.
 */
export function clientQuery(url: URL, forClients: OptionSpecs | undefined): string {
  if (!forClients || url.search === "") return url.search;
  const kept = new URLSearchParams();
  for (const [k, v] of url.searchParams) {
    if (specOf(forClients, k)?.query) kept.append(k, v);
  }
  const q = kept.toString();
  return q === "" ? "" : `?${q}`;
}
