/**
 * Python's RPCHandler/RPCProxy recipe over multiprocessing.connection
 * (docs/python.md): the server-side protocol, the client-side caller, and the
 * safe pickle codec they use. Browser-safe: no node:* imports.
 *
 * Importing this module (`import "wirecall/python"`) registers the recipe:
 * every `tcp://`/`tls://` server from then on also answers recipe clients
 * (`multiprocessing.connection.Client`), and `connect(url, { profile:
 * "python" })` calls recipe servers. The core never imports it, so an
 * application (or browser bundle) that does not ask for Python carries no
 * pickle code.
 */
import { registerCallerProfile, registerFrameProtocol } from "../../src/transport-sdk.js";
import { pythonRecipeProtocol } from "./recipe-protocol.js";
import { RecipeCaller, type RecipeCallerOptions } from "./recipe-caller.js";

// `connect(url, { profile: "python", idiom, limits })` type-checks once this module is imported.
declare module "../../src/proxy.js" {
  interface ProxyOptions {
    /** The recipe's idiom (profile "python"); see {@link RecipeCallerOptions.idiom}. */
    idiom?: RecipeCallerOptions["idiom"];
    /** Pickle limits (profile "python"); see {@link RecipeCallerOptions.limits}. */
    limits?: RecipeCallerOptions["limits"];
  }
}

registerFrameProtocol("tcp", pythonRecipeProtocol);
registerCallerProfile("python", (dial, options) => RecipeCaller.open(dial, options as RecipeCallerOptions), {
  idiom: { type: ["number", "string"], query: true },
  limits: { type: "object" },
});

export { pythonRecipeProtocol, createPythonRecipeProtocol } from "./recipe-protocol.js";
export type { RecipeProtocolOptions } from "./recipe-protocol.js";
export { RecipeCaller } from "./recipe-caller.js";
export type { RecipeCallerOptions } from "./recipe-caller.js";
export { IDIOM_NAMES, JSON_ERROR_KEY, parseIdiom } from "./idioms.js";
export type { Idiom } from "./idioms.js";
export { decodePickle } from "./pickle-decoder.js";
export { DEFAULT_PICKLE_LIMITS } from "./pickle-limits.js";
export type { PickleLimits } from "./pickle-limits.js";
export { encodePickle, PyTuple } from "./pickle-encoder.js";
export type { PickleEncodeOptions } from "./pickle-encoder.js";
export { PythonError, pythonExceptionName } from "./python-exceptions.js";
