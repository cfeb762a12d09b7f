/**
 * What the cli*.test.ts files share: the package packed (`npm pack`) and
 * installed into a fresh folder as a user installs it, its installed bin run
 * to completion or kept running, every child killed by `cleanup`.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runToEnd, type Result } from "./support/run.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/cli/", import.meta.url));
export const AUTHKEY = "cli-test-key";

/** The fresh folder the package is installed in (cwd of every command), and its installed bin. */
export const installed = { dir: "", bin: "" };
export const children = new Set<ChildProcess>();

export type { Result };

export function sh(cmd: string, args: string[], cwd: string, timeout = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

/** The environment a command runs in: no inherited WIRECALL_* variables unless given. */
export function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.WIRECALL_AUTHKEY;
  delete env.WIRECALL_NS;
  return { ...env, ...extra };
}

/** Run the installed `wirecall` to completion. */
export function wirecall(args: string[], extra: Record<string, string> = { WIRECALL_AUTHKEY: AUTHKEY }): Promise<Result> {
  return runToEnd(installed.bin, args, { cwd: installed.dir, env: envWith(extra), timeoutMs: 60_000, children });
}

export interface Running {
  child: ChildProcess;
  /** The lines printed on stdout so far. */
  lines: string[];
  stderr: () => string;
  /** Resolves with stdout's next line past `count` lines. */
  line: (n: number) => Promise<string>;
  /** Resolves once stderr contains `text`. */
  saw: (text: string) => Promise<void>;
  exited: Promise<number | null>;
}

/** Start a long-running `wirecall` (serve, ns). */
export function start(args: string[], extra: Record<string, string> = { WIRECALL_AUTHKEY: AUTHKEY }): Running {
  const child = spawn(installed.bin, args, { cwd: installed.dir, env: envWith(extra), stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let err = "";
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on("data", (d: Buffer) => {
    out += d;
    wake();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d;
    wake();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      children.delete(child);
      wake();
      resolve(code);
    }),
  );
  let closed = false;
  void exited.then(() => (closed = true));
  const until = (ok: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stdout: ${out}; stderr: ${err}`)), 60_000);
      const check = (): void => {
        if (ok()) {
          clearTimeout(timer);
          resolve();
        } else if (closed) {
          clearTimeout(timer);
          reject(new Error(`wirecall ${args.join(" ")} exited before ${what}; stdout: ${out}; stderr: ${err}`));
        } else waiters.push(check);
      };
      check();
    });
  const lines = (): string[] => out.split("\n").slice(0, -1);
  return {
    child,
    get lines() {
      return lines();
    },
    stderr: () => err,
    line: async (n) => {
      await until(() => lines().length > n, `line ${n + 1} of stdout`);
      return lines()[n] as string;
    },
    saw: (text) => until(() => err.includes(text), JSON.stringify(text)),
    exited,
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Pack this checkout and install the tarball into a fresh folder (the npm cache first; zeromq and the NATS client, optional peers, stay out). */
export async function installPackage(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "wirecall-cli-"));
  const packDir = join(dir, "pack");
  mkdirSync(packDir);
  await sh("npm", ["pack", "--ignore-scripts", "--pack-destination", packDir], ROOT);
  const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith(".tgz")) as string);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "cli-user", private: true, type: "module" }));
  await sh("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], dir);
  installed.dir = dir;
  installed.bin = join(dir, "node_modules", ".bin", "wirecall");
  copyFileSync(join(FIXTURES, "api.js"), join(dir, "api.js"));
  copyFileSync(join(FIXTURES, "handler.js"), join(dir, "handler.js"));
}

/** Kill every child left and remove the folder. */
export function cleanup(): void {
  for (const c of children) c.kill("SIGKILL");
  if (installed.dir) rmSync(installed.dir, { recursive: true, force: true });
}
