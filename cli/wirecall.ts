#!/usr/bin/env node
/**
 * The `wirecall` command line: serve a module, call a method, list a
 * server's methods, run or query a name server, run the benchmarks.
 * Each command has `--help`; exit codes are in exit-codes.ts.
 */
import { readFileSync } from "node:fs";
import { benchCommand } from "./bench.js";
import { callCommand } from "./call.js";
import { EXIT_CODES_HELP, Exit, UsageError, describeError, describeErrorVerbose, exitCodeFor } from "./exit-codes.js";
import { lsCommand } from "./ls.js";
import { nsCommand } from "./ns.js";
import { serveCommand } from "./serve.js";

const HELP = `Usage: wirecall COMMAND [options]   (wirecall COMMAND --help for each)

Commands:
  serve MODULE [--url URL ...]       serve a module's exports on one or more URLs
  call URL METHOD [ARGS...] [--kw name=value ...]
                                     call a method, print the result as JSON
  ls URL                             list the methods served at URL
  ns [--url URL] [--storage FILE]    run a name server
  ns list|lookup|register|remove|ping
                                     talk to a name server
  bench [options]                    run the benchmarks (from a source checkout)

  -v, --verbose    errors with stacks and causes (any command)
  --version        print the version
  -h, --help

Environment: WIRECALL_AUTHKEY (shared secret), WIRECALL_NS (name server).

${EXIT_CODES_HELP}
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: serveCommand,
  call: callCommand,
  ls: lsCommand,
  ns: nsCommand,
  bench: benchCommand,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    if (command === "help" && rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0])) return (COMMANDS[rest[0]] as (a: string[]) => Promise<number>)(["--help"]);
    (command === undefined ? process.stderr : process.stdout).write(HELP);
    return command === undefined ? Exit.USAGE : Exit.OK;
  }
  if (command === "--version") {
    process.stdout.write(`${version()}\n`);
    return Exit.OK;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) throw new UsageError(`unknown command '${command}' (serve, call, ls, ns, bench)`);
  return run(rest);
}

const argv = process.argv.slice(2);
// Before `--` only: after it, `-v` is a call's argument.
const flags = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
const verbose = flags.includes("--verbose") || flags.includes("-v");
let code: number;
try {
  code = await main(argv);
} catch (err) {
  const target = (err as { wirecallTarget?: string } | null)?.wirecallTarget;
  const listening = (err as { wirecallListening?: boolean } | null)?.wirecallListening === true;
  process.stderr.write(`${describeError(err, target, listening)}\n`);
  if (verbose) process.stderr.write(`${describeErrorVerbose(err)}\n`);
  code = exitCodeFor(err);
}
// Let stdout drain, then exit even if a library timer or socket would keep the loop alive.
process.exitCode = code;
process.stdout.write("", () => process.exit(code));
