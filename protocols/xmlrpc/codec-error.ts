/**
 * Errors raised by the XML-RPC codec. They are ordinary `RpcError`s with a
 * numeric `faultCode` of their own, so that a server answering a bad request
 * sends the fault code the interoperability table gives (see faults.ts).
 */
import { RpcError } from "../../src/errors.js";

/** Fault codes of the xmlrpc-epi "specification for fault code interoperability". */
export const FaultCodes = {
  /** parse error: not well formed */
  NOT_WELL_FORMED: -32700,
  /** parse error: unsupported encoding */
  UNSUPPORTED_ENCODING: -32701,
  /** parse error: invalid character for encoding */
  INVALID_CHARACTER: -32702,
  /** server error: invalid xml-rpc, not conforming to spec */
  INVALID_XMLRPC: -32600,
  /** server error: requested method not found */
  METHOD_NOT_FOUND: -32601,
  /** server error: invalid method parameters */
  INVALID_PARAMS: -32602,
  /** server error: internal xml-rpc error */
  INTERNAL_ERROR: -32603,
  /** application error */
  APPLICATION_ERROR: -32500,
  /** system error */
  SYSTEM_ERROR: -32400,
  /** transport error */
  TRANSPORT_ERROR: -32300,
} as const;

/** An `RpcError` carrying the XML-RPC fault code a server should answer with. */
export function codecError(
  code: "PROTOCOL_ERROR" | "SERIALIZE_ERROR" | "PAYLOAD_TOO_LARGE",
  message: string,
  faultCode: number,
  cause?: unknown,
  data?: unknown,
): RpcError {
  const err = new RpcError(code, message, { ...(cause === undefined ? {} : { cause }), ...(data === undefined ? {} : { data }) });
  Object.defineProperty(err, "faultCode", { value: faultCode, enumerable: true, writable: true, configurable: true });
  return err;
}

/** A malformed or non-conforming document: `PROTOCOL_ERROR`, fault -32600 unless told otherwise. */
export function invalid(message: string, faultCode: number = FaultCodes.INVALID_XMLRPC): RpcError {
  return codecError("PROTOCOL_ERROR", message, faultCode);
}

/**
 * A document over one of the limits (protocols/xmlrpc/limits.ts): `PAYLOAD_TOO_LARGE`,
 * fault -32600, `data: { limit, max }` naming the option that raises it.
 */
export function limitExceeded(limit: string, max: number, what: string): RpcError {
  return codecError("PAYLOAD_TOO_LARGE", `${what} (limit ${limit}: ${max}; raise it on the receiving side if this peer is trusted)`, FaultCodes.INVALID_XMLRPC, undefined, { limit, max });
}

/** A value XML-RPC cannot carry: `SERIALIZE_ERROR`. */
export function unencodable(message: string): RpcError {
  return codecError("SERIALIZE_ERROR", message, FaultCodes.INTERNAL_ERROR);
}

/** Cut long inputs echoed into messages (a hostile body must not be reflected whole). */
export function excerpt(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max)}...`;
}
