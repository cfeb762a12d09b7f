/** Command-line parsing shared by the commands: Node's util.parseArgs, values as JSON when they are JSON. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./exit-codes.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every command takes. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  verbose: { type: "boolean", short: "v" },
} as const satisfies Options;

/** What {@link parse} returns: typed values and the positionals. */
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof COMMON_OPTIONS & O; allowPositionals: true; strict: true }>>;

/** util.parseArgs in strict mode; its errors become usage errors (exit 2). */
export function parse<O extends Options>(argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

/**
 * A command-line value: JSON when it parses as JSON (`2`, `true`, `null`,
 * `[1,2]`, `{"a":1}`, `"2"` for the string), else the string itself
 * (`Ada`). Numbers beyond 2^53 keep their digits as a BigInt rather than
 * silently rounding.
 */
export function parseValue(text: string): unknown {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `--kw name=value` (repeatable) -> { name: parseValue(value) }. */
export function parseKwargs(items: readonly string[] | undefined): Record<string, unknown> | undefined {
  if (!items || items.length === 0) return undefined;
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--kw takes name=value, got '${item}'`);
    const name = item.slice(0, eq);
    if (name === "__proto__" || name === "constructor" || name === "prototype") throw new UsageError(`--kw: '${name}' cannot be a parameter name`);
    if (name in out) throw new UsageError(`--kw ${name} given twice`);
    out[name] = parseValue(item.slice(eq + 1));
  }
  return out;
}

/** A non-negative number option (ms). */
export function parseMs(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} takes a number of milliseconds, got '${text}'`);
  return n;
}
