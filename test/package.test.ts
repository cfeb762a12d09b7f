/**
 * What `npm pack` ships, checked as a user receives it: a license, every
 * source map's sources inside the package, no compiled Python or tests.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface PackFile {
  path: string;
}

function packedFiles(): string[] {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    stdio: ["ignore", "pipe", "ignore"],
  });
  const parsed = JSON.parse(out) as { files: PackFile[] }[];
  return (parsed[0]?.files ?? []).map((f) => f.path);
}

describe("the packed tarball", () => {
  const files = packedFiles();
  const shipped = new Set(files);

  it("ships the license package.json names", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { license: string };
    assert.equal(pkg.license, "MIT");
    assert.ok(shipped.has("LICENSE"), "LICENSE missing from the package");
    assert.match(readFileSync(join(ROOT, "LICENSE"), "utf8"), /MIT License/);
  });

  it("ships the sources every source map points at", () => {
    const maps = files.filter((f) => f.endsWith(".map"));
    assert.ok(maps.length > 0, "no source maps packed: did the build run?");
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(ROOT, map), "utf8")) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      for (const [i, src] of sources.entries()) {
        const path = normalize(join(dirname(map), src));
        // A dependency's own sources are the dependency's business; a map may also carry the text itself.
        if (path.includes("node_modules/") || typeof sourcesContent?.[i] === "string") continue;
        if (!shipped.has(path)) missing.push(`${map} -> ${path}`);
      }
    }
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} source map targets are not in the package`);
  });

  it("ships no compiled Python, tests or benchmarks", () => {
    const stray = files.filter((f) => /\.pyc$|__pycache__|^dist\/test\/|^test\/|^benchmarks\//.test(f));
    assert.deepEqual(stray, []);
  });
});
