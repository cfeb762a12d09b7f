/**
 * `@nats-io/transport-node` is an optional peer dependency: it is imported
 * the first time a `nats://` URL is used, never when this module loads, so a
 * user without it installed (or a browser bundle) never pays for it.
 */
import type * as NatsNode from "@nats-io/transport-node";
import { RpcError } from "../../src/transport-sdk.js";

/** The `@nats-io/transport-node` module's namespace. */
export type NatsModule = typeof NatsNode;

export const NATS_PACKAGE = "@nats-io/transport-node";

let loading: Promise<NatsModule> | undefined;

/** The NATS client module, loaded once. Rejects with `MISSING_DEPENDENCY` naming the package when it is not installed. */
export function loadNats(): Promise<NatsModule> {
  loading ??= importNats(NATS_PACKAGE).catch((err: unknown) => {
    loading = undefined; // a later call may succeed once the package is installed
    throw err;
  });
  return loading;
}

/** Import the client by name; exported so a test can name a package that is not installed. */
export async function importNats(specifier: string): Promise<NatsModule> {
  try {
    return (await import(specifier)) as NatsModule;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new RpcError("MISSING_DEPENDENCY", `the nats:// transport needs the optional package '${specifier}': npm install ${specifier}`, { cause: err });
    }
    throw new RpcError("MISSING_DEPENDENCY", `the package '${specifier}' is installed but does not load (${(err as Error)?.message ?? err}); reinstall it: npm install ${specifier}`, {
      cause: err,
    });
  }
}
