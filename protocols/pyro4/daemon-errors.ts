/**
 * What a Pyro4 client receives when a call on a wirecall daemon fails: the
 * exception dict Pyro4 raises again on the Python side, with a traceback in
 * Pyro's format (`_pyroTraceback`, printed by `Pyro4.util.getPyroTraceback()`).
 */
import { pythonExceptionName } from "../python/python-exceptions.js";
import { exceptionDict } from "./class-dicts.js";
import { Pyro4RemoteError } from "./python-values.js";

/** JavaScript classes that pythonExceptionName maps to RuntimeError on purpose (not as a fallback). */
const MEANT_RUNTIME = new Set(["RuntimeError", "EvalError", "AggregateError"]);
const RUNTIME_CODES = new Set(["CANCELLED", "SHUTTING_DOWN"]);

/** A Pyro4 error class (`Pyro4.errors.<name>`) with a message, as Pyro4 would raise it. */
export function pyroError(name: string, message: string): Pyro4RemoteError {
  return new Pyro4RemoteError(`Pyro4.errors.${name}`, [message]);
}

/**
 * The error as Pyro4 sends it: a Python builtin class where one matches
 * (by the error's name, a wirecall code, or the JavaScript class), else
 * `Pyro4.errors.PyroError` carrying "Name: message", so a Python caller can
 * still tell a handler's own error classes apart.
 */
export function errorForPython(err: unknown): Error {
  if (err instanceof Pyro4RemoteError) return err;
  const e = err instanceof Error ? err : Object.assign(new Error(String(err)), { name: "Error" });
  const py = pythonExceptionName(e, 3);
  const code = (e as { code?: unknown }).code;
  const fallback = py === "RuntimeError" && !MEANT_RUNTIME.has(e.name) && !(e.name === "RpcError" && typeof code === "string" && RUNTIME_CODES.has(code));
  if (!fallback) return e;
  const attributes: Record<string, unknown> = {};
  for (const k of Object.keys(e)) {
    const v = (e as unknown as Record<string, unknown>)[k];
    if (typeof v !== "function" && typeof v !== "symbol" && k !== "stack" && k !== "cause") attributes[k] = v;
  }
  attributes.name = e.name;
  return new Pyro4RemoteError("Pyro4.errors.PyroError", [`${e.name}: ${e.message}`], attributes);
}

/**
 * Traceback lines in Python's format. The JavaScript stack (file paths,
 * code) is included only with `exposeStack`, as everywhere in wirecall;
 * otherwise one line names the call that failed.
 */
export function tracebackLines(err: Error, where: string, exposeStack: boolean): string[] {
  const lines = ["Traceback (most recent call last):\n"];
  const frames = exposeStack && typeof err.stack === "string" ? err.stack.split("\n").filter((l) => /^\s+at /.test(l)) : [];
  if (frames.length > 0) {
    for (const f of frames.reverse()) {
      const m = /^\s+at (?:(.*?) \()?(.*?):(\d+):\d+\)?$/.exec(f);
      lines.push(m ? `  File "${m[2]}", line ${m[3]}, in ${m[1] ?? "<module>"}\n` : `  ${f.trim()}\n`);
    }
  } else {
    lines.push(`  wirecall Pyro4 daemon, in ${where}\n`);
  }
  const shown = err instanceof Pyro4RemoteError ? err.name : pythonExceptionName(err, 3);
  lines.push(`${shown}: ${err.message}\n`);
  return lines;
}

/** The exception dict for a failed call on `where` ("greeter.divide"). */
export function failureDict(err: unknown, where: string, exposeStack: boolean): Record<string, unknown> {
  const e = errorForPython(err);
  return exceptionDict(e, tracebackLines(e, where, exposeStack));
}
