/** `wirecall serve MODULE [--url URL ...]`: a module's exports on one or more URLs at once. */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { serve } from "../src/index.js";
import type { ObjectServer, Publisher } from "../src/index.js";
import { parse, parseMs } from "./args.js";
import { EXIT_CODES_HELP, Exit, UsageError, describeError } from "./exit-codes.js";
import { loadModule } from "./load-module.js";

export const SERVE_HELP = `Usage: wirecall serve MODULE [--url URL ...] [options]

Serves the exports of a JavaScript module: each exported function under its
export name (its \`doc\` property is its help text), each exported object's
methods as name.method (and as the object URL#name), a default-exported
object's methods under their own names, or a default-exported RPCHandler as
is. Prints each server's URL on its own line once all are listening, then
serves until SIGINT or SIGTERM, which stop accepting, let calls in flight
finish (up to --close-timeout) and exit 0; a second signal exits at once.

  --url URL              where to serve (repeatable: the same handler on every
                         URL); any scheme connect() knows: tcp://, tls://, ws://,
                         wss://, zmq+tcp://, zmq+ipc://, xmlrpc+http://, pyro://,
                         nats://... Port 0 picks a free port. Options go in the
                         query string (?serializer=...). Default tcp://127.0.0.1:0
  --publish NAME[=ID]    register the first URL (or its object ID) with a name
                         server as NAME, renewed while serving (repeatable)
  --ns URL               the name server for --publish (default WIRECALL_NS,
                         else tcp://127.0.0.1:9090)
  --import MODULE        import MODULE first (repeatable), e.g. wirecall/python
                         to answer Python's RPCProxy recipe on tcp:// too, or a
                         module registering a transport of your own
  --close-timeout MS     how long a stop waits for calls in flight (default 5000)
  -v, --verbose          say what is served; errors with stacks
  -h, --help

Environment: WIRECALL_AUTHKEY (the shared secret for tcp, tls, ws, zmq,
pyro), WIRECALL_NS (the default name server).

${EXIT_CODES_HELP}
`;

type Served = ObjectServer & Publisher;

/** Import a module by package specifier (wirecall/python) or path (./my-transport.js). */
async function importExtra(spec: string): Promise<void> {
  const target = /^\.{0,2}\//.test(spec) ? pathToFileURL(resolve(spec)).href : spec;
  try {
    await import(target);
  } catch (err) {
    throw Object.assign(new UsageError(`--import ${spec}: ${(err as Error)?.message ?? String(err)}`), { cause: err });
  }
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    url: { type: "string", multiple: true },
    publish: { type: "string", multiple: true },
    ns: { type: "string" },
    import: { type: "string", multiple: true },
    "close-timeout": { type: "string" },
  });
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return Exit.OK;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "serve needs a MODULE to serve" : `serve takes one MODULE, got ${positionals.length}`);
  const closeTimeout = parseMs("close-timeout", values["close-timeout"]);
  for (const spec of values.import ?? []) await importExtra(spec);
  const loaded = await loadModule(positionals[0] as string);
  if (values.verbose) {
    process.stderr.write(`wirecall: serving ${loaded.registered.join(", ")}\n`);
    for (const s of loaded.skipped) process.stderr.write(`wirecall: not served: ${s}\n`);
  }

  const urls = values.url && values.url.length > 0 ? values.url : ["tcp://127.0.0.1:0"];
  const servers: Served[] = [];
  const options = closeTimeout === undefined ? {} : { closeTimeout };
  let current = "";
  try {
    for (const url of urls) {
      current = url;
      servers.push(await serve(loaded.handler, url, options));
    }
    current = "";
    const first = servers[0] as Served;
    for (const item of values.publish ?? []) {
      const eq = item.indexOf("=");
      const name = eq < 0 ? item : item.slice(0, eq);
      const object = eq < 0 ? null : item.slice(eq + 1);
      if (name === "" || object === "") throw new UsageError(`--publish takes NAME or NAME=ID, got '${item}'`);
      const registered = await first.publish(name, { object, ...(values.ns === undefined ? {} : { nameserver: values.ns }) });
      if (values.verbose) process.stderr.write(`wirecall: published ${name} -> ${registered}\n`);
    }
  } catch (err) {
    await Promise.allSettled(servers.map((s) => s.close()));
    if (current !== "" && err !== null && typeof err === "object") Object.assign(err, { wirecallTarget: current, wirecallListening: true });
    throw err;
  }
  process.stdout.write(servers.map((s) => `${s.url}\n`).join(""));

  return await new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`wirecall: ${signal} again, exiting without waiting\n`);
        resolveExit(Exit.INTERRUPTED);
        return;
      }
      stopping = true;
      if (values.verbose) process.stderr.write(`wirecall: ${signal}: draining calls in flight\n`);
      Promise.allSettled(servers.map((s) => s.close())).then((results) => {
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) process.stderr.write(`${describeError(failed.reason)}\n`);
        resolveExit(failed ? Exit.FAILED : Exit.OK);
      });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
