/**
 * Worker processes (test/fixtures/nats/worker.ts) for the NATS tests, each
 * killed when the test file ends (and by its stdin closing if the test dies).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const FIXTURE = fileURLToPath(new URL("../fixtures/nats/worker.js", import.meta.url));
const READY_TIMEOUT = 20_000;

export interface WorkerProcess {
  readonly label: string;
  /** The worker's subject prefix (`subject._w.<id>`). */
  readonly prefix: string;
  readonly child: ChildProcess;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Close stdin (the worker closes its server and exits) and wait. */
  stop(): Promise<void>;
}

const all = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of all) c.kill("SIGKILL");
});

export function startWorker(natsUrl: string, subject: string, label: string, options: Record<string, unknown> = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [FIXTURE, natsUrl, subject, label, JSON.stringify(options)], { stdio: ["pipe", "pipe", "pipe"] });
  all.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      all.delete(child);
      resolve();
    }),
  );
  let err = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    if (err.length < 8192) err += d;
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`worker ${label} not ready within ${READY_TIMEOUT} ms\n${err}`));
    }, READY_TIMEOUT);
    const early = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`worker ${label} exited with ${code} before it was ready\n${err}`));
    };
    child.once("exit", early);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      out += d;
      const m = /ready (\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off("exit", early);
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      resolve({
        label,
        prefix: m[1] as string,
        child,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
        },
        async stop() {
          child.stdin!.end();
          await exited;
        },
      });
    });
  });
}
