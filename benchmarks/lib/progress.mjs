/**
 * Progress on stderr: one rewritten line on a terminal, one line per cell
 * otherwise (CI logs, tests), so stdout keeps only the table.
 */
import { performance } from "node:perf_hooks";

/** 75 -> "1 min 15 s". */
function clock(seconds) {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

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
      const secs = (performance.now() - t0) / 1000;
      // Cells take about the same time each (fixed phases): the mean so far is a fair guess.
      const left = i < total ? `, about ${clock((secs / i) * (total - i))} left` : "";
      const line = `[${i}/${total}] ${current}: ${summary} (${clock(secs)}${left})`;
      process.stderr.write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    },
    end() {},
  };
}
