/**
 * Benchmark-only dependencies live in benchmarks/package.json with their own
 * lockfile. `npm run bench` installs them on first use, and only when the
 * run needs them (a peer that imports them, or a full run for HdrHistogram).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("..", import.meta.url));

export function depsInstalled() {
  return existsSync(`${dir}/node_modules/.package-lock.json`);
}

export function installDeps() {
  const args = existsSync(`${dir}/package-lock.json`) ? ["ci"] : ["install"];
  process.stderr.write(`installing benchmark dependencies: npm ${args[0]} --prefix benchmarks\n`);
  const r = spawnSync("npm", [...args, "--no-audit", "--no-fund", "--prefix", dir], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`npm ${args[0]} in benchmarks/ failed (exit ${r.status})`);
}
