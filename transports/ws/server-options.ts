/**
 * What `serve("ws://...")` checks its options against, apart from
 * ./options.ts so that the browser client, which only connects, never
 * bundles the server's table.
 */
import { option, urlOption, type OptionSpecs } from "../../src/options.js";
import { DEFAULT_LIMITS } from "../../src/transport-sdk.js";
import type { ReadLimits } from "../read-budget.js";
import { WS_COMMON_OPTIONS, numberOption, type WsServerOptions } from "./options.js";

/** What `serve("ws://...")` checks its options against: one entry per {@link WsServerOptions} field. */
export const WS_SERVER_OPTIONS: OptionSpecs = {
  ...WS_COMMON_OPTIONS,
  allowedOrigins: option("string", "object"),
  maxBufferedBytes: urlOption("number"),
  frameTimeout: urlOption("number"),
  minReadRate: urlOption("number"),
  path: urlOption("string"),
  allowRemote: urlOption("boolean"),
  cert: option("string", "bytes", "object"),
  key: option("string", "bytes", "object"),
  ca: option("string", "bytes", "object"),
  pfx: option("string", "bytes"),
  passphrase: option("string"),
  onHandshakeError: option("function"),
  httpServer: option("object"),
};

/** The server's budget for unfinished messages. */
export function readLimitsOf(o: WsServerOptions): ReadLimits {
  return {
    maxBufferedBytes: numberOption(o.maxBufferedBytes, DEFAULT_LIMITS.maxBufferedBytes),
    frameTimeout: numberOption(o.frameTimeout, DEFAULT_LIMITS.frameTimeout),
    minReadRate: numberOption(o.minReadRate, DEFAULT_LIMITS.minReadRate),
  };
}

