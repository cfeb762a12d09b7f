/**
 * A page bundled as bundlers ship pages (Vite, Rollup and webpack split at
 * import(); esbuild with `splitting`), for the tests that check what a
 * browser page loads: the bundle-size limits and the name server's lazy
 * registration.
 */
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions } from "esbuild";

/** The package root, so a page can import `wirecall/...` by name. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** What every page build shares: the page is `page.js`, minified ESM for browsers. */
export function pageBuild(page: string): BuildOptions & { metafile: true } {
  return {
    stdin: { contents: page, resolveDir: root, sourcefile: "page.js" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    metafile: true,
    logLevel: "silent",
  };
}

export interface SplitPage {
  /** Bytes the page loads before its first call: its chunk and the chunks that imports statically. */
  initial: number;
  /** Modules in those chunks. */
  eager: string[];
  /** Modules only import() reaches. */
  lazy: string[];
  /** Output files of the first load, the page's own first. */
  initialFiles: string[];
}

/** Bundle `page` with code splitting into `outdir` (written only when `write`), and split its modules into eager and lazy. */
export async function splitPage(page: string, outdir: string, write = false): Promise<SplitPage> {
  const result = await build({ ...pageBuild(page), splitting: true, outdir, write });
  const outputs = result.metafile.outputs;
  // Chunks loaded by import() are entry points too: the page's own is the one built from page.js.
  const entry = Object.keys(outputs).find((k) => outputs[k]?.entryPoint === "page.js");
  assert.ok(entry, "no entry chunk");
  const seen = new Set<string>();
  const stack = [entry];
  let initial = 0;
  while (stack.length > 0) {
    const k = stack.pop() as string;
    const out = outputs[k];
    if (seen.has(k) || !out) continue;
    seen.add(k);
    initial += out.bytes;
    for (const i of out.imports) if (i.kind === "import-statement") stack.push(i.path);
  }
  const inputsOf = (keys: string[]): string[] => keys.flatMap((k) => Object.keys(outputs[k]?.inputs ?? {}));
  return { initial, eager: inputsOf([...seen]), lazy: inputsOf(Object.keys(outputs).filter((k) => !seen.has(k))), initialFiles: [entry, ...[...seen].filter((k) => k !== entry)] };
}
