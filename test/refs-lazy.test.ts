/**
 * The reference and stream tables load on first use (src/refs/load.ts): a
 * client that never passes or receives a callback, `ref()` object or stream
 * never loads src/refs/ref-tables.js, and the first one either way waits
 * for the module without losing or reordering what travels meanwhile.
 * Each client runs in a child process (a fresh module graph: this process's
 * servers load the tables ahead) against a real server here, over tcp and ws.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RPCHandler, serve, type CallContext, type Server } from "../src/index.js";
import { within } from "./support/async.js";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..");
const INDEX = pathToFileURL(join(dist, "src/index.js")).href;
const LOAD = pathToFileURL(join(dist, "src/refs/load.js")).href;
const WS = pathToFileURL(join(dist, "transports/ws/index.js")).href;

function handler(): RPCHandler {
  const h = new RPCHandler();
  h.register("add", (a: number, b: number) => a + b);
  h.register("count", async function* (n: number) {
    for (let i = 0; i < n; i++) yield i;
  });
  h.register("sum", async (items: AsyncIterable<number>) => {
    let t = 0;
    for await (const x of items) t += x;
    return t;
  });
  h.register("apply", async (fn: (x: number) => Promise<number>, x: number) => (await fn(x)) + 1);
  // The server's first frame of the references kinds: a call on the client's callback, during a call.
  h.register("callBack", async (ctx: CallContext, x: number) => ((await ctx.peer.twice(x)) as number) + 1, { context: true });
  return h;
}

/** Run `body` (an async function body with `p`, the proxy, and `loaded()`) in a child client; resolves with what it returns. */
async function inChild(url: string, serializer: string, body: string): Promise<unknown> {
  const src = `
    import { connect, RPCHandler } from ${JSON.stringify(INDEX)};
    import ${JSON.stringify(WS)};
    import { refSessionClass } from ${JSON.stringify(LOAD)};
    const loaded = () => refSessionClass() !== undefined;
    const mine = new RPCHandler();
    mine.register("twice", (x) => x * 2);
    const p = await connect(${JSON.stringify(url)}, { serializer: ${JSON.stringify(serializer)}, timeout: 20000, handler: mine });
    try {
      const out = await (async () => { ${body} })();
      process.stdout.write(JSON.stringify(out));
    } finally {
      await p.$close();
    }
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", src], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await within(new Promise<number | null>((resolve) => child.on("close", resolve)), 60_000, "the child client").catch((e: unknown) => {
    child.kill("SIGKILL");
    throw e;
  });
  assert.equal(code, 0, `child failed: ${err}`);
  return JSON.parse(out) as unknown;
}

for (const scheme of ["tcp", "ws"] as const) {
  for (const serializer of ["json", "msgpack"]) {
    describe(`${scheme} (${serializer}): reference tables load on first use`, () => {
      let server: Server;
      let url: string;
      before(async () => {
        server = await serve(handler(), scheme === "tcp" ? "tcp://127.0.0.1:0" : "ws://127.0.0.1:0/rpc");
        url = server.url;
      });
      after(() => server.close());

      it("plain calls never load them; a stream result loads them and calls made meanwhile keep their order", async () => {
        const r = await inChild(
          url,
          serializer,
          `
          const plain = [await p.add(2, 3), loaded()];
          // The answer carrying the stream is the first frame held; the answers after it wait behind it.
          const calls = [p.count(5), p.add(1, 1), p.add(2, 2), p.count(3)];
          const [s1, a, b, s2] = await Promise.all(calls);
          const items = [];
          for await (const x of s1) items.push(x);
          for await (const x of s2) items.push(x);
          return { plain, a, b, items, after: loaded() };
        `,
        );
        assert.deepEqual(r, { plain: [5, false], a: 2, b: 4, items: [0, 1, 2, 3, 4, 0, 1, 2], after: true });
      });

      it("a callback argument loads them; calls sent meanwhile go after it", async () => {
        const r = await inChild(
          url,
          serializer,
          `
          const before = loaded();
          const [x, y, z] = await Promise.all([p.apply((v) => v * 10, 4), p.add(5, 6), p.apply(async (v) => v - 1, 1)]);
          return { before, x, y, z, after: loaded() };
        `,
        );
        assert.deepEqual(r, { before: false, x: 41, y: 11, z: 1, after: true });
      });

      it("the server calling the client's handler needs none; a stream argument loads them", async () => {
        const r = await inChild(
          url,
          serializer,
          `
          const back = await p.callBack(20);
          const before = loaded();
          async function* gen() { yield 1; yield 2; yield 39; }
          const [total, three] = await Promise.all([p.sum(gen()), p.add(1, 2)]);
          return { back, before, total, three, after: loaded() };
        `,
        );
        assert.deepEqual(r, { back: 41, before: false, total: 42, three: 3, after: true });
      });
    });
  }
}
