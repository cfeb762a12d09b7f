/**
 * Error classes, stable codes and the wire -> error conversion (what a client runs).
 * The error -> wire direction, which only answering peers run, is in errors-to-wire.ts.
 *
 * Codes are part of the public contract: never rename or reuse one. Add new
 * codes at the end of the table.
 */

/**
 * Every code wirecall itself raises. Tests and callers branch on these, never on messages.
 * wirecall's own code writes codes as literals (the {@link ErrorCode} type checks them) and
 * never reads this table, so a browser page that does not import it does not bundle it.
 */
export const ErrorCodes = {
  /** The called name is not registered (or is private). */
  METHOD_NOT_FOUND: "METHOD_NOT_FOUND",
  /** Arguments do not bind to the parameters (missing, unexpected, duplicated). */
  INVALID_PARAMS: "INVALID_PARAMS",
  /** The per-call or per-proxy timeout elapsed before a reply arrived. */
  TIMEOUT: "TIMEOUT",
  /** The caller aborted the call (AbortSignal) or the server cancelled it. */
  CANCELLED: "CANCELLED",
  /** The connection closed or was lost; the cause says why. */
  CONNECTION_CLOSED: "CONNECTION_CLOSED",
  /** The authkey challenge failed (wrong key, malformed or late answer). */
  AUTH_FAILED: "AUTH_FAILED",
  /** A frame or message exceeded the configured size limit. */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** A frame could not be decoded or is not a valid envelope. */
  PROTOCOL_ERROR: "PROTOCOL_ERROR",
  /** A value could not be encoded by the chosen serializer. */
  SERIALIZE_ERROR: "SERIALIZE_ERROR",
  /** A remote handler threw an error that carried no code of its own. */
  REMOTE_ERROR: "REMOTE_ERROR",
  /** The URL is malformed or its scheme has no transport. */
  INVALID_URL: "INVALID_URL",
  /** A connection could not be established (refused, unreachable, handshake timeout). */
  CONNECT_FAILED: "CONNECT_FAILED",
  /** An optional dependency needed by the requested transport is not installed. */
  MISSING_DEPENDENCY: "MISSING_DEPENDENCY",
  /** The server is shutting down and refuses new calls. */
  SHUTTING_DOWN: "SHUTTING_DOWN",
  /** An invariant inside wirecall was broken; a bug report is welcome. */
  INTERNAL_ERROR: "INTERNAL_ERROR",
  /** A callback or reference was used after it was released (callbacks live while their call runs unless kept). */
  REFERENCE_RELEASED: "REFERENCE_RELEASED",
  /** A name given to `RPCHandler.register`/`registerInstance` is taken; pass `{ replace: true }` to replace it. */
  ALREADY_REGISTERED: "ALREADY_REGISTERED",
  /** An option of `serve`/`connect` (or of the URL's query string) is unknown or has a wrong value; the message names it and, for a near miss, the option meant. */
  INVALID_OPTION: "INVALID_OPTION",
  /** The name server has no registration under that name (or, for `PYROMETA:`, none with those metadata tags). */
  NAME_NOT_FOUND: "NAME_NOT_FOUND",
  /** A `safe` registration found the name taken (or the name is the name server's own); remove it first or register without `safe`. */
  NAME_TAKEN: "NAME_TAKEN",
  /** A name, URL, metadata tag, regex or the number of registrations is past the name server's bounds (`limits` of startNameServer). */
  NAMING_LIMIT: "NAMING_LIMIT",
  /** The name server's storage file could not be read or written; the message names the file. */
  NAMING_STORAGE_FAILED: "NAMING_STORAGE_FAILED",
  /** Call or response metadata has more entries or bytes than the receiver's limit (docs/production.md). */
  META_TOO_LARGE: "META_TOO_LARGE",
  /** Call or response metadata is not an object of string keys to string values. */
  INVALID_META: "INVALID_META",
  /** The server's `onConnect` hook refused the connection (its own code wins when it threw an RpcError). */
  CONNECTION_REFUSED: "CONNECTION_REFUSED",
  /** A repeated idempotency key whose first outcome cannot be replayed (it carried a stream or reference). */
  IDEMPOTENCY_CONFLICT: "IDEMPOTENCY_CONFLICT",
  /** A connection already holds as many live exports (streams, callbacks, `ref()` objects sent) as it may; read, stop or release some first. */
  REFERENCE_LIMIT: "REFERENCE_LIMIT",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface RpcErrorOptions {
  cause?: unknown;
  data?: unknown;
}

/** Base class of every error wirecall raises itself. `code` is stable; branch on it. */
export class RpcError extends Error {
  /** A stable string code, one of {@link ErrorCodes} for wirecall's own errors. */
  code: string;
  /** Optional structured detail, carried over the wire. */
  data?: unknown;

  constructor(code: string, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.data !== undefined) this.data = options.data;
  }

  override get name(): string {
    return "RpcError";
  }
}


/**
 * An error thrown by a remote handler, rebuilt on the caller. `name` and
 * `message` are the remote ones; `code` is the remote error's own code, or
 * `REMOTE_ERROR` when it had none. `remoteStack` holds the server's stack
 * only when the server opted in to sending it.
 */
export class RemoteError extends RpcError {
  #name: string;
  remoteStack?: string;

  constructor(name: string, message: string, code: string = "REMOTE_ERROR", options: RpcErrorOptions = {}) {
    super(code, message, options);
    this.#name = name;
  }

  override get name(): string {
    return this.#name;
  }
}

// Null-prototype table: a hostile name such as "__proto__" or "constructor"
// finds nothing here instead of reaching Object.prototype.
export type ErrorClass = abstract new (...args: never[]) => Error;
const registry: Record<string, ErrorClass> = Object.create(null) as Record<string, ErrorClass>;

/** The class registered under `name` (./errors-from-wire.ts rebuilds remote errors with it). */
export function registeredError(name: string): ErrorClass | undefined {
  return registry[name];
}

/**
 * Register an error class so that remote errors with its name are rebuilt
 * as instances of it (`instanceof` works). The instance is created without
 * calling the constructor, then given the remote message, code, data and cause.
 */
export function registerError(cls: ErrorClass, name: string = cls.name): void {
  if (!name || name === "__proto__" || name === "constructor" || name === "prototype") {
    throw new TypeError(`cannot register an error under the name ${JSON.stringify(name)}`);
  }
  registry[name] = cls;
}

/** Remove a registration made with {@link registerError}. */
export function unregisterError(name: string): void {
  delete registry[name];
}

/** The wire form of an error: plain data every serializer can carry. */
export interface WireError {
  name: string;
  message: string;
  code: string;
  data?: unknown;
  /** Own enumerable properties of the thrown error other than the fields above. */
  props?: Record<string, unknown>;
  cause?: WireError;
  stack?: string;
}


/** An object, not an array (errors-to-wire.ts shares it). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True when `v` has the shape of a {@link WireError} (required fields only). */
export function isWireError(v: unknown): v is WireError {
  return isRecord(v) && typeof v.name === "string" && typeof v.message === "string" && typeof v.code === "string";
}

/** Shorthand for creating wirecall's own errors. */
export function rpcError(code: ErrorCode, message: string, cause?: unknown): RpcError {
  return new RpcError(code, message, cause === undefined ? {} : { cause });
}
