/**
 * Progress on stderr: one rewritten line on a terminal, one line per cell
 * otherwise (CI logs, tests), so stdout keeps only the table.
 */
import { performance } from "node:perf_hooks";

export function createProgress(total) {
  const tty = process.stderr.isTTY;
  const t0 = performance.now();
  let i = 0;
  let current = "";
  return {
    start(label) {
      i++;
      current = label;
      if (tty) process.stderr.write(`\r\x1b[K[${i}/${total}] ${label} ...`);
    },
    done(summary) {
      const elapsed = ((performance.now() - t0) / 1000).toFixed(0);
      const line = `[${i}/${total}] ${current}: ${summary} (${elapsed} s)`;
      process.stderr.write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    },
    end() {},
  };
}
