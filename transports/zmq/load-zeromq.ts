/**
 * The `zeromq` package is an optional peer dependency: it is imported the
 * first time a `zmq+` URL is used, never when this module loads, so that a
 * user without it installed (or a browser bundle) never pays for it.
 */
import type * as ZeroMQ from "zeromq";
import { RpcError } from "../../src/transport-sdk.js";

/** The `zeromq` module's namespace. */
export type ZeroMQModule = typeof ZeroMQ;

let loading: Promise<ZeroMQModule> | undefined;

/** The `zeromq` module, loaded once. Rejects with `MISSING_DEPENDENCY` when it is not installed. */
export function loadZeromq(): Promise<ZeroMQModule> {
  loading ??= importOptional<ZeroMQModule>("zeromq").catch((err: unknown) => {
    loading = undefined; // a later call may succeed once the package is installed
    throw err;
  });
  return loading;
}

/**
 * Import an optional package by name. A missing package becomes an
 * `RpcError` with code `MISSING_DEPENDENCY` whose message says what to install;
 * a package that is present but fails to load (a native binding built for
 * another platform) keeps the same code and carries the loader's error as cause.
 */
export async function importOptional<T>(specifier: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new RpcError(
        "MISSING_DEPENDENCY",
        `the zmq+tcp:// and zmq+ipc:// transports need the optional package '${specifier}': npm install ${specifier}`,
        { cause: err },
      );
    }
    throw new RpcError("MISSING_DEPENDENCY", `the package '${specifier}' is installed but does not load (${(err as Error)?.message ?? err}); reinstall it: npm install ${specifier}`, {
      cause: err,
    });
  }
}
