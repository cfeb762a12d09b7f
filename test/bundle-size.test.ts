/**
 * What a browser page pays for wirecall: `connect` from `wirecall/ws` with
 * the JSON serializer, bundled and minified by esbuild, stays within 40 KB
 * (not yet: see the todo below) and carries no Python recipe, pickle, XML-RPC or Node built-in code (those
 * live in protocols/ and transports/, which the core never imports).
 */
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const LIMIT = 40 * 1024;

const PAGE = `import { connect } from "wirecall/ws";
const api = await connect("wss://example.com/rpc", { serializer: "json", timeout: 5000 });
document.body.textContent = String(await api.add(2, 3));
`;

async function bundle(): Promise<string> {
  const result = await build({ stdin: { contents: PAGE, resolveDir: root, sourcefile: "page.js" }, bundle: true, write: false, format: "esm", platform: "browser", target: "es2022", minify: true, logLevel: "silent" });
  return result.outputFiles[0]?.text ?? "";
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

  // 93 KB today: msgpackr (32 KB) and superjson (10 KB) are registered statically by
  // src/serializers/index.ts, so a JSON-only page still carries them. Marked todo
  // (reported, not failing) until those two load only when named.
  it("is at most 40 KB minified", { todo: "msgpackr and superjson are bundled even for a JSON-only page" }, async () => {
    const bytes = Buffer.byteLength(await bundle());
    assert.ok(bytes <= LIMIT, `bundle is ${bytes} bytes, over ${LIMIT}`);
  });
});
