#!/usr/bin/env node
// Builds the browser bundle of the WebSocket client: one ESM file with the
// core API and the ws transport registered, for a <script type="module">.
//
//   node scripts/build-browser.mjs [outfile]   (default dist/browser/wirecall-ws.js)
//
// Fails when the bundle would reach `ws`, `node:*` or zeromq: those must
// never be in a browser build.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Module specifiers a browser bundle must not contain, as they would appear in its text. */
export const FORBIDDEN = [/\brequire\(\s*["'](?:ws|zeromq|node:[^"']*)["']\s*\)/, /\bfrom\s*["'](?:ws|zeromq|node:[^"']*)["']/, /\bimport\(\s*["'](?:ws|zeromq|node:[^"']*)["']\s*\)/];

/** Problems found in a bundle's text (empty when clean). */
export function checkBundle(text) {
  return FORBIDDEN.filter((re) => re.test(text)).map((re) => `bundle matches ${re}`);
}

/** Bundle transports/ws/browser.ts into `outfile`; resolves with the esbuild metafile inputs. */
export async function buildBrowserBundle(outfile = join(root, "dist/browser/wirecall-ws.js")) {
  const result = await build({
    entryPoints: [join(root, "transports/ws/browser.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: true,
    metafile: true,
    logLevel: "silent",
    // Anything Node-only that slips in must fail the build, not be stubbed.
    external: [],
  });
  const inputs = Object.keys(result.metafile.inputs);
  const bad = inputs.filter((p) => /(^|\/)node_modules\/(ws|zeromq)\//.test(p) || p.startsWith("node:") || p.includes("transports/tcp"));
  const problems = [...bad.map((p) => `bundle includes ${p}`), ...checkBundle(readFileSync(outfile, "utf8"))];
  if (problems.length > 0) throw new Error(`browser bundle is not browser-safe:\n  ${problems.join("\n  ")}`);
  return { outfile, inputs };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outfile, inputs } = await buildBrowserBundle(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(`built ${outfile} from ${inputs.length} modules`);
}
