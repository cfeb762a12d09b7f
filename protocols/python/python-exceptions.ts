/**
 * Python's builtin exception classes: the allow-list the pickle decoder
 * accepts, the error class they decode to, and the mapping from a JavaScript
 * error to the Python exception a recipe caller receives.
 */
import { ErrorCodes, RemoteError } from "../../src/errors.js";
import { DEFAULT_PICKLE_LIMITS } from "./pickle-limits.js";

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

  /**
   * `message` defaults to what Python's `str(exc)` shows, built within
   * `DEFAULT_PICKLE_LIMITS.maxMessageChars` (see {@link exceptionMessage}).
   */
  constructor(name: string, args: readonly unknown[], attributes?: Record<string, unknown>, message?: string) {
    const code = attributes && typeof attributes.code === "string" && attributes.code ? attributes.code : ErrorCodes.REMOTE_ERROR;
    super(name, message ?? exceptionMessage(args, { left: DEFAULT_PICKLE_LIMITS.maxMessageChars }), code);
    this.args = args;
    this.attributes = attributes;
  }
}

/** Characters of message text that may still be built; shared by every message of one decoded pickle. */
export interface MessageBudget {
  left: number;
}

/**
 * What Python's `str(exc)` shows, close enough: the single str argument as
 * it is, else a repr of the arguments. A repr is built within `budget`
 * (and draws it down), ending in "..." when it runs out: nested exceptions
 * quote each other's messages, so each level of nesting can double the
 * text, and shared arguments would repeat it. `args` always stay exact.
 */
export function exceptionMessage(args: readonly unknown[], budget: MessageBudget): string {
  if (args.length === 0) return "";
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  const out = new ReprWriter(budget);
  if (args.length === 1) out.repr(args[0]);
  else {
    out.put("(");
    for (let i = 0; i < args.length && out.ok; i++) {
      if (i > 0) out.put(", ");
      out.repr(args[i]);
    }
    out.put(")");
  }
  return out.text();
}

/** Every message may show this much, even once the shared budget is spent (bounded by maxExceptions per decode). */
const MIN_MESSAGE_CHARS = 200;

/** A repr written into a bounded list of parts: once its room is spent, nothing more is visited. */
class ReprWriter {
  readonly #parts: string[] = [];
  readonly #budget: MessageBudget;
  readonly #room: number;
  #left: number;
  #truncated = false;

  constructor(budget: MessageBudget) {
    this.#budget = budget;
    this.#room = Math.max(budget.left, MIN_MESSAGE_CHARS);
    this.#left = this.#room;
  }

  get ok(): boolean {
    return !this.#truncated;
  }

  put(s: string): void {
    if (this.#truncated) return;
    const left = this.#left;
    if (s.length <= left) {
      this.#parts.push(s);
      this.#left = left - s.length;
      return;
    }
    this.#parts.push(s.slice(0, left));
    this.#left = 0;
    this.#truncated = true;
  }

  repr(v: unknown): void {
    if (this.#truncated) return;
    if (typeof v === "string") return this.#quoted(v);
    if (v === null || v === undefined) return this.put("None");
    if (v === true) return this.put("True");
    if (v === false) return this.put("False");
    if (typeof v === "number" || typeof v === "bigint") return this.put(String(v));
    if (v instanceof Error) {
      this.put(`${v.name}(`);
      this.#quoted(v.message);
      return this.put(")");
    }
    if (Array.isArray(v)) {
      this.put("[");
      for (let i = 0; i < v.length && !this.#truncated; i++) {
        if (i > 0) this.put(", ");
        this.repr(v[i]);
      }
      return this.put("]");
    }
    this.put(Object.prototype.toString.call(v));
  }

  /** A Python-style quoted string; only the part the budget can hold is escaped. */
  #quoted(s: string): void {
    const room = this.#left;
    const head = s.length > room ? s.slice(0, room) : s;
    this.put(`'${head.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`);
  }

  text(): string {
    this.#budget.left = Math.max(0, this.#budget.left - (this.#room - this.#left));
    const s = this.#parts.join("");
    return this.#truncated ? `${s}...` : s;
  }
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
