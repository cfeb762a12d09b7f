/**
 * Running a program to completion from a test: its output collected, a
 * bound on how long it may take (then it is killed, with its whole process
 * group when it was started as one, and the wait rejects), and a set of
 * live children for an `after` hook to reap if the test itself fails.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Start it as its own process group and kill the group on timeout (npm and what it spawns). */
  group?: boolean;
  /** Holds the child while it runs. */
  children?: Set<ChildProcess>;
}

/** Resolves with the exit code and output once it exits; rejects when it cannot start or outlives `timeoutMs`. */
export function runToEnd(cmd: string, args: readonly string[], options: RunOptions): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, detached: options.group === true, stdio: ["ignore", "pipe", "pipe"] });
    options.children?.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        if (options.group) process.kill(-(child.pid as number), "SIGKILL");
        else child.kill("SIGKILL");
      } catch {
        // already gone
      }
      reject(new Error(`${cmd} ${args.join(" ")} did not finish within ${options.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, options.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      options.children?.delete(child);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      options.children?.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}
