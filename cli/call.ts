/** `wirecall call URL METHOD [ARGS...] [--kw name=value ...]`. */
import { parse, parseKwargs, parseMs, parseValue } from "./args.js";
import { CONNECT_HELP, CONNECT_OPTIONS, open } from "./connect-options.js";
import { EXIT_CODES_HELP, Exit, UsageError } from "./exit-codes.js";
import { formatJson, isStream, writeOut } from "./output.js";

export const CALL_HELP = `Usage: wirecall call URL METHOD [ARGS...] [--kw name=value ...] [options]

Calls METHOD (dotted names reach objects: greeter.hello) at URL, any URL
connect() takes: tcp://host:port, ws://..., zmq+tcp://..., xmlrpc+http://...,
PYRO:obj@host:port, PYRONAME:name[@host:port], URL#object. Each argument is
JSON when it parses as JSON (2, true, null, [1,2], {"a":1}, "\\"2\\"" for the
string "2"), else a string. Put -- before arguments that start with a dash.

Prints the result as JSON on stdout: one line, or indented on a terminal.
A stream result prints one JSON line per item as items arrive. A remote
error prints its name, code and message on stderr and exits 1.

  --kw name=value        a keyword argument (repeatable), value as above
  --timeout MS           fail with exit 4 when no reply within MS
  --oneway               send a one-way call (no reply, nothing printed)
${CONNECT_HELP}

${EXIT_CODES_HELP}
`;

export async function callCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...CONNECT_OPTIONS,
    kw: { type: "string", multiple: true },
    timeout: { type: "string" },
    oneway: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(CALL_HELP);
    return Exit.OK;
  }
  const [url, method, ...rest] = positionals;
  if (url === undefined || method === undefined) throw new UsageError("call needs a URL and a METHOD");
  const args = rest.map(parseValue);
  const kwargs = parseKwargs(values.kw);
  const timeout = parseMs("timeout", values.timeout);

  const proxy = await open(url, values);
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    abort.abort();
    // A stream being printed ends when its connection does.
    void proxy.$close().catch(() => undefined);
  };
  process.once("SIGINT", onSignal);
  try {
    if (values.oneway) {
      await proxy.$caller.notify(method, args, kwargs);
      return Exit.OK;
    }
    const result = await proxy.$call(method, args, kwargs, { signal: abort.signal, ...(timeout ? { timeout } : {}) });
    return await print(result);
  } catch (err) {
    if (interrupted) return Exit.INTERRUPTED;
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    await proxy.$close().catch(() => undefined);
  }
}

async function print(result: unknown): Promise<number> {
  const pretty = process.stdout.isTTY === true;
  if (!isStream(result)) {
    await writeOut(`${formatJson(result, pretty)}\n`);
    return Exit.OK;
  }
  // One line per item, flushed as it comes, so `| jq` or `| head` see items as they arrive.
  for await (const item of result) await writeOut(`${formatJson(item, pretty)}\n`);
  return Exit.OK;
}

