/**
 * Errors <-> XML-RPC faults.
 *
 * A server turns what a handler threw into `faultCode` (from the table
 * below, or the error's own integer `faultCode` property), `faultString`
 * (`"Name: message"`), and one extra member, `wirecall`, a struct with the
 * error's `name`, `message`, string `code` and `data`, so that a wirecall
 * client rebuilds it exactly. Other clients ignore the extra member (Python's
 * `Fault` takes it as a keyword argument).
 *
 * A client turns a fault into a `RemoteError` (or a class registered with
 * `registerError`): `name`/`message`/`code`/`data` from the `wirecall` member
 * when present; otherwise `code` from the table, and name and message parsed
 * from `faultString` (Python's `"<class 'ValueError'>:msg"` gives `ValueError`
 * and `msg`). The numeric code and the raw text stay on the error as
 * `faultCode` and `faultString`.
 */
import { ErrorCodes, type WireError } from "../../src/errors.js";
import { fromWireError } from "../../src/errors-from-wire.js";
import { toWireError } from "../../src/errors-to-wire.js";
import { FaultCodes } from "./codec-error.js";
import type { Fault } from "./message.js";

/** wirecall code -> faultCode. Codes not listed are application errors (-32500). */
export const FAULT_CODE_OF: Readonly<Record<string, number>> = Object.freeze({
  [ErrorCodes.PROTOCOL_ERROR]: FaultCodes.INVALID_XMLRPC,
  [ErrorCodes.METHOD_NOT_FOUND]: FaultCodes.METHOD_NOT_FOUND,
  [ErrorCodes.INVALID_PARAMS]: FaultCodes.INVALID_PARAMS,
  [ErrorCodes.SERIALIZE_ERROR]: FaultCodes.INTERNAL_ERROR,
  [ErrorCodes.INTERNAL_ERROR]: FaultCodes.INTERNAL_ERROR,
  [ErrorCodes.PAYLOAD_TOO_LARGE]: FaultCodes.INVALID_XMLRPC,
  [ErrorCodes.SHUTTING_DOWN]: FaultCodes.SYSTEM_ERROR,
  [ErrorCodes.CANCELLED]: FaultCodes.SYSTEM_ERROR,
  [ErrorCodes.TIMEOUT]: FaultCodes.SYSTEM_ERROR,
  [ErrorCodes.CONNECTION_CLOSED]: FaultCodes.TRANSPORT_ERROR,
});

/** faultCode -> wirecall code, for faults that carry no `wirecall` member. Others are `REMOTE_ERROR`. */
export function codeOfFault(faultCode: number): string {
  switch (faultCode) {
    case FaultCodes.NOT_WELL_FORMED:
    case FaultCodes.UNSUPPORTED_ENCODING:
    case FaultCodes.INVALID_CHARACTER:
    case FaultCodes.INVALID_XMLRPC:
      return ErrorCodes.PROTOCOL_ERROR;
    case FaultCodes.METHOD_NOT_FOUND:
      return ErrorCodes.METHOD_NOT_FOUND;
    case FaultCodes.INVALID_PARAMS:
      return ErrorCodes.INVALID_PARAMS;
    case FaultCodes.INTERNAL_ERROR:
      return ErrorCodes.INTERNAL_ERROR;
    default:
      return ErrorCodes.REMOTE_ERROR;
  }
}

function isInt32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
}

/**
 * The fault a server sends for `err`. `withStack` adds the stack to the
 * `wirecall` member (only when the handler opted in with `exposeStack`).
 */
export function errorToFault(err: unknown, withStack = false): Fault {
  const w = toWireError(err, withStack);
  const own = (err as { faultCode?: unknown } | null)?.faultCode;
  const faultCode = isInt32(own) ? own : (FAULT_CODE_OF[w.code] ?? FaultCodes.APPLICATION_ERROR);
  const detail: Record<string, unknown> = { name: w.name, message: w.message, code: w.code };
  if (w.data !== undefined) detail.data = w.data;
  if (w.stack !== undefined) detail.stack = w.stack;
  return { faultCode, faultString: w.message ? `${w.name}: ${w.message}` : w.name, wirecall: detail };
}

// Python 3: "<class 'ValueError'>:msg"; Python 2: "<type 'exceptions.ValueError'>:msg".
const PYTHON_FORM = /^<(?:class|type) '([^']+)'>:([\s\S]*)$/;
// Many servers (and wirecall): "ValueError: msg".
const NAME_FORM = /^([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*): ([\s\S]*)$/;

/** Name and message from a faultString, or `Fault` and the whole string when no form matches. */
export function parseFaultString(s: string): { name: string; message: string } {
  const m = PYTHON_FORM.exec(s) ?? NAME_FORM.exec(s);
  if (!m) return { name: "Fault", message: s };
  const dotted = m[1] as string;
  return { name: dotted.slice(dotted.lastIndexOf(".") + 1) || "Fault", message: m[2] as string };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Rebuild a fault as an error (see the module comment). `localStack` is the
 * caller's stack, appended so the trace points at the calling line.
 */
export function faultToError(fault: Fault, localStack?: string): Error {
  const detail = fault.wirecall;
  let wire: WireError;
  if (isRecord(detail) && typeof detail.name === "string" && typeof detail.message === "string" && typeof detail.code === "string") {
    wire = { name: detail.name, message: detail.message, code: detail.code };
    if (detail.data !== undefined) wire.data = detail.data;
    if (typeof detail.stack === "string") wire.stack = detail.stack;
  } else {
    const { name, message } = parseFaultString(fault.faultString);
    wire = { name, message, code: codeOfFault(fault.faultCode) };
  }
  wire.props = { faultCode: fault.faultCode, faultString: fault.faultString };
  return fromWireError(wire, localStack);
}
