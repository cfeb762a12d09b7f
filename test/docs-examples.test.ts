/**
 * Every ```js block in docs/*.md is a complete program: run each one and
 * require a clean exit, so the examples in the docs cannot rot (as
 * test/readme.test.ts does for the README). A block that cannot run here
 * says so in its info string (```js browser, ```js server.mjs) and is
 * skipped by the pattern. docs/python.md's program runs beside the Python
 * files the page shows (test/python-docs.test.ts checks they are the
 * fixtures).
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { PY_FIXTURES } from "./python-procs.js";
import { runProgram } from "./support/doc-examples.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
// Inside the package, so `import ... from "wirecall"` resolves to this checkout.
const dir = `${root}dist/docs-examples`;

const pages = readdirSync(`${root}docs`).filter((f) => f.endsWith(".md")).sort();

describe("docs/*.md examples", () => {
  mkdirSync(dir, { recursive: true });
  // What docs/python.md tells the reader to put beside its program.
  for (const f of ["rpc_common.py", "rpc_server.py", "rpc_client.py"]) copyFileSync(join(PY_FIXTURES, f), join(dir, f));
  let total = 0;
  for (const page of pages) {
    const text = readFileSync(`${root}docs/${page}`, "utf8");
    const blocks = [...text.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
    total += blocks.length;
    blocks.forEach((code, i) => {
      const title = code.split("\n")[0]?.replace(/^\/\/\s*/, "") ?? `block ${i + 1}`;
      it(`docs/${page} example ${i + 1}: ${title}`, async () => {
        const file = `${dir}/${page.replace(/\.md$/, "")}-${i + 1}.mjs`;
        writeFileSync(file, code);
        const { code: exit, out } = await runProgram(file, 60_000);
        assert.equal(exit, 0, out);
      });
    });
  }
  it("the pages the issue named have runnable examples", () => {
    assert.ok(total >= 10, `only ${total} runnable examples in docs/`);
    for (const page of ["python.md", "ws.md", "tcp.md", "zmq.md", "xmlrpc.md", "objects.md"]) {
      const text = readFileSync(`${root}docs/${page}`, "utf8");
      assert.match(text, /^```js\n/m, `docs/${page} has no runnable example`);
    }
  });
});
