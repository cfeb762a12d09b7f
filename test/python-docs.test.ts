/**
 * docs/python.md shows the Python client and server that the interop tests
 * run: each fixture file must appear in it, verbatim, as a python block.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { PY_FIXTURES } from "./python-procs.js";

const doc = readFileSync(fileURLToPath(new URL("../../docs/python.md", import.meta.url)), "utf8");
const blocks = [...doc.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

describe("docs/python.md", () => {
  for (const file of ["rpc_common.py", "rpc_server.py", "rpc_client.py"]) {
    it(`shows ${file} exactly as the tests run it`, () => {
      const source = readFileSync(join(PY_FIXTURES, file), "utf8");
      assert.ok(blocks.includes(source), `${file} differs from its block in docs/python.md`);
    });
  }
});
