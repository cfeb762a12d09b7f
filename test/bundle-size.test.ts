/**
 * What a browser page pays for wirecall: `connect` from `wirecall/ws` with
 * the JSON serializer, bundled and minified by esbuild, carries no Python
 * recipe, pickle, XML-RPC or Node built-in code (those live in protocols/
 * and transports/, which the core never imports), loads msgpackr and
 * superjson only when a serializer names them, and (not yet: see the todo
 * below) stays within 40 KB.
 */
import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const LIMIT = 40 * 1024;

const PAGE = `import { connect } from "wirecall/ws";
const api = await connect("wss://example.com/rpc", { serializer: "json", timeout: 5000 });
document.body.textContent = String(await api.add(2, 3));
`;

/**
 * The page bundled as bundlers ship pages (Vite, Rollup and webpack split
 * at import(); esbuild with `splitting`): `initial` is what the page loads
 * before its first call (its chunk and the chunks that imports statically),
 * `inputs` the modules in those, `lazy` the modules only import() reaches.
 */
async function splitBundle(): Promise<{ initial: number; inputs: string[]; lazy: string[] }> {
  const result = await build({
    stdin: { contents: PAGE, resolveDir: root, sourcefile: "page.js" },
    bundle: true,
    write: false,
    splitting: true,
    outdir: join(root, "dist/.bundle-size"),
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    metafile: true,
    logLevel: "silent",
  });
  const outputs = result.metafile.outputs;
  // Chunks loaded by import() are entry points too: the page's own is the one built from page.js.
  const entry = Object.keys(outputs).find((k) => outputs[k]?.entryPoint === "page.js");
  assert.ok(entry, "no entry chunk");
  const seen = new Set<string>();
  const stack = [entry];
  let initial = 0;
  const inputs: string[] = [];
  while (stack.length > 0) {
    const k = stack.pop() as string;
    const out = outputs[k];
    if (seen.has(k) || !out) continue;
    seen.add(k);
    initial += out.bytes;
    inputs.push(...Object.keys(out.inputs));
    for (const i of out.imports) if (i.kind === "import-statement") stack.push(i.path);
  }
  const lazy = Object.entries(outputs)
    .filter(([k]) => !seen.has(k))
    .flatMap(([, o]) => Object.keys(o.inputs));
  return { initial, inputs, lazy };
}

describe("browser bundle of connect from wirecall/ws", () => {
  it("holds no pickle, XML-RPC or Node code", async () => {
    const result = await build({
      stdin: { contents: PAGE, resolveDir: root, sourcefile: "page.js" },
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      metafile: true,
      logLevel: "silent",
      // A Node-only module reached from the page must fail the build, not be stubbed.
      external: [],
    });
    const text = result.outputFiles[0]?.text ?? "";
    const bytes = Buffer.byteLength(text);
    const inputs = Object.keys(result.metafile.inputs);
    const forbidden = inputs.filter((p) => /protocols\/|\/python\/|\/xmlrpc\/|pickle|node_modules\/(ws|zeromq)\/|^node:|transports\/(tcp|zmq|memory)\//.test(p));
    assert.deepEqual(forbidden, [], `the page bundle pulls in: ${forbidden.join(", ")}`);
    assert.ok(inputs.includes("dist/transports/ws/browser.js"), inputs.join("\n"));
    // The codes' names are in the core's error table; the codecs' own words are not.
    for (const word of [/\bPyTuple\b/, /\bdecodePickle\b/, /methodResponse/, /\bGLOBAL\b|\bREDUCE\b/, /multicall/i]) {
      assert.doesNotMatch(text, word, `bundle text matches ${word}`);
    }
    assert.doesNotMatch(text, /require\(\s*["'](?:ws|zeromq|node:[^"']*)["']\s*\)|from\s*["'](?:ws|zeromq|node:[^"']*)["']|import\(\s*["'](?:ws|zeromq|node:[^"']*)["']\s*\)/);
    // A bundle that is suspiciously small lost the client: the checks above would pass vacuously.
    assert.ok(bytes > 4 * 1024, `bundle is only ${bytes} bytes`);
  });

  it("loads msgpackr and superjson only when a serializer names them", async () => {
    const { initial, inputs, lazy } = await splitBundle();
    const eager = inputs.filter((p) => /node_modules\/(msgpackr|superjson)\/|serializers\/(msgpack|superjson)/.test(p));
    assert.deepEqual(eager, [], `a JSON-only page loads: ${eager.join(", ")}`);
    // They are still reachable, in chunks of their own loaded by import().
    assert.ok(lazy.some((p) => /node_modules\/msgpackr\//.test(p)), "msgpackr is in no lazy chunk");
    assert.ok(lazy.some((p) => /node_modules\/superjson\//.test(p)), "superjson is in no lazy chunk");
    assert.ok(initial > 4 * 1024, `initial load is only ${initial} bytes`);
  });

  it("loads the reference and stream tables only when the first reference or stream travels", async () => {
    const { inputs, lazy } = await splitBundle();
    const eager = inputs.filter((p) => /src\/refs\/ref-tables|src\/streams\//.test(p));
    assert.deepEqual(eager, [], `a page that makes plain calls loads: ${eager.join(", ")}`);
    for (const m of ["dist/src/refs/ref-tables.js", "dist/src/streams/consumer.js", "dist/src/streams/producer.js"]) {
      assert.ok(lazy.includes(m), `${m} is in no lazy chunk`);
    }
  });

  // Each of these loads when the page first uses it: a call from the server
  // (or a handler given to connect), an authkey, a retry policy.
  it("loads the serving half, the HMAC handshake and retries only when used", async () => {
    const { inputs, lazy } = await splitBundle();
    const modules = ["dist/src/serving.js", "dist/src/inbound-queue.js", "dist/src/auth/handshake.js", "dist/src/retry-loop.js"];
    const eager = inputs.filter((p) => modules.includes(p));
    assert.deepEqual(eager, [], `a page that only calls, without an authkey or retries, loads: ${eager.join(", ")}`);
    for (const m of modules) assert.ok(lazy.includes(m), `${m} is in no lazy chunk`);
  });

  // The first chunk is ~63 KB (December 2026, was ~81): streams and references,
  // the serving half, the HMAC handshake and retries load on first use. What
  // a page pays before its first call is now the client session itself
  // (~14 KB, its server-side opening included), errors and options (~8 KB),
  // the proxy, caller and facade (~8 KB), the JSON serializer with its decode
  // budgets (~7 KB), naming's URL resolvers (~3 KB) and the ws transport
  // (~8 KB). Marked todo (reported, not failing) until it is 40 KB.
  it("is at most 40 KB minified", { todo: "the client session, options, errors, caller and the JSON serializer are ~63 KB before any lazy chunk" }, async () => {
    const { initial } = await splitBundle();
    assert.ok(initial <= LIMIT, `initial load is ${initial} bytes, over ${LIMIT}`);
  });
});
