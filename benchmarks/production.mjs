#!/usr/bin/env node
/**
 * `npm run bench:production`: what the production features cost per call of
 * `add(1, 2)` over tcp, server and client in one child process per setting
 * (AsyncLocalStorage, once used, slows every promise of its process, so
 * settings never share one), settings interleaved over rounds so that a
 * loaded machine's drift hits them alike. Prints calls/s (32 in flight) and
 * CPU microseconds per call, the median of the rounds.
 *
 *   off          no telemetry, no metadata, no deadline
 *   meta         metadata on each call (an authorization entry), response metadata
 *   deadline     a timeout on each call: the header, the server's timer, the handler in AsyncLocalStorage
 *   otel-api     telemetry on, @opentelemetry/api installed, no SDK (the API's no-op providers)
 *   otel-sdk     telemetry on, the SDK's tracer and meter providers, spans batched to a no-op exporter
 *
 * Options: --rounds N (default 3), --calls N per measurement (default 20000).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const SETTINGS = ["off", "meta", "deadline", "otel-api", "otel-sdk"];
const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};

if (argv[0] === "--child") {
  await child(argv[1], Number(arg("--calls", 20000)));
} else {
  const rounds = Number(arg("--rounds", 3));
  const calls = arg("--calls", "20000");
  const results = Object.fromEntries(SETTINGS.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    for (const s of SETTINGS) {
      const out = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", s, "--calls", calls], { encoding: "utf8", timeout: 300_000 });
      if (out.status !== 0) throw new Error(`${s}: ${out.stderr || out.stdout}`);
      results[s].push(JSON.parse(out.stdout.trim().split("\n").pop()));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(results.off.map((x) => x.cpuUs));
  console.log(`add(1, 2) over tcp, server and client in one process, 32 calls in flight; median of ${rounds} rounds`);
  console.log("setting     calls/s   CPU us/call   vs off");
  for (const s of SETTINGS) {
    const rate = median(results[s].map((x) => x.rate));
    const cpu = median(results[s].map((x) => x.cpuUs));
    console.log(`${s.padEnd(10)} ${String(Math.round(rate)).padStart(8)}   ${cpu.toFixed(1).padStart(11)}   ${s === "off" ? "" : `${cpu >= base ? "+" : ""}${(((cpu - base) / base) * 100).toFixed(0)}%`}`);
  }
}

async function child(setting, n) {
  const w = await import("../dist/src/index.js");
  await import("../dist/transports/tcp/index.js");
  let telemetry;
  if (setting === "otel-api") telemetry = true;
  if (setting === "otel-sdk") {
    const { BasicTracerProvider, BatchSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
    const { MeterProvider, MetricReader } = await import("@opentelemetry/sdk-metrics");
    const noop = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
    class Reader extends MetricReader {
      async onForceFlush() {}
      async onShutdown() {}
    }
    telemetry = {
      tracerProvider: new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(noop)] }),
      meterProvider: new MeterProvider({ readers: [new Reader()] }),
    };
  }
  const h = new w.RPCHandler();
  if (setting === "meta") {
    h.register(
      "add",
      (ctx, a, b) => {
        if (ctx.meta.authorization === undefined) throw new Error("no metadata");
        ctx.setResponseMeta({ served: "1" });
        return a + b;
      },
      { context: true },
    );
  } else {
    h.register("add", (a, b) => a + b);
  }
  const server = await w.serve(h, "tcp://127.0.0.1:0", telemetry ? { telemetry } : {});
  let proxy = await w.connect(server.url, telemetry ? { telemetry } : {});
  if (setting === "meta") proxy = proxy.$with({ meta: { authorization: "Bearer 0123456789abcdef" }, onResponseMeta: () => {} });
  if (setting === "deadline") proxy = proxy.$with({ timeout: 30_000 });
  const run = async (count) => {
    let i = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (i++ < count) await proxy.add(1, 2);
      }),
    );
  };
  await run(Math.min(5000, n));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run(n);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await proxy.$close();
  await server.close();
  console.log(JSON.stringify({ rate: n / (ms / 1000), cpuUs: (c.user + c.system) / n }));
}
