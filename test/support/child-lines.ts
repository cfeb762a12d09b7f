/**
 * The lines a child process prints on stdout, taken one at a time, for
 * fixtures that say where they listen or that they are ready by printing.
 */
import type { ChildProcess } from "node:child_process";

/**
 * A reader of `child`'s stdout lines (trimmed): each call takes the next
 * line, waiting for it, and rejects with `why(exit code)` once the child
 * has exited with no line left to take.
 */
export function stdoutLines(child: ChildProcess, why: (code: number | null) => string = (code) => `exited (${code}) before printing a line`): () => Promise<string> {
  let buf = "";
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const gone = new Promise<string>((_, reject) => child.on("close", (code: number | null) => reject(new Error(why(code)))));
  gone.catch(() => {});
  return () => {
    const line = lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return Promise.race([new Promise<string>((resolve) => waiting.push(resolve)), gone]);
  };
}
