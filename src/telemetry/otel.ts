/**
 * OpenTelemetry for wirecall calls: client and server spans following the
 * RPC semantic conventions, W3C trace context carried in call metadata
 * (`traceparent`, `tracestate`), and the `rpc.client.duration` /
 * `rpc.server.duration` histograms. `@opentelemetry/api` is an optional
 * peer, imported here only, and this file only when telemetry is asked for.
 */
import type * as Api from "@opentelemetry/api";
import type { CallContext } from "../call-types.js";
import { RpcError } from "../errors.js";
import type { Meta } from "../meta/meta.js";
import type { CallSpan, ServerSpan, Telemetry, TelemetryOptions, TelemetryTarget } from "./types.js";

const API = "@opentelemetry/api";
const NAME = "wirecall";

/** W3C traceparent, version 00: 2-32-16-2 lowercase hex digits. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span of the call a ServerCall is serving, so calls its handler makes are its children. */
const SPANS = new WeakMap<object, Api.Context>();

export async function createOtelTelemetry(options: TelemetryOptions, target: TelemetryTarget): Promise<Telemetry> {
  let api: typeof Api;
  try {
    api = (await import(API)) as typeof Api;
  } catch (err) {
    throw new RpcError("MISSING_DEPENDENCY", `telemetry needs the package ${API}: npm install ${API}`, { cause: err });
  }
  const tracer = ((options.tracerProvider as Api.TracerProvider | undefined) ?? api.trace.getTracerProvider()).getTracer(NAME);
  const meter = ((options.meterProvider as Api.MeterProvider | undefined) ?? api.metrics.getMeterProvider()).getMeter(NAME);
  const clientDuration = meter.createHistogram("rpc.client.duration", { unit: "ms", description: "Duration of outbound wirecall calls" });
  const serverDuration = meter.createHistogram("rpc.server.duration", { unit: "ms", description: "Duration of inbound wirecall calls" });
  const base: Api.Attributes = { "rpc.system": NAME, "network.transport": target.transport };
  if (target.address !== undefined) base["server.address"] = target.address;
  if (target.port !== undefined) base["server.port"] = target.port;

  // One attributes object per method name, shared by its spans and records (bounded: names come from peers).
  const byName = new Map<string, Api.Attributes>();
  function attributes(name: string): Api.Attributes {
    let a = byName.get(name);
    if (a !== undefined) return a;
    const dot = name.lastIndexOf(".");
    a = { ...base, "rpc.method": dot < 0 ? name : name.slice(dot + 1) };
    if (dot > 0) a["rpc.service"] = name.slice(0, dot);
    if (byName.size < 1024) byName.set(name, a);
    return a;
  }

  function finish(span: Api.Span, histogram: Api.Histogram, attrs: Api.Attributes, start: number, err: unknown): void {
    const ms = performance.now() - start;
    if (err !== undefined) {
      const code = typeof (err as { code?: unknown })?.code === "string" ? ((err as { code: string }).code) : "REMOTE_ERROR";
      const message = (err as Error)?.message ?? String(err);
      span.setStatus({ code: api.SpanStatusCode.ERROR, message });
      span.setAttribute("rpc.wirecall.error_code", code);
      span.setAttribute("error.type", code);
      histogram.record(ms, { ...attrs, "rpc.wirecall.error_code": code, "error.type": code });
    } else {
      histogram.record(ms, attrs);
    }
    span.end();
  }

  return {
    brand: "wirecall.telemetry",

    client(name: string, meta: Meta | undefined, parent: CallContext | undefined, headers: boolean): { meta: Meta | undefined; span: CallSpan } {
      const attrs = attributes(name);
      // The active context when the application has a context manager; else the call being served.
      let ctx = api.context.active();
      if (api.trace.getSpan(ctx) === undefined && parent !== undefined) ctx = SPANS.get(parent) ?? ctx;
      const span = tracer.startSpan(name, { kind: api.SpanKind.CLIENT, attributes: attrs }, ctx);
      const start = performance.now();
      let out = meta;
      const sc = span.spanContext();
      if (headers && api.trace.isSpanContextValid(sc)) {
        const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, "0");
        out = { ...meta, traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}` };
        const state = sc.traceState?.serialize();
        if (state) out.tracestate = state;
      }
      return { meta: out, span: { end: (err) => finish(span, clientDuration, attrs, start, err) } };
    },

    server(call: CallContext): ServerSpan {
      const attrs = attributes(call.method);
      let ctx = api.ROOT_CONTEXT;
      const m = TRACEPARENT.exec(call.meta.traceparent ?? "");
      if (m && m[1] !== "00000000000000000000000000000000" && m[2] !== "0000000000000000") {
        const sc: Api.SpanContext = { traceId: m[1] as string, spanId: m[2] as string, traceFlags: parseInt(m[3] as string, 16) & 1, isRemote: true };
        const state = call.meta.tracestate;
        if (state !== undefined && api.createTraceState) sc.traceState = api.createTraceState(state);
        ctx = api.trace.setSpanContext(ctx, sc);
      }
      const span = tracer.startSpan(call.method, { kind: api.SpanKind.SERVER, attributes: attrs }, ctx);
      const start = performance.now();
      const end = (err: unknown): void => finish(span, serverDuration, attrs, start, err);
      // No SDK (or nothing to propagate): no context to enter, and the handler need not run in an async context.
      if (!span.isRecording() && !api.trace.isSpanContextValid(span.spanContext())) return { run: (fn) => fn(), end, plain: true };
      const active = api.trace.setSpan(ctx, span);
      SPANS.set(call, active);
      return { run: (fn) => api.context.with(active, fn), end };
    },
  };
}
