/**
 * Exit codes scripts can rely on (documented in `wirecall --help` and the
 * README), and the one-line message a person sees for an error.
 */
import { RemoteError, RpcError } from "../src/index.js";

/** Never renumber: scripts branch on these. */
export const Exit = {
  /** Done. */
  OK: 0,
  /** The remote side raised (a handler's exception, METHOD_NOT_FOUND, INVALID_PARAMS, NAME_NOT_FOUND...), or another failure not listed below. */
  FAILED: 1,
  /** Bad command line: unknown command or option, bad URL or option value, a module that cannot be loaded. */
  USAGE: 2,
  /** Could not connect or authenticate, or the connection was lost; `serve`: could not listen (address in use...). */
  CONNECT: 3,
  /** The call timed out (`--timeout`). */
  TIMEOUT: 4,
  /** An optional package the URL needs is not installed (zeromq, the NATS client...). */
  MISSING_DEPENDENCY: 5,
  /** Interrupted (SIGINT) before the command finished. */
  INTERRUPTED: 130,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0    ok
  1    remote error (the handler raised, unknown method, bad params, name not found) or other failure
  2    usage: unknown command or option, bad URL or option value, module not loadable
  3    cannot connect or authenticate, or the connection was lost; serve: cannot listen
  4    timeout
  5    an optional package the URL needs is not installed (zeromq, NATS client...),
       or (bench) the benchmarks are not in this installation
  130  interrupted`;

/** A mistake on the command line: printed with a hint to `--help`, exit 2. */
export class UsageError extends Error {
  override get name(): string {
    return "UsageError";
  }
}

const CONNECT_CODES = new Set(["CONNECT_FAILED", "AUTH_FAILED", "CONNECTION_CLOSED"]);
const USAGE_CODES = new Set(["INVALID_URL", "INVALID_OPTION"]);

/** A remote error keeps exit 1 whatever its code: a handler's own CONNECT_FAILED is still the server's failure. */
function isRemote(err: unknown): boolean {
  return err instanceof RemoteError || (err instanceof RpcError && err.name === "NamingError");
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return Exit.USAGE;
  if (isRemote(err)) return Exit.FAILED;
  if (err instanceof RpcError) {
    if (CONNECT_CODES.has(err.code)) return Exit.CONNECT;
    if (err.code === "TIMEOUT") return Exit.TIMEOUT;
    if (err.code === "MISSING_DEPENDENCY") return Exit.MISSING_DEPENDENCY;
    if (USAGE_CODES.has(err.code)) return Exit.USAGE;
  }
  return Exit.FAILED;
}

/** The errno-style code deepest in the cause chain (ECONNREFUSED...), if any. */
function systemCode(err: unknown): string | undefined {
  let found: string | undefined;
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z0-9_]+$/.test(code)) found = code;
  }
  return found;
}

/**
 * One line for people: `wirecall: cannot connect to tcp://...: ECONNREFUSED`,
 * `wirecall: remote ZeroDivisionError [REMOTE_ERROR]: division by zero`.
 * `target` is the URL the command was talking to.
 */
export function describeError(err: unknown, target?: string, listening = false): string {
  if (err instanceof UsageError) return `wirecall: ${err.message} (see wirecall --help)`;
  if (isRemote(err)) {
    const e = err as RpcError;
    return `wirecall: remote ${e.name} [${e.code}]: ${oneLine(e.message)}`;
  }
  if (err instanceof RpcError) {
    if (err.code === "CONNECT_FAILED" && target) {
      const sys = systemCode(err);
      return `wirecall: cannot ${listening ? "serve on" : "connect to"} ${target}: ${sys ?? oneLine(err.message)}`;
    }
    return `wirecall: ${err.code}: ${oneLine(err.message)}`;
  }
  if (err instanceof Error) return `wirecall: ${oneLine(err.message)}`;
  return `wirecall: ${oneLine(String(err))}`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/** `--verbose`: the stack and every cause. */
export function describeErrorVerbose(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e !== undefined && depth < 8; e = (e as { cause?: unknown } | null)?.cause, depth++) {
    const text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    const code = (e as { code?: unknown } | null)?.code;
    parts.push((depth === 0 ? "" : "caused by: ") + (typeof code === "string" ? `[${code}] ` : "") + text);
    if (e === null || typeof e !== "object") break;
  }
  return parts.join("\n");
}
