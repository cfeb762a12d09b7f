/**
 * What a session asks of tracing and metrics, as types only: the seam
 * (./telemetry.ts) and the OpenTelemetry implementation it loads (./otel.ts)
 * both name them, and neither imports the other.
 */
import type { CallContext } from "../call-types.js";
import type { Meta } from "../meta/meta.js";

/** What `telemetry` takes in `connect()` and `serve()` options. */
export interface TelemetryOptions {
  /** An OpenTelemetry TracerProvider; default the global one (`trace.getTracerProvider()`). */
  tracerProvider?: unknown;
  /** An OpenTelemetry MeterProvider; default the global one (`metrics.getMeterProvider()`). */
  meterProvider?: unknown;
}

/** A call in flight, as telemetry follows it. */
export interface CallSpan {
  /** The call settled; `err` undefined on success. */
  end(err: unknown): void;
}

/** A call being served: its handler runs inside the span's context. */
export interface ServerSpan extends CallSpan {
  run<R>(fn: () => R): R;
  /** Nothing to propagate (no SDK): the handler need not find its call through the async context. */
  readonly plain?: boolean;
}

/** The loaded implementation; sessions hold one per client or server. */
export interface Telemetry {
  readonly brand: "wirecall.telemetry";
  /**
   * A call is about to be sent. Returns the metadata to send (with the W3C
   * trace context added when `headers` says the peer takes metadata) and its span.
   */
  client(name: string, meta: Meta | undefined, parent: CallContext | undefined, headers: boolean): { meta: Meta | undefined; span: CallSpan };
  /** A call arrived and its handler is about to run. */
  server(ctx: CallContext): ServerSpan;
}

/** Where the connection goes (client) or listens (server), for `server.address` / `server.port`. */
export interface TelemetryTarget {
  address: string | undefined;
  port: number | undefined;
  transport: string;
}
