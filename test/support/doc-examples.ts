/**
 * Every ```js block of a Markdown page is a complete program: each runs as
 * its own process inside the package (so `import ... from "wirecall"`
 * resolves to this checkout) and must exit cleanly, so the examples cannot
 * rot. Used for README.md and docs/*.md.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** libzmq 4.3.5's teardown assertion (docs/zmq.md "Known issues"; scripts/run-tests.mjs treats it the same way). */
const LIBZMQ_ABORT = "_state == term_ack_sent || _state == term_req_sent2";

/**
 * Run `file` with Node from the package root; `out` is its stdout and stderr (and the signal that killed it).
 * A program killed by exactly libzmq's known teardown abort is run once more, saying so on stderr;
 * any other failure is returned as it happened.
 */
export async function runProgram(file: string, timeout = 30_000): Promise<{ code: number | null; out: string }> {
  const first = await runOnce(file, timeout);
  if (!(first.out.includes("(killed by SIGABRT)") && first.out.includes(LIBZMQ_ABORT))) return first;
  process.stderr.write(`*** ${file} died of libzmq's known teardown abort (docs/zmq.md); running it once more ***\n`);
  return runOnce(file, timeout);
}

function runOnce(file: string, timeout: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: root, stdio: ["ignore", "pipe", "pipe"], timeout });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (out += d));
    child.on("close", (code, signal) => resolve({ code, out: signal ? `${out}\n(killed by ${signal})` : out }));
  });
}

/**
 * A suite named `title` running every ```js block of `page` (a path from the
 * package root), from files written under dist/`folder`; `atLeast` blocks
 * must be there.
 */
export function docExamples(title: string, page: string, folder: string, atLeast = 1): void {
  const text = readFileSync(`${root}${page}`, "utf8");
  const dir = `${root}dist/${folder}`;
  describe(title, () => {
    const blocks = [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    it("has examples", () => assert.ok(blocks.length >= atLeast));
    mkdirSync(dir, { recursive: true });
    blocks.forEach((code, i) => {
      const name = code.split("\n")[0]?.replace(/^\/\/\s*/, "") ?? `block ${i}`;
      it(`runs example ${i + 1}: ${name}`, async () => {
        const file = `${dir}/example-${i + 1}.mjs`;
        writeFileSync(file, code);
        const { code: exit, out } = await runProgram(file);
        assert.equal(exit, 0, out);
      });
    });
  });
}
