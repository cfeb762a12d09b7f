/**
 * What a browser page pays for wirecall: `connect` from `wirecall/ws` with
 * the JSON serializer, bundled and minified by esbuild, carries no Python
 * recipe, pickle, XML-RPC or Node built-in code (those live in protocols/
 * and transports/, which the core never imports), loads msgpackr and
 * superjson only when a serializer names them, and stays within 40 KB.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "esbuild";
import { pageBuild, root, splitPage } from "./support/page-bundle.js";

const LIMIT = 40 * 1024;

const PAGE = `import { connect } from "wirecall/ws";
const api = await connect("wss://example.com/rpc", { serializer: "json", timeout: 5000 });
document.body.textContent = String(await api.add(2, 3));
`;

const splitBundle = () => splitPage(PAGE, join(root, "dist/.bundle-size"));

describe("browser bundle of connect from wirecall/ws", () => {
  it("holds no pickle, XML-RPC or Node code", async () => {
    const result = await build({
      ...pageBuild(PAGE),
      write: false,
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
    const { initial, eager: inputs, lazy } = await splitBundle();
    const eager = inputs.filter((p) => /node_modules\/(msgpackr|superjson)\/|serializers\/(msgpack|superjson)/.test(p));
    assert.deepEqual(eager, [], `a JSON-only page loads: ${eager.join(", ")}`);
    // They are still reachable, in chunks of their own loaded by import().
    assert.ok(lazy.some((p) => /node_modules\/msgpackr\//.test(p)), "msgpackr is in no lazy chunk");
    assert.ok(lazy.some((p) => /node_modules\/superjson\//.test(p)), "superjson is in no lazy chunk");
    assert.ok(initial > 4 * 1024, `initial load is only ${initial} bytes`);
  });

  it("loads the reference and stream tables only when the first reference or stream travels", async () => {
    const { eager: inputs, lazy } = await splitBundle();
    const eager = inputs.filter((p) => /src\/refs\/ref-tables|src\/streams\//.test(p));
    assert.deepEqual(eager, [], `a page that makes plain calls loads: ${eager.join(", ")}`);
    for (const m of ["dist/src/refs/ref-tables.js", "dist/src/streams/consumer.js", "dist/src/streams/producer.js"]) {
      assert.ok(lazy.includes(m), `${m} is in no lazy chunk`);
    }
  });

  // Each of these loads when the page first uses it: a call from the server
  // (or a handler given to connect), an authkey, a retry policy.
  it("loads the serving half, the HMAC handshake and retries only when used", async () => {
    const { eager: inputs, lazy } = await splitBundle();
    const modules = ["dist/src/serving.js", "dist/src/inbound-queue.js", "dist/src/auth/handshake.js", "dist/src/retry-loop.js"];
    const eager = inputs.filter((p) => modules.includes(p));
    assert.deepEqual(eager, [], `a page that only calls, without an authkey or retries, loads: ${eager.join(", ")}`);
    for (const m of modules) assert.ok(lazy.includes(m), `${m} is in no lazy chunk`);
  });

  // Only a peer that answers calls turns errors into their wire form, only a failed call rebuilds one, and
  // only a front-end's or another protocol's client needs the other connect path.
  it("loads the error encoder and the other clients' connect only when used", async () => {
    const { eager: inputs, lazy } = await splitBundle();
    const modules = ["dist/src/errors-to-wire.js", "dist/src/errors-from-wire.js", "dist/src/other-clients.js"];
    const eager = inputs.filter((p) => modules.includes(p));
    assert.deepEqual(eager, [], `a page that only calls loads: ${eager.join(", ")}`);
    for (const m of modules) assert.ok(lazy.includes(m), `${m} is in no lazy chunk`);
  });

  // A refused option's words (the typo suggestion), the query string's
  // options (this page's URL has none) and the loader of the built-in
  // transports (a page registers its own): only on failure, for a URL with
  // a query string, or a scheme no transport registered.
  it("loads the option refusal's words, the query reader and the built-in transports' loader only when used", async () => {
    const { eager: inputs, lazy } = await splitBundle();
    const modules = ["dist/src/option-errors.js", "dist/src/option-query.js", "dist/src/transport-builtins.js"];
    const eager = inputs.filter((p) => modules.includes(p));
    assert.deepEqual(eager, [], `a page that connects with good options loads: ${eager.join(", ")}`);
    for (const m of modules) assert.ok(lazy.includes(m), `${m} is in no lazy chunk`);
  });

  // The first chunk is ~39.6 KB (39,615 bytes, December 2026; was ~81, then
  // ~63, then 46.6, 44.6, 43.0, 40.7, 40.2): streams and references, the serving half,
  // the server's opening, calls and frames from the peer (session-inbound),
  // the encoding walk, the error encoder and the remote errors' rebuild, metadata checks, deadlines and keys, the header
  // reader, reconnection, objects by URL, other protocols' clients, the HMAC
  // handshake and its early reads, retries, the query-string reader, the
  // words of a refused option and the built-in transports' loader load on
  // first use (bundle-browser-load checks in Chromium that a plain call
  // fetches none of them). What a page pays before its first call is the
  // client session (~8.6 KB), the proxy, caller and facade (~6.8 KB), the ws
  // transport on the connection base (~7.2 KB), the JSON serializer with its
  // decode budgets and encode check (~5.5 KB), errors (~1.7 KB), connect with
  // the option check, the URL registry and resolvers (~3.5 KB).
  it("is at most 40 KB minified", async () => {
    const { initial } = await splitBundle();
    assert.ok(initial <= LIMIT, `initial load is ${initial} bytes, over ${LIMIT}`);
  });
});
