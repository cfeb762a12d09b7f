/**
 * The browser client in a real headless Chromium (Debian's /usr/bin/chromium
 * driven by playwright-core): the documented example page and server run as
 * written, then the page drives more calls (authkey over WebCrypto, text and
 * binary frames, remote errors, refused origins) against servers in this
 * process. Also checks that the browser build pulls in no Node-only module
 * and that docs/ws.md still shows the example files verbatim.
 *
 * Skips with a message where Chromium is missing, except under CI (CI=true),
 * where a missing browser is a failure: .ci/run installs it.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { RPCHandler, serve, type Server } from "../src/index.js";
import "../transports/ws/index.js";
import { interopSkip } from "./support/interop.js";

const CHROMIUM = "/usr/bin/chromium";
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const fixtures = join(root, "test/fixtures/ws");

interface BundleBuilder {
  buildBrowserBundle(outfile?: string): Promise<{ outfile: string; inputs: string[] }>;
}

describe("ws: browser build", () => {
  it("bundles without ws, node:* or zeromq", async () => {
    const { buildBrowserBundle } = (await import(pathToFileURL(join(root, "scripts/build-browser.mjs")).href)) as BundleBuilder;
    // Throws when a Node-only module would be bundled.
    const { outfile, inputs } = await buildBrowserBundle();
    assert.ok(inputs.includes("transports/ws/client-browser.ts"));
    assert.ok(!inputs.some((p) => p.includes("node_modules/ws/") || p.includes("client-node") || p.includes("server.ts")), inputs.join("\n"));
    assert.ok(existsSync(outfile));
  });

  it("resolves `wirecall/ws` to the browser entry under the browser condition", async () => {
    const result = await build({
      stdin: { contents: 'import { connect } from "wirecall/ws";\nexport { connect };\n', resolveDir: root, sourcefile: "app.js" },
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.includes("dist/transports/ws/browser.js"), inputs.join("\n"));
    assert.ok(!inputs.some((p) => p.includes("node_modules/ws/") || p === "dist/transports/ws/index.js"), inputs.join("\n"));
    const text = result.outputFiles[0]?.text ?? "";
    assert.doesNotMatch(text, /require\(\s*["'](ws|zeromq|node:[^"']*)["']\s*\)|from\s*["'](ws|zeromq|node:[^"']*)["']/);
  });

  it("docs/ws.md shows the example page and server exactly as tested", () => {
    const doc = readFileSync(join(root, "docs/ws.md"), "utf8");
    for (const file of ["index.html", "server.mjs"]) {
      const text = readFileSync(join(fixtures, file), "utf8");
      assert.ok(doc.includes(text), `docs/ws.md must contain test/fixtures/ws/${file} verbatim`);
    }
  });
});

const missing = !existsSync(CHROMIUM);

describe("ws: in headless Chromium", { skip: interopSkip("the headless Chromium tests", missing && `${CHROMIUM} not found (apt-get install chromium)`) }, () => {
  let browser: Browser;
  let page: Page;
  let example: ChildProcess;
  let pageUrl: string;
  const servers: Server[] = [];

  before(async () => {
    const { buildBrowserBundle } = (await import(pathToFileURL(join(root, "scripts/build-browser.mjs")).href)) as BundleBuilder;
    await buildBrowserBundle();
    example = spawn(process.execPath, [join(fixtures, "server.mjs")], { cwd: root, env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "inherit"] });
    pageUrl = await new Promise<string>((resolveUrl, reject) => {
      let out = "";
      example.stdout?.setEncoding("utf8");
      example.stdout?.on("data", (chunk: string) => {
        out += chunk;
        const m = /open (http:\/\/\S+)/.exec(out);
        if (m?.[1]) resolveUrl(m[1]);
      });
      example.once("exit", (code) => reject(new Error(`the example server exited with code ${code}`)));
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    for (const s of servers) await s.close();
    if (example && example.exitCode === null) {
      const exited = new Promise((r) => example.once("exit", r));
      example.kill();
      await exited;
    }
  });

  it("runs the documented example: calls, a remote error rethrown, results in the DOM", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(pageUrl);
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "done", undefined, { timeout: 20_000 }).catch((e: unknown) => {
      throw new Error(`the page did not finish: ${errors.join("; ") || String(e)}`);
    });
    assert.equal(await page.textContent("#sum"), "5");
    assert.equal(await page.textContent("#error"), "RangeError DIVIDE_BY_ZERO: division by zero");
    assert.deepEqual(errors, []);
  });

  it("authenticates with WebCrypto, carries text and binary frames, rethrows errors, reports refusals", async () => {
    const origin = new URL(pageUrl).origin;
    const h = new RPCHandler();
    h.register("echo", (v: unknown) => v);
    h.register("fail", () => {
      throw Object.assign(new TypeError("bad input"), { code: "E_BAD" });
    });
    const authed = await serve(h, "ws://127.0.0.1:0/rpc", { authkey: "browser-secret", allowedOrigins: [origin] });
    const sameOriginOnly = await serve(h, "ws://127.0.0.1:0/rpc");
    servers.push(authed, sameOriginOnly);

    const r = await page.evaluate(
      async ({ authedUrl, refusedUrl }) => {
        const spec = "/wirecall-ws.js";
        const wc = await import(spec);
        const out: Record<string, unknown> = {};
        const code = async (p: Promise<unknown>): Promise<string> => p.then(() => "resolved", (e: { code?: string }) => String(e?.code));
        for (const serializer of ["json", "superjson", "msgpack"]) {
          const p = await wc.connect(authedUrl, { authkey: "browser-secret", serializer });
          const big = "é".repeat(512 * 1024);
          out[`${serializer}:big`] = ((await p.echo(big)) as string) === big;
          out[`${serializer}:obj`] = await p.echo({ a: [1, "two", null], b: { c: true } });
          if (serializer === "msgpack") out.bytes = Array.from((await p.echo(new Uint8Array([0, 1, 254, 255]))) as Uint8Array);
          try {
            await p.fail();
          } catch (e) {
            const err = e as { name: string; message: string; code: string };
            out[`${serializer}:error`] = { name: err.name, message: err.message, code: err.code, remote: e instanceof wc.RemoteError };
          }
          await p.$close();
          out[`${serializer}:afterClose`] = await code(p.echo(1));
        }
        out.wrongKey = await code(wc.connect(authedUrl, { authkey: "wrong" }));
        out.noKey = await code(wc.connect(authedUrl));
        out.otherOrigin = await code(wc.connect(refusedUrl));
        out.listen = await code(wc.serve(new wc.RPCHandler(), "ws://127.0.0.1:0/"));
        return out;
      },
      { authedUrl: authed.url, refusedUrl: sameOriginOnly.url },
    );
    for (const s of ["json", "superjson", "msgpack"]) {
      assert.equal(r[`${s}:big`], true, s);
      assert.deepEqual(r[`${s}:obj`], { a: [1, "two", null], b: { c: true } }, s);
      assert.deepEqual(r[`${s}:error`], { name: "TypeError", message: "bad input", code: "E_BAD", remote: true }, s);
      assert.equal(r[`${s}:afterClose`], "CONNECTION_CLOSED", s);
    }
    assert.deepEqual(r.bytes, [0, 1, 254, 255]);
    assert.equal(r.wrongKey, "AUTH_FAILED");
    assert.equal(r.noKey, "AUTH_FAILED");
    assert.equal(r.otherOrigin, "CONNECT_FAILED");
    assert.equal(r.listen, "INVALID_URL");
  });

  it("streams from a Node server with flow control, calls a page callback, stops on break", async () => {
    const origin = new URL(pageUrl).origin;
    const h = new RPCHandler();
    let stopped!: () => void;
    const finallyRan = new Promise<void>((r) => (stopped = r));
    h.register("count", async function* (n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    h.register("forever", async function* () {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        stopped();
      }
    });
    h.register("thrice", async (cb: (n: number) => Promise<number>) => [await cb(1), await cb(2), await cb(3)]);
    const s = await serve(h, "ws://127.0.0.1:0/rpc", { allowedOrigins: [origin] });
    servers.push(s);
    const r = await page.evaluate(
      async ({ url }) => {
        const spec = "/wirecall-ws.js";
        const wc = await import(spec);
        const p = await wc.connect(url, { serializer: "msgpack", streamWindow: 16 });
        let next = 0;
        let inOrder = true;
        for await (const x of await p.count(5000)) if (x !== next++) inOrder = false;
        const calls: number[] = [];
        const got = await p.thrice(async (n: number) => (calls.push(n), n * 2));
        let seen = 0;
        for await (const _ of await p.forever()) if (++seen === 3) break;
        await p.$close();
        return { next, inOrder, calls, got, seen };
      },
      { url: s.url },
    );
    assert.deepEqual(r, { next: 5000, inOrder: true, calls: [1, 2, 3], got: [2, 4, 6], seen: 3 });
    await finallyRan;
  });
});
