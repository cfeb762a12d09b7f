/** `wirecall ns`: run a name server, or talk to one (like Pyro's pyro4-ns and pyro4-nsc). */
import { DEFAULT_NAMESERVER_URL, locateNS, startNameServer, type NameServerClient } from "../src/index.js";
import { parse, type Parsed } from "./args.js";
import { EXIT_CODES_HELP, Exit, UsageError, describeError } from "./exit-codes.js";
import { formatJson, writeOut } from "./output.js";

export const NS_HELP = `Usage: wirecall ns [--url URL] [--storage FILE]      run a name server
       wirecall ns list [--prefix P | --regex R] [--tag T ...] [--metadata]
       wirecall ns lookup NAME [--metadata]
       wirecall ns register NAME URL [--tag T ...] [--safe]
       wirecall ns remove NAME | --prefix P | --regex R
       wirecall ns ping

Without a command, runs a name server at --url (default
${DEFAULT_NAMESERVER_URL}, any transport) and prints its URL; registrations
survive a restart with --storage FILE. SIGINT/SIGTERM stop it (exit 0).

With a command, talks to the name server at --url (default WIRECALL_NS,
else ${DEFAULT_NAMESERVER_URL}; host:port means tcp://host:port):
  list       registered names -> URLs as a JSON object (with --metadata,
             { url, metadata } records); --prefix/--regex filter names, --tag
             keeps names carrying every tag given
  lookup     print the URL registered as NAME (exit 1, NAME_NOT_FOUND, when none)
  register   register NAME -> URL; --safe refuses a taken name (NAME_TAKEN)
  remove     remove NAME, or every name under --prefix or matching --regex;
             prints how many went
  ping       exit 0 when the name server answers

  --url URL              where the name server is (or is to run)
  --storage FILE         (running one) keep registrations in FILE
  -v, --verbose          errors with stacks and causes
  -h, --help

Environment: WIRECALL_AUTHKEY (the shared secret), WIRECALL_NS.

${EXIT_CODES_HELP}
`;

const OPTIONS = {
  url: { type: "string" },
  storage: { type: "string" },
  prefix: { type: "string" },
  regex: { type: "string" },
  tag: { type: "string", multiple: true },
  metadata: { type: "boolean" },
  safe: { type: "boolean" },
} as const;

const COMMANDS = new Set(["list", "lookup", "register", "remove", "ping"]);

export async function nsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) {
    process.stdout.write(NS_HELP);
    return Exit.OK;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) {
    for (const o of ["prefix", "regex", "tag", "metadata", "safe"] as const) {
      if (values[o] !== undefined) throw new UsageError(`--${o} belongs to a name server command (ns list, ns register...)`);
    }
    return runNameServer(values.url, values.storage, values.verbose === true);
  }
  if (!COMMANDS.has(command)) throw new UsageError(`unknown ns command '${command}' (list, lookup, register, remove, ping)`);
  if (values.storage !== undefined) throw new UsageError("--storage is for running a name server (wirecall ns --storage FILE)");
  const target = values.url ?? process.env.WIRECALL_NS ?? DEFAULT_NAMESERVER_URL;
  let ns: NameServerClient;
  try {
    ns = await locateNS(values.url);
  } catch (err) {
    if (err !== null && typeof err === "object") (err as { wirecallTarget?: string }).wirecallTarget = target;
    throw err;
  }
  try {
    return await client(ns, command, rest, values);
  } finally {
    await ns.close().catch(() => undefined);
  }
}

type Values = Parsed<typeof OPTIONS>["values"];

function arity(command: string, args: string[], n: number, what: string): void {
  if (args.length !== n) throw new UsageError(`ns ${command} takes ${what}`);
}

async function client(ns: NameServerClient, command: string, args: string[], values: Values): Promise<number> {
  const pretty = process.stdout.isTTY === true;
  switch (command) {
    case "list": {
      arity(command, args, 0, "no arguments (filter with --prefix, --regex, --tag)");
      if (values.prefix !== undefined && values.regex !== undefined) throw new UsageError("ns list takes --prefix or --regex, not both");
      const filter = {
        ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
        ...(values.regex === undefined ? {} : { regex: values.regex }),
        ...(values.tag === undefined ? {} : { metadataAll: values.tag }),
      };
      const names = values.metadata ? await ns.list({ ...filter, metadata: true }) : await ns.list(filter);
      await writeOut(`${formatJson(names, pretty)}\n`);
      return Exit.OK;
    }
    case "lookup": {
      arity(command, args, 1, "one NAME");
      const name = args[0] as string;
      if (values.metadata) await writeOut(`${formatJson(await ns.lookup(name, { metadata: true }), pretty)}\n`);
      else await writeOut(`${await ns.lookup(name)}\n`);
      return Exit.OK;
    }
    case "register": {
      arity(command, args, 2, "a NAME and a URL");
      await ns.register(args[0] as string, args[1] as string, { ...(values.tag === undefined ? {} : { metadata: values.tag }), safe: values.safe === true });
      return Exit.OK;
    }
    case "remove": {
      const filters = [values.prefix, values.regex].filter((v) => v !== undefined).length;
      if (args.length + filters !== 1) throw new UsageError("ns remove takes one NAME, or --prefix P, or --regex R");
      const removed =
        args.length === 1 ? await ns.remove(args[0] as string) : values.prefix !== undefined ? await ns.remove({ prefix: values.prefix }) : await ns.remove({ regex: values.regex as string });
      await writeOut(`${removed}\n`);
      return Exit.OK;
    }
    default: {
      arity(command, args, 0, "no arguments");
      await ns.ping();
      return Exit.OK;
    }
  }
}

/** `host:port` (Pyro's form, as locateNS takes it) means tcp://host:port. */
function serverUrl(url: string | undefined): string {
  if (url === undefined) return DEFAULT_NAMESERVER_URL;
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) && !/^[^:/]+:\d+$/.test(url)) return url;
  return `tcp://${/:\d+$/.test(url) ? url : `${url}:9090`}`;
}

async function runNameServer(url: string | undefined, storage: string | undefined, verbose: boolean): Promise<number> {
  const target = serverUrl(url);
  let server;
  try {
    server = await startNameServer(target, storage === undefined ? {} : { storage });
  } catch (err) {
    if (err !== null && typeof err === "object") Object.assign(err, { wirecallTarget: target, wirecallListening: true });
    throw err;
  }
  process.stdout.write(`${server.url}\n`);
  if (verbose) process.stderr.write(`wirecall: name server object at ${server.nsUrl}${storage ? `, storage ${storage}` : ""}\n`);
  const running = server;
  return await new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return resolveExit(Exit.INTERRUPTED);
      stopping = true;
      running.close().then(
        () => resolveExit(Exit.OK),
        (err: unknown) => {
          process.stderr.write(`${describeError(err)}\n`);
          resolveExit(Exit.FAILED);
        },
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
