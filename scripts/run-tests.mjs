#!/usr/bin/env node
// Runs the test suite (node --test, two files at a time) and passes its
// output through unchanged.
//
// One exception, stated loudly when it applies: libzmq 4.3.5 (bundled with
// the `zeromq` package) can abort a process with
//   Assertion failed: _state == term_ack_sent || _state == term_req_sent2 (src/pipe.cpp:355)
// while sockets are torn down; seen about once in 20 zmq test-file runs on a
// heavily loaded machine, never reproduced on demand (see docs/zmq.md,
// "Known issues"). A test file killed by exactly that abort is run once more
// on its own; every other failure fails the run as it always did.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const ARGS = ["--test", "--test-concurrency=2", "--test-timeout=120000"];
const LIBZMQ_ABORT = "_state == term_ack_sent || _state == term_req_sent2";

function run(files) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...ARGS, ...files], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      out += chunk.toString("utf8");
      // Only the tail matters for the abort check; keep memory bounded.
      if (out.length > 64 * 1024 * 1024) out = out.slice(-32 * 1024 * 1024);
    });
    child.on("exit", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });
}

/**
 * Every top-level failure: a test or suite (never retried), or a test file
 * whose process died, with whether it died of the libzmq abort.
 */
function failedFiles(out) {
  const lines = out.split("\n");
  const failed = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^not ok \d+ - /.test(lines[i])) continue;
    const m = /^not ok \d+ - (\/\S+\.test\.js)$/.exec(lines[i]);
    if (!m) {
      failed.push({ file: lines[i], aborted: false });
      continue;
    }
    const block = lines.slice(i + 1, i + 12).join("\n");
    const aborted = /signal: 'SIGABRT'/.test(block) && out.includes(LIBZMQ_ABORT);
    failed.push({ file: m[1], aborted });
  }
  return failed;
}

const dir = join(process.cwd(), "dist/test");
const files = readdirSync(dir).filter((f) => f.endsWith(".test.js")).sort().map((f) => join(dir, f));
const first = await run(files);
if (first.code === 0) process.exit(0);
const failed = failedFiles(first.out);
if (failed.length === 0 || failed.some((f) => !f.aborted)) process.exit(first.code);
// Every failure was the libzmq teardown abort: run those files once more.
const again = failed.map((f) => f.file);
process.stderr.write(
  `\n*** ${again.length} test file(s) died of the known libzmq teardown abort (${LIBZMQ_ABORT}); running them once more: ${again.join(", ")}\n\n`,
);
const second = await run(again);
process.exit(second.code);
