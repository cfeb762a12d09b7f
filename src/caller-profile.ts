/**
 * Client profiles: `connect(url, { profile: name })` hands the framed
 * connection to a caller that speaks another protocol (the Python recipe's
 * pickled tuples). A protocol package registers its profile when imported
 * (`import "wirecall/python"`), so the core never imports one.
 */
import type { Caller } from "./call-types.js";
import { RpcError } from "./errors.js";
import type { Connection, OptionSpecs } from "./transport.js";

/** Opens a caller over connections `dial` makes; `options` are the connect options. */
export type CallerProfile = (dial: () => Promise<Connection>, options: Record<string, unknown>) => Promise<Caller>;

const profiles = new Map<string, { open: CallerProfile; options: OptionSpecs }>();

// Where a known profile comes from, so the error can say what to import.
const PACKAGE_OF: Record<string, string> = { python: "wirecall/python" };

/** Make `connect(url, { profile: name })` use `open` (replacing an earlier one); `options` are the ones it adds. */
export function registerCallerProfile(name: string, open: CallerProfile, options: OptionSpecs = {}): void {
  profiles.set(name, { open, options });
}

/** The profile registered as `name`; an `INVALID_URL` RpcError saying what to import otherwise. */
export function callerProfile(name: string): { open: CallerProfile; options: OptionSpecs } {
  const p = profiles.get(name);
  if (p) return p;
  const pkg = Object.prototype.hasOwnProperty.call(PACKAGE_OF, name) ? PACKAGE_OF[name] : undefined;
  throw new RpcError(
    "INVALID_URL",
    pkg ? `profile '${name}' is not loaded: import "${pkg}" once before connecting` : `unknown profile '${name}' (registered: ${[...profiles.keys()].join(", ") || "none"})`,
  );
}
