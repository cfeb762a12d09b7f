/**
 * `wirecall serve MODULE`: a module's exports as a handler. A default
 * export that is an RPCHandler is served as is. Otherwise each named
 * export that is a function is registered under its export name (with its
 * `doc` property as help text), each object's public methods as
 * `name.method` (and reachable as the object `url#name`), and a default
 * exported plain object's methods under their bare names. Classes are not
 * callable without `new` and are skipped, as are other values.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { RPCHandler } from "../src/index.js";
import { UsageError } from "./exit-codes.js";

export interface LoadedModule {
  handler: RPCHandler;
  /** What was registered, for `--verbose`. */
  registered: string[];
  /** Exports not served, and why. */
  skipped: string[];
}

function isHandler(v: unknown): v is RPCHandler {
  // Duck-typed: the module may have imported another copy of wirecall than the one running.
  return v instanceof RPCHandler || (v !== null && typeof v === "object" && typeof (v as RPCHandler).dispatch === "function" && typeof (v as RPCHandler).listMethods === "function" && typeof (v as RPCHandler).registerInstance === "function");
}

function isClass(fn: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

export async function loadModule(path: string): Promise<LoadedModule> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`cannot find module ${path}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[cm]?tsx?$/.test(file)) {
      throw new UsageError(`cannot load ${path}: Node ${process.version} does not run TypeScript by itself; compile it to .js, or run under a loader (NODE_OPTIONS="--import tsx" wirecall serve ...)`);
    }
    // The module's own failure: keep its message and stack for --verbose.
    throw Object.assign(new UsageError(`cannot load ${path}: ${(err as Error)?.message ?? String(err)}`), { cause: err });
  }
  if (isHandler(mod.default)) return { handler: mod.default, registered: ["default export (an RPCHandler)"], skipped: [] };

  const handler = new RPCHandler();
  const registered: string[] = [];
  const skipped: string[] = [];
  for (const [name, value] of Object.entries(mod)) {
    if (name === "default") {
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        handler.registerInstance(value);
        registered.push("default export's methods");
      } else {
        skipped.push("default (serve a function under a named export, or an object or RPCHandler as default)");
      }
      continue;
    }
    if (typeof value === "function") {
      if (isClass(value)) {
        skipped.push(`${name} (a class: export an instance to serve its methods)`);
        continue;
      }
      const doc = (value as { doc?: unknown }).doc;
      handler.register(name, value, typeof doc === "string" ? { doc } : {});
      registered.push(name);
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      handler.registerInstance(value, name);
      registered.push(`${name}.*`);
    } else {
      skipped.push(`${name} (not a function or object)`);
    }
  }
  if (registered.length === 0) throw new UsageError(`${path} exports no functions, objects or RPCHandler to serve`);
  return { handler, registered, skipped };
}
