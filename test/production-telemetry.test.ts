/**
 * OpenTelemetry over tcp, ws and zmq, exported through the SDK's in-memory
 * exporters: client and server spans with the RPC semantic conventions'
 * attributes, parent/child across two services (A -> B -> C) through the
 * W3C trace context in the call metadata, error status, and the
 * rpc.client.duration / rpc.server.duration histograms with the error code.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { MeterProvider, MetricReader, type HistogramMetricData } from "@opentelemetry/sdk-metrics";
import { RPCHandler, RpcError, connect, type CallContext } from "../src/index.js";
import { TRANSPORTS, start } from "./production-support.js";

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function setup(): { exporter: InMemorySpanExporter; reader: TestReader; telemetry: { tracerProvider: BasicTracerProvider; meterProvider: MeterProvider } } {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return { exporter, reader, telemetry: { tracerProvider, meterProvider } };
}

function find(spans: ReadableSpan[], name: string, kind: SpanKind): ReadableSpan {
  const s = spans.filter((x) => x.name === name && x.kind === kind);
  assert.equal(s.length, 1, `one ${SpanKind[kind]} span '${name}' in ${spans.map((x) => `${SpanKind[x.kind]}:${x.name}`).join(", ")}`);
  return s[0] as ReadableSpan;
}

function parentOf(child: ReadableSpan, parent: ReadableSpan): void {
  assert.equal(child.spanContext().traceId, parent.spanContext().traceId, `${child.name} in the trace of ${parent.name}`);
  assert.equal(child.parentSpanContext?.spanId, parent.spanContext().spanId, `${SpanKind[child.kind]} ${child.name} is a child of ${SpanKind[parent.kind]} ${parent.name}`);
}

for (const t of TRANSPORTS) {
  describe(`${t.name}: OpenTelemetry`, () => {
    it("A -> B -> C: one trace, parent/child across two services, RPC attributes, error status, duration histograms", async () => {
      const { exporter, reader, telemetry } = setup();
      const C = await start(
        new RPCHandler()
          .register("stock.reserve", (ctx: CallContext, n: number) => ({ n, traceparent: ctx.meta.traceparent }), { context: true })
          .register("stock.fail", () => {
            throw new RpcError("SHUTTING_DOWN", "no stock service now");
          }),
        t.url(),
        { telemetry },
      );
      const toC = await connect(C.url, { telemetry });
      const B = await start(
        new RPCHandler().register("order.place", async (n: number) => {
          // No parent passed: the call being served is found (AsyncLocalStorage) and its span is the parent.
          const r = (await toC.stock.reserve(n)) as { n: number; traceparent: string };
          await toC.stock.fail().catch(() => undefined);
          return r;
        }),
        t.url(),
        { telemetry },
      );
      const a = await connect(B.url, { telemetry });
      try {
        const r = (await a.order.place(3)) as { n: number; traceparent: string };
        assert.equal(r.n, 3);
        await assert.rejects(a.order.missing(), (e: RpcError) => e.code === "METHOD_NOT_FOUND");
        const spans = exporter.getFinishedSpans();
        const aClient = find(spans, "order.place", SpanKind.CLIENT);
        const bServer = find(spans, "order.place", SpanKind.SERVER);
        const bClient = find(spans, "stock.reserve", SpanKind.CLIENT);
        const cServer = find(spans, "stock.reserve", SpanKind.SERVER);
        assert.equal(aClient.parentSpanContext, undefined);
        parentOf(bServer, aClient);
        parentOf(bClient, bServer);
        parentOf(cServer, bClient);
        // The W3C trace context C received is B's client span.
        assert.match(r.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
        assert.equal(r.traceparent, `00-${bClient.spanContext().traceId}-${bClient.spanContext().spanId}-01`);
        for (const s of [aClient, bServer, bClient, cServer]) {
          assert.equal(s.attributes["rpc.system"], "wirecall");
          assert.equal(s.status.code, SpanStatusCode.UNSET);
        }
        assert.equal(aClient.attributes["rpc.service"], "order");
        assert.equal(aClient.attributes["rpc.method"], "place");
        assert.equal(cServer.attributes["rpc.service"], "stock");
        assert.equal(cServer.attributes["rpc.method"], "reserve");
        const port = Number(new URL(B.url.replace(/^zmq\+/, "")).port);
        assert.equal(aClient.attributes["server.address"], "127.0.0.1");
        assert.equal(aClient.attributes["server.port"], port);
        // Errors: status ERROR and the code, on both sides of the failing call.
        for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
          const f = find(spans, "stock.fail", kind);
          assert.equal(f.status.code, SpanStatusCode.ERROR);
          assert.equal(f.attributes["rpc.wirecall.error_code"], "SHUTTING_DOWN");
          parentOf(f, kind === SpanKind.CLIENT ? bServer : find(spans, "stock.fail", SpanKind.CLIENT));
        }
        assert.equal(find(spans, "order.missing", SpanKind.CLIENT).attributes["error.type"], "METHOD_NOT_FOUND");

        const { resourceMetrics } = await reader.collect();
        const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
        const hist = (name: string): HistogramMetricData => {
          const m = metrics.find((x) => x.descriptor.name === name);
          assert.ok(m, `${name} recorded (have ${metrics.map((x) => x.descriptor.name).join(", ")})`);
          assert.equal(m.descriptor.unit, "ms");
          return m as HistogramMetricData;
        };
        const client = hist("rpc.client.duration");
        const server = hist("rpc.server.duration");
        const point = (m: HistogramMetricData, method: string, code?: string) =>
          m.dataPoints.find((p) => p.attributes["rpc.method"] === method && p.attributes["rpc.wirecall.error_code"] === code);
        assert.equal(point(client, "place")?.value.count, 1);
        assert.equal(point(server, "reserve")?.value.count, 1);
        assert.equal(point(server, "fail", "SHUTTING_DOWN")?.value.count, 1);
        assert.equal(point(client, "fail", "SHUTTING_DOWN")?.value.count, 1);
        assert.equal(point(client, "missing", "METHOD_NOT_FOUND")?.value.count, 1);
        assert.ok((point(client, "place")?.value.sum ?? -1) >= 0);
      } finally {
        await a.$close();
        await toC.$close();
      }
    });
  });
}

describe("OpenTelemetry: a caller without telemetry and a server with it", () => {
  it("the server's span is a root (no trace context came), and nothing fails", async () => {
    const { exporter, telemetry } = setup();
    const server = await start(new RPCHandler().register("ping", () => "pong"), "tcp://127.0.0.1:0", { telemetry });
    const plain = await connect(server.url);
    try {
      assert.equal(await plain.ping(), "pong");
      const s = find(exporter.getFinishedSpans(), "ping", SpanKind.SERVER);
      assert.equal(s.parentSpanContext, undefined);
      assert.equal(s.attributes["rpc.method"], "ping");
      assert.equal(s.attributes["rpc.service"], undefined);
    } finally {
      await plain.$close();
    }
  });
});
