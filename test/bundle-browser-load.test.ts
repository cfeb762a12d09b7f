/**
 * What a page really downloads, in a real headless Chromium: the size check
 * (bundle-size.test.ts) counts the first load from esbuild's metafile, and
 * that count is only honest if a plain page never fetches a lazy chunk
 * before its answer. Here the split page connects over ws to a wirecall
 * server in this process, calls `add`, and the test records every script
 * Chromium requested: exactly the first-load chunks, no lazy one. A page that
 * sends a callback must then fetch the reference tables, and one whose call
 * fails the error rebuild (the lazy chunks are reachable and work).
 *
 * Skips with a message where Chromium is missing, except under CI (CI=true).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { RPCHandler, serve, type Server } from "../src/index.js";
import "../transports/ws/index.js";
import { interopSkip } from "./support/interop.js";
import { splitPage } from "./support/page-bundle.js";

const CHROMIUM = "/usr/bin/chromium";
const missing = !existsSync(CHROMIUM);

// The page reads the server's URL from its own query string; what it does is what the size check bundles.
const PLAIN = `import { connect } from "wirecall/ws";
const api = await connect(new URLSearchParams(location.search).get("ws"), { serializer: "json", timeout: 5000 });
document.body.textContent = String(await api.add(2, 3));
`;
const CALLBACK = `import { connect } from "wirecall/ws";
const api = await connect(new URLSearchParams(location.search).get("ws"), { serializer: "json", timeout: 5000 });
document.body.textContent = String(await api.twice((x) => x * 10, 4));
`;

// A call that fails, then one that succeeds: the error is rebuilt (src/errors-from-wire.ts, a lazy chunk) with its code and message.
const FAILING = `import { connect } from "wirecall/ws";
const api = await connect(new URLSearchParams(location.search).get("ws"), { serializer: "json", timeout: 5000 });
const err = await api.fails("why").catch((e) => e);
document.body.textContent = [err.name, err.code, err.message, await api.add(1, 1)].join("|");
`;

describe("browser page: what a plain call downloads", { skip: interopSkip("the headless Chromium tests", missing && `${CHROMIUM} not found (apt-get install chromium)`) }, () => {
  let browser: Browser;
  let http: HttpServer;
  let rpc: Server;
  const dirs: string[] = [];
  let dir = "";
  let entry = "";

  before(async () => {
    // One static file server for whichever page directory the current test built.
    http = createServer((req, res) => {
      const name = (req.url ?? "/").split("?")[0]?.replace(/^\/+/, "") || "index.html";
      if (!/^[\w.-]+$/.test(name)) return void res.writeHead(404).end();
      try {
        const body = name === "index.html" ? `<!doctype html><script type="module" src="${entry}"></script>` : readFileSync(join(dir, name));
        res.writeHead(200, { "content-type": name.endsWith(".js") ? "text/javascript" : "text/html" }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const address = http.address();
    assert.ok(address && typeof address === "object");
    const origin = `http://127.0.0.1:${address.port}`;
    const h = new RPCHandler();
    h.register("add", (a: number, b: number) => a + b);
    h.register("twice", async (f: (x: number) => Promise<number>, x: number) => 2 * (await f(x)));
    h.register("fails", (why: string) => {
      throw new RangeError(`failed: ${why}`);
    });
    rpc = await serve(h, "ws://127.0.0.1:0/rpc", { allowedOrigins: [origin] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  after(async () => {
    await browser?.close();
    await rpc?.close();
    await new Promise((r) => (http ? http.close(r) : r(undefined)));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Build `page` split into a fresh directory, open it, wait for its text; return the scripts requested and the first-load chunk names. */
  async function load(page: string): Promise<{ text: string; fetched: string[]; firstLoad: string[] }> {
    dir = mkdtempSync(join(tmpdir(), "wirecall-page-"));
    dirs.push(dir);
    const split = await splitPage(page, dir, true);
    entry = split.initialFiles[0]?.split("/").pop() as string;
    const tab = await browser.newPage();
    const fetched: string[] = [];
    const errors: string[] = [];
    tab.on("request", (r) => {
      const path = new URL(r.url()).pathname;
      if (path.endsWith(".js")) fetched.push(path.slice(1));
    });
    tab.on("pageerror", (e) => errors.push(e.message));
    try {
      const address = http.address();
      assert.ok(address && typeof address === "object");
      await tab.goto(`http://127.0.0.1:${address.port}/?ws=${encodeURIComponent(rpc.url)}`);
      await tab.waitForFunction(() => document.body.textContent !== "", undefined, { timeout: 20_000 }).catch((e: unknown) => {
        throw new Error(`the page did not answer: ${errors.join("; ") || String(e)}`);
      });
      return { text: (await tab.textContent("body")) ?? "", fetched: fetched.sort(), firstLoad: split.initialFiles.map((f) => f.split("/").pop() as string).sort() };
    } finally {
      await tab.close();
    }
  }

  it("connects and calls with the first-load chunks only", async () => {
    const { text, fetched, firstLoad } = await load(PLAIN);
    assert.equal(text, "5");
    assert.deepEqual(fetched, firstLoad, "a plain connect and call fetched a chunk outside the first load the size check counts");
  });

  it("rebuilds an error answer with a lazily fetched chunk, then goes on calling", async () => {
    const { text, fetched, firstLoad } = await load(FAILING);
    assert.equal(text, "RangeError|REMOTE_ERROR|failed: why|2");
    const extra = fetched.filter((f) => !firstLoad.includes(f));
    assert.ok(extra.length > 0, "an error answer fetched no lazy chunk (the error rebuild is in the first load again?)");
  });

  it("fetches the reference tables when the page sends a callback", async () => {
    const { text, fetched, firstLoad } = await load(CALLBACK);
    assert.equal(text, "80");
    const extra = fetched.filter((f) => !firstLoad.includes(f));
    assert.ok(extra.length > 0, "sending a callback fetched no lazy chunk");
  });
});
