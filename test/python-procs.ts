/**
 * Real Python processes for the Python interop tests: every Python that
 * pyenv lists (or one version of it), started with a time limit, killed in
 * `after`, run a few at a time so two shared cores are not swamped.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stdoutLines } from "./support/child-lines.js";

/** test/fixtures/python, from the compiled test in dist/test. */
export const PY_FIXTURES = fileURLToPath(new URL("../../test/fixtures/python/", import.meta.url));

/** A child never outlives this, even if a test forgets it. */
const CHILD_TIMEOUT = 30_000;

export interface Python {
  version: string;
  bin: string;
  major: number;
  minor: number;
}

/** Every Python under `pyenv root`/versions (else $PYENV_ROOT, else ~/.pyenv), oldest first; empty without pyenv. */
export function findPythons(): Python[] {
  let root = process.env.PYENV_ROOT ?? join(homedir(), ".pyenv");
  try {
    root = execFileSync("pyenv", ["root"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    // no pyenv on PATH: PYENV_ROOT or the default root
  }
  if (!root || !existsSync(join(root, "versions"))) return [];
  const out: Python[] = [];
  for (const version of readdirSync(join(root, "versions"))) {
    const bin = join(root, "versions", version, "bin", "python");
    const m = /^(\d+)\.(\d+)/.exec(version);
    if (!m || !existsSync(bin)) continue;
    out.push({ version, bin, major: Number(m[1]), minor: Number(m[2]) });
  }
  return out.sort((a, b) => a.version.localeCompare(b.version, undefined, { numeric: true }));
}

/**
 * One interpreter for `version` ("3.11"): WIRECALL_PYTHON_3_11 if set, else
 * pyenv's newest 3.11.x, else `python3.11` on PATH (a distribution's); or none.
 */
export function findPython(version: string): string | undefined {
  const env = process.env[`WIRECALL_PYTHON_${version.replace(".", "_")}`];
  if (env && existsSync(env)) return env;
  const pyenv = findPythons().filter((p) => p.version === version || p.version.startsWith(`${version}.`));
  if (pyenv.length > 0) return (pyenv[pyenv.length - 1] as Python).bin;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const bin = join(dir, `python${version}`);
    if (dir && existsSync(bin)) return bin;
  }
  return undefined;
}

const children = new Set<ChildProcess>();

/** Kill every child still running (call from `after`). */
export function killAll(): void {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `script` is a file in test/fixtures/python, or an absolute path to one elsewhere. */
function spawnPython(bin: string, script: string, args: readonly string[], env: Record<string, string>): ChildProcess {
  const child = spawn(bin, [resolve(PY_FIXTURES, script), ...args], {
    cwd: PY_FIXTURES,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
    timeout: CHILD_TIMEOUT,
    killSignal: "SIGKILL",
  });
  children.add(child);
  child.on("close", () => children.delete(child));
  return child;
}

/** Run a script to its end, feeding `input` on stdin. */
export function runPython(bin: string, script: string, args: readonly string[] = [], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Finished> {
  const child = spawnPython(bin, script, args, opts.env ?? {});
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin?.on("error", () => {}); // a child that exits early must not crash the test with EPIPE
  child.stdin?.end(opts.input ?? "");
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Started {
  /** The first line the script printed (a server prints where it listens). */
  firstLine: string;
  /** The next line after those already taken; rejects if the script exits first. */
  nextLine(): Promise<string>;
  /** Resolves with the exit code (null when killed). */
  exited: Promise<number | null>;
  /** What the script wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Start a long-running script and wait for its first line of output. */
export function startPython(bin: string, script: string, args: readonly string[], env: Record<string, string> = {}): Promise<Started> {
  const child = spawnPython(bin, script, args, env);
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const stop = async (): Promise<void> => {
    child.kill("SIGKILL");
    await exited;
  };
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
  const nextLine = stdoutLines(child, (code) => `${script} exited (${code}) before printing a line: ${err}`);
  return new Promise((resolve, reject) => {
    nextLine().then((firstLine) => resolve({ firstLine, nextLine, exited, stderr: () => err, stop }), reject);
    child.on("error", reject);
  });
}

/** Run `tasks` with at most `limit` at once; results in task order. */
export async function pool<T>(limit: number, tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
