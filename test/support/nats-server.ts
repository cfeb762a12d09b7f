/**
 * Real `nats-server` processes for the NATS tests: one server or a cluster
 * joined by routes, all on 127.0.0.1 with ports the server picks itself
 * (`-1`), read back from its log. Every process is killed when the test
 * file ends, and none outlives `CHILD_TIMEOUT` even if a test forgets it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

const CHILD_TIMEOUT = 120_000;
/** How long a server may take to say it is listening. */
const READY_TIMEOUT = 10_000;

export interface NatsServer {
  /** `nats://127.0.0.1:<client port>`. */
  readonly url: string;
  readonly port: number;
  /** Route (cluster) port, when started as part of a cluster. */
  readonly routePort: number | undefined;
  readonly process: ChildProcess;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** The nats-server binary, or undefined when it is not installed. */
export function natsServerBin(): string | undefined {
  const bin = process.env.NATS_SERVER ?? "nats-server";
  const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? bin : undefined;
}

export interface StartOptions {
  /** Cluster name; with it the server listens for routes on a free port. */
  cluster?: string;
  /** Route URLs of other cluster members (`nats://127.0.0.1:<routePort>`). */
  routes?: string[];
  /** Extra command-line arguments (e.g. `--auth TOKEN`, `--max_payload 4096`). */
  args?: string[];
}

/** Start one nats-server on 127.0.0.1 and resolve once it accepts clients. */
export function startNatsServer(opts: StartOptions = {}): Promise<NatsServer> {
  const bin = natsServerBin();
  if (!bin) return Promise.reject(new Error("nats-server is not installed (Debian package nats-server; .ci/run installs it)"));
  const args = ["-a", "127.0.0.1", "-p", "-1"];
  if (opts.cluster) args.push("--cluster_name", opts.cluster, "--cluster", "nats://127.0.0.1:-1");
  if (opts.routes?.length) args.push("--routes", opts.routes.join(","));
  args.push(...(opts.args ?? []));
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  const limit = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT);
  limit.unref();
  const exited = new Promise<void>((resolve) => child.once("exit", () => {
    children.delete(child);
    clearTimeout(limit);
    resolve();
  }));
  return new Promise<NatsServer>((resolve, reject) => {
    let log = "";
    let port: number | undefined;
    let routePort: number | undefined;
    const fail = (why: string): void => {
      clearTimeout(ready);
      child.kill("SIGKILL");
      reject(new Error(`nats-server did not start: ${why}\n${log.slice(-2000)}`));
    };
    const ready = setTimeout(() => fail("no 'Server is ready' within 10 s"), READY_TIMEOUT);
    const onError = (err: Error): void => fail(err.message);
    const onExit = (code: number | null): void => fail(`exited with ${code}`);
    child.once("error", onError);
    child.once("exit", onExit);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      if (log.length < 64 * 1024) log += chunk;
      const client = /Listening for client connections on [^\s:]+:(\d+)/.exec(log);
      const route = /Listening for route connections on [^\s:]+:(\d+)/.exec(log);
      if (client) port = Number(client[1]);
      if (route) routePort = Number(route[1]);
      if (port !== undefined && (!opts.cluster || routePort !== undefined) && /Server is ready/.test(log)) {
        clearTimeout(ready);
        child.off("exit", onExit);
        child.off("error", onError);
        child.stderr!.removeAllListeners("data");
        child.stderr!.resume();
        const p = port;
        resolve({
          url: `nats://127.0.0.1:${p}`,
          port: p,
          routePort,
          process: child,
          async kill() {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
            await exited;
          },
        });
      }
    });
  });
}

/** A cluster of `n` servers: the first one seeds the routes of the others. */
export async function startNatsCluster(n: number, name = "wirecall"): Promise<NatsServer[]> {
  const first = await startNatsServer({ cluster: name });
  const seed = `nats://127.0.0.1:${first.routePort}`;
  const rest = await Promise.all(Array.from({ length: n - 1 }, () => startNatsServer({ cluster: name, routes: [seed] })));
  return [first, ...rest];
}
