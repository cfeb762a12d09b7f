/**
 * `wirecall bench [options]`: runs benchmarks/run.mjs of this package (the
 * transport x serializer x payload matrix against the floors and peers),
 * passing its options through. Builds nothing; the benchmark-only peers
 * (benchmarks/package.json) are installed only with --install.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EXIT_CODES_HELP, Exit } from "./exit-codes.js";

export const BENCH_HELP = `Usage: wirecall bench [--install] [benchmark options]

Runs the benchmark matrix of this wirecall installation (benchmarks/run.mjs:
each transport x serializer x payload with server and client in separate
processes, against a raw node:net floor and peer libraries), printing
progress, a table and the ratios, and writing JSON, SVG and Markdown files
whose paths it prints. Every option but --install is passed through (see
the list below); --quick is a short run.

The benchmarks ship with wirecall's source (a git checkout), not in the npm
package: without them, bench says so and exits 5. Benchmark-only peers
(grpc-js, capnweb, birpc, jayson, HdrHistogram) live in
benchmarks/package.json; when they are not installed, the peers needing
them are skipped unless --install is given, which runs npm ci there first.

  --install              install the benchmark peers first (network)
  -h, --help             this text and the benchmark's own options

${EXIT_CODES_HELP}
`;

/** The package root: dist/cli/bench.js -> ../../ */
const root = fileURLToPath(new URL("../../", import.meta.url));

export async function benchCommand(argv: string[]): Promise<number> {
  const runner = `${root}benchmarks/run.mjs`;
  const help = argv.includes("--help") || argv.includes("-h");
  if (help) process.stdout.write(BENCH_HELP);
  if (!existsSync(runner)) {
    const text = `wirecall: the benchmarks are not in this installation (${root}): they ship with wirecall's source, not the npm package; in a checkout run \`npm run build\`, then \`wirecall bench\` (or \`npm run bench\`)\n`;
    if (help) {
      process.stdout.write(`\n${text}`);
      return Exit.OK;
    }
    process.stderr.write(text);
    return Exit.MISSING_DEPENDENCY;
  }
  const args = argv.filter((a) => a !== "--install" && a !== "-h");
  const install = argv.includes("--install");
  if (help) {
    process.stdout.write("\nBenchmark options (benchmarks/run.mjs):\n\n");
    return run(runner, ["--help"]);
  }
  const peersInstalled = existsSync(`${root}benchmarks/node_modules/.package-lock.json`);
  if (!peersInstalled && !install && !args.includes("--no-install")) {
    process.stderr.write("wirecall: the benchmark peers (benchmarks/package.json) are not installed: peers needing them are skipped; `wirecall bench --install` installs them (npm ci in benchmarks/)\n");
    args.push("--no-install");
  }
  return run(runner, args);
}

function run(runner: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runner, ...args], { stdio: "inherit" });
    // The terminal's Ctrl-C reaches the child too; a SIGTERM sent to us alone is passed on.
    const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
    process.on("SIGTERM", forward);
    process.on("SIGINT", () => undefined);
    child.on("error", (err) => {
      process.stderr.write(`wirecall: cannot run ${runner}: ${err.message}\n`);
      resolve(Exit.FAILED);
    });
    child.on("close", (code, signal) => {
      process.off("SIGTERM", forward);
      resolve(code ?? (signal === "SIGINT" ? Exit.INTERRUPTED : Exit.FAILED));
    });
  });
}
