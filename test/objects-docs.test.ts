/**
 * Every ```js block in docs/objects.md is a complete program: run each one
 * and require a clean exit (as test/readme.test.ts does for the README).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const readme = readFileSync(`${root}docs/objects.md`, "utf8");
// Inside the package, so `import ... from "wirecall"` resolves to this checkout.
const dir = `${root}dist/objects-doc-examples`;

function run(file: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: root, stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (out += d));
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("docs/objects.md examples", () => {
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  it("has examples", () => assert.ok(blocks.length >= 1));
  mkdirSync(dir, { recursive: true });
  blocks.forEach((code, i) => {
    const title = code.split("\n")[0]?.replace(/^\/\/\s*/, "") ?? `block ${i}`;
    it(`runs example ${i + 1}: ${title}`, async () => {
      const file = `${dir}/example-${i + 1}.mjs`;
      writeFileSync(file, code);
      const { code: exit, out } = await run(file);
      assert.equal(exit, 0, out);
    });
  });
});
