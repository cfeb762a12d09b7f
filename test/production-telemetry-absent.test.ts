/**
 * Telemetry costs nothing when it is not asked for: a process that serves
 * and calls without `telemetry` never resolves `@opentelemetry/api` (nor
 * the telemetry module); one that asks for it while the package cannot be
 * found gets MISSING_DEPENDENCY naming the package. Each case runs in a
 * child process whose module resolution is watched by a loader hook.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Logs every specifier that names OpenTelemetry or the telemetry module; with HIDE_OTEL, @opentelemetry/api cannot be found. */
const HOOKS = `
export async function resolve(specifier, context, next) {
  if (/opentelemetry|telemetry\\/otel/.test(specifier)) process.stderr.write("RESOLVE " + specifier + "\\n");
  if (process.env.HIDE_OTEL && specifier === "@opentelemetry/api") {
    const err = new Error("Cannot find package '@opentelemetry/api'");
    err.code = "ERR_MODULE_NOT_FOUND";
    throw err;
  }
  return next(specifier, context);
}`;
const REGISTER = `import { register } from "node:module"; register("data:text/javascript,${encodeURIComponent(HOOKS)}");`;

function run(program: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`, "--input-type=module", "-e", program], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (err += d));
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

const CALLS = `
import { RPCHandler, serve, connect } from "./dist/src/index.js";
import "./dist/transports/tcp/index.js";
const h = new RPCHandler().register("add", (a, b) => a + b);
const server = await serve(h, "tcp://127.0.0.1:0");
const proxy = await connect(server.url, { meta: { a: "b" }, timeout: 5000 });
console.log(await proxy.add(2, 3));
await proxy.$close();
await server.close();
`;

describe("telemetry when it is not asked for, or not installed", () => {
  it("without the option nothing of OpenTelemetry or the telemetry module is resolved", async () => {
    const r = await run(CALLS);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "5");
    assert.doesNotMatch(r.err, /RESOLVE/);
  });

  it("the hook sees the import when telemetry is asked for (so the test above can fail)", async () => {
    const r = await run(CALLS.replace('serve(h, "tcp://127.0.0.1:0")', 'serve(h, "tcp://127.0.0.1:0", { telemetry: true })'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /RESOLVE .*telemetry\/otel\.js/);
    assert.match(r.err, /RESOLVE @opentelemetry\/api/);
  });

  it("asked for without the package: MISSING_DEPENDENCY naming @opentelemetry/api", async () => {
    const r = await run(
      `import { RPCHandler, serve } from "./dist/src/index.js";
       import "./dist/transports/tcp/index.js";
       try { await serve(new RPCHandler(), "tcp://127.0.0.1:0", { telemetry: true }); console.log("served"); }
       catch (e) { console.log(e.code, e.message); }`,
      { HIDE_OTEL: "1" },
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^MISSING_DEPENDENCY .*npm install @opentelemetry\/api/);
  });
});
