/**
 * The telemetry seam: what a session asks of tracing and metrics. The
 * OpenTelemetry implementation (./otel.ts) is loaded only when a server or
 * client asks for it (`{ telemetry: true }`), so without it nothing is
 * imported and each call pays one `undefined` check.
 */
import { RpcError } from "../errors.js";

export type { CallSpan, ServerSpan, Telemetry, TelemetryOptions, TelemetryTarget } from "./types.js";
import type { Telemetry, TelemetryOptions, TelemetryTarget } from "./types.js";

export function isTelemetry(v: unknown): v is Telemetry {
  return typeof v === "object" && v !== null && (v as { brand?: unknown }).brand === "wirecall.telemetry";
}

/**
 * Load the OpenTelemetry implementation. Its path is computed so that
 * bundlers leave it out of bundles that never ask for it.
 */
export async function loadTelemetry(options: true | TelemetryOptions, target: TelemetryTarget): Promise<Telemetry> {
  const here = "./otel.js";
  let mod: { createOtelTelemetry(o: TelemetryOptions, t: TelemetryTarget): Promise<Telemetry> };
  try {
    mod = (await import(/* @vite-ignore */ new URL(here, import.meta.url).href)) as typeof mod;
  } catch (err) {
    throw new RpcError("MISSING_DEPENDENCY", `telemetry could not be loaded here: ${(err as Error)?.message ?? err}`, { cause: err });
  }
  return mod.createOtelTelemetry(options === true ? {} : options, target);
}

/** What a client or server's telemetry says it talks to: the URL's host (or path) and port, and the transport. */
export function targetOf(url: URL, transport: string): TelemetryTarget {
  const port = url.port === "" ? undefined : Number(url.port);
  return { address: url.hostname || url.pathname || undefined, port, transport };
}
