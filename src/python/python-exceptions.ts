/**
 * Python's builtin exception classes: the allow-list the pickle decoder
 * accepts, the error class they decode to, and the mapping from a JavaScript
 * error to the Python exception a recipe caller receives.
 */
import { ErrorCodes, RemoteError } from "../errors.js";

/** Exception classes present in both Python 2.7 and Python 3. */
const COMMON = [
  "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit", "Exception", "StopIteration",
  "ArithmeticError", "FloatingPointError", "OverflowError", "ZeroDivisionError", "AssertionError",
  "AttributeError", "BufferError", "EnvironmentError", "IOError", "OSError", "EOFError", "ImportError",
  "LookupError", "IndexError", "KeyError", "MemoryError", "NameError", "UnboundLocalError",
  "ReferenceError", "RuntimeError", "NotImplementedError", "SyntaxError", "IndentationError", "TabError",
  "SystemError", "TypeError", "ValueError", "UnicodeError", "UnicodeDecodeError", "UnicodeEncodeError",
  "UnicodeTranslateError", "Warning", "UserWarning", "DeprecationWarning", "PendingDeprecationWarning",
  "SyntaxWarning", "RuntimeWarning", "FutureWarning", "ImportWarning", "UnicodeWarning", "BytesWarning",
];

/** Python 2 only (module `exceptions`). */
const PY2_ONLY = ["StandardError", "WindowsError", "VMSError"];

/** Python 3's OSError subclasses; Python 2 pickles carry them as OSError. */
const PY3_OSERRORS = [
  "BlockingIOError", "ChildProcessError", "ConnectionError", "BrokenPipeError", "ConnectionAbortedError",
  "ConnectionRefusedError", "ConnectionResetError", "FileExistsError", "FileNotFoundError",
  "InterruptedError", "IsADirectoryError", "NotADirectoryError", "PermissionError", "ProcessLookupError",
  "TimeoutError",
];

/** Python 3 only (module `builtins`). */
const PY3_ONLY = [
  ...PY3_OSERRORS, "ModuleNotFoundError", "RecursionError", "StopAsyncIteration", "ResourceWarning",
  "EncodingWarning", "BaseExceptionGroup", "ExceptionGroup", "PythonFinalizationError",
];

const PY2 = new Set([...COMMON, ...PY2_ONLY]);
const PY3 = new Set([...COMMON, ...PY3_ONLY]);

/** Modules under which pickles name builtin exceptions (Python 3, Python 2, and Python 2's `exceptions`). */
export const EXCEPTION_MODULES: ReadonlySet<string> = new Set(["builtins", "__builtin__", "exceptions"]);

/** True for the name of a builtin exception class of Python 2 or 3. */
export function isPythonException(name: string): boolean {
  return PY3.has(name) || PY2.has(name);
}

/**
 * A builtin Python exception, decoded from a pickle: `name` is the Python
 * class name (`ValueError`), `message` its first argument, `args` all of
 * them. It is a {@link RemoteError}, so it is what a recipe client rejects with.
 */
export class PythonError extends RemoteError {
  /** The exception's `args` tuple. */
  readonly args: readonly unknown[];
  /** Instance attributes the pickle carried (its `__dict__`), if any. */
  readonly attributes: Readonly<Record<string, unknown>> | undefined;

  constructor(name: string, args: readonly unknown[], attributes?: Record<string, unknown>) {
    const code = attributes && typeof attributes.code === "string" && attributes.code ? attributes.code : ErrorCodes.REMOTE_ERROR;
    super(name, messageOf(args), code);
    this.args = args;
    this.attributes = attributes;
  }
}

/** What Python's `str(exc)` shows, close enough: the single argument, or the tuple of them. */
function messageOf(args: readonly unknown[]): string {
  if (args.length === 0) return "";
  if (args.length === 1) return typeof args[0] === "string" ? args[0] : reprish(args[0]);
  return `(${args.map(reprish).join(", ")})`;
}

function reprish(v: unknown): string {
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof Error) return `${v.name}(${reprish(v.message)})`;
  return Array.isArray(v) ? `[${v.map(reprish).join(", ")}]` : Object.prototype.toString.call(v);
}

// Null-prototype tables: names come off the wire or from thrown errors.
const JS_TO_PYTHON: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  RangeError: "ValueError",
  URIError: "ValueError",
  ReferenceError: "NameError",
  EvalError: "RuntimeError",
  AggregateError: "RuntimeError",
});

/** wirecall's own codes, as the exception a Python caller would expect from a Python server. */
const CODE_TO_PYTHON: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  METHOD_NOT_FOUND: "AttributeError",
  INVALID_PARAMS: "TypeError",
  TIMEOUT: "TimeoutError",
  CANCELLED: "RuntimeError",
  CONNECTION_CLOSED: "ConnectionError",
  PAYLOAD_TOO_LARGE: "ValueError",
  PROTOCOL_ERROR: "ValueError",
  SERIALIZE_ERROR: "TypeError",
  SHUTTING_DOWN: "RuntimeError",
});

/**
 * The builtin Python exception class for a JavaScript error: its own name
 * when that is a Python builtin (a handler can `throw Object.assign(new Error(m), { name: "KeyError" })`),
 * else by wirecall code or JavaScript class, else `RuntimeError`. For a
 * Python 2 peer, names Python 2 lacks fall back as Python's own
 * `_compat_pickle` does (OSError subclasses to OSError, ...).
 */
export function pythonExceptionName(err: unknown, python: 2 | 3): string {
  const e = err as { name?: unknown; code?: unknown } | null;
  const name = typeof e?.name === "string" ? e.name : "";
  const code = typeof e?.code === "string" ? e.code : "";
  let py: string;
  if (err instanceof Error && PY3.has(name)) py = name;
  else if (err instanceof Error && PY2.has(name)) py = python === 2 ? name : "Exception";
  else if (name === "RpcError" && CODE_TO_PYTHON[code] !== undefined) py = CODE_TO_PYTHON[code];
  else if (JS_TO_PYTHON[name] !== undefined) py = JS_TO_PYTHON[name];
  else py = "RuntimeError";
  if (python === 3 || PY2.has(py)) return py;
  if (PY3_OSERRORS.includes(py)) return "OSError";
  if (py === "ModuleNotFoundError") return "ImportError";
  return "RuntimeError";
}
