/** `wirecall ls URL`: the remote methods with signatures and help, as a tree (XML-RPC's introspection). */
import { parse } from "./args.js";
import { CONNECT_HELP, CONNECT_OPTIONS, open } from "./connect-options.js";
import { EXIT_CODES_HELP, Exit, UsageError } from "./exit-codes.js";
import { formatJson, writeOut } from "./output.js";

export const LS_HELP = `Usage: wirecall ls URL [options]

Lists the methods served at URL with their signatures and help text, from
the server's introspection (system.listMethods, system.methodSignature,
system.methodHelp), as a tree of dotted names. For URL#object, the methods
of that object.

  --json                 print [{ name, signature, help }] as JSON instead
  --system               include the system.* introspection methods
${CONNECT_HELP}

${EXIT_CODES_HELP}
`;

interface MethodInfo {
  name: string;
  signature: string;
  help: string;
}

export async function lsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...CONNECT_OPTIONS, json: { type: "boolean" }, system: { type: "boolean" } });
  if (values.help) {
    process.stdout.write(LS_HELP);
    return Exit.OK;
  }
  if (positionals.length !== 1) throw new UsageError("ls needs one URL");
  const given = positionals[0] as string;
  // Introspection is the server's, not an object's: ask the server, keep the object's names.
  const hash = given.indexOf("#");
  const object = hash < 0 ? undefined : decodeURIComponent(given.slice(hash + 1));
  const url = hash < 0 ? given : given.slice(0, hash);
  const proxy = await open(url, values);
  try {
    let names = (await proxy.$call("system.listMethods")) as unknown;
    if (!Array.isArray(names)) throw new Error(`system.listMethods returned ${formatJson(names, false)}, not a list of names`);
    names = (names as unknown[]).filter((n): n is string => typeof n === "string");
    let list = names as string[];
    if (object !== undefined) list = list.filter((n) => n.startsWith(`${object}.`));
    if (!values.system) list = list.filter((n) => !n.startsWith("system."));
    list.sort();
    const infos = await Promise.all(list.map((name) => describe(proxy, name)));
    if (values.json) await writeOut(`${formatJson(infos, process.stdout.isTTY === true)}\n`);
    else await writeOut(tree(infos, object));
    return Exit.OK;
  } finally {
    await proxy.$close().catch(() => undefined);
  }
}

type Proxy = Awaited<ReturnType<typeof open>>;

async function describe(proxy: Proxy, name: string): Promise<MethodInfo> {
  // Servers without a signature or help for a method (XML-RPC's "signatures not supported") still list it.
  const [sig, help] = await Promise.allSettled([proxy.$call("system.methodSignature", [name]), proxy.$call("system.methodHelp", [name])]);
  return { name, signature: signatureText(name, sig.status === "fulfilled" ? sig.value : undefined), help: help.status === "fulfilled" && typeof help.value === "string" ? help.value : "" };
}

/** wirecall answers 'add(x, y?)'; XML-RPC servers a list of [return type, param types...] lists. */
function signatureText(name: string, sig: unknown): string {
  if (typeof sig === "string" && sig.startsWith(name)) return sig;
  if (Array.isArray(sig) && sig.every((s) => Array.isArray(s))) {
    return (sig as unknown[][]).map((s) => `${name}(${s.slice(1).join(", ")})${s.length > 0 ? ` -> ${String(s[0])}` : ""}`).join(" | ");
  }
  return `${name}(...)`;
}

/** Dotted names grouped: `greeter.hello` under a `greeter` line, indented two spaces per level. */
function tree(infos: MethodInfo[], object: string | undefined): string {
  const lines: string[] = [];
  let open: string[] = [];
  const strip = object === undefined ? 0 : object.length + 1;
  for (const info of infos) {
    const parts = info.name.slice(strip).split(".");
    const leaf = parts.pop() as string;
    let common = 0;
    while (common < open.length && common < parts.length && open[common] === parts[common]) common++;
    for (let i = common; i < parts.length; i++) lines.push(`${"  ".repeat(i)}${parts[i]}`);
    open = parts;
    const sig = info.signature.slice(info.signature.lastIndexOf(".", info.signature.indexOf("(")) + 1);
    const head = `${"  ".repeat(parts.length)}${sig.startsWith(leaf) ? sig : `${leaf}${sig}`}`;
    const help = info.help.split("\n")[0]?.trim() ?? "";
    lines.push(help ? `${head.padEnd(32)}  ${help}` : head);
  }
  return lines.length === 0 ? "(no methods)\n" : `${lines.join("\n")}\n`;
}
