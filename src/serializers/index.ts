/**
 * The serializer registry. `json` is always there; the other built-ins
 * (`msgpack`, `superjson`) are loaded by dynamic import the first time a
 * `connect` or `serve` needs them, so a page that speaks JSON never
 * downloads msgpackr or superjson (a bundler puts them in chunks of their
 * own). Once loaded they are the same objects as the `msgpack` and
 * `superjson` exports, with no indirection on the hot path.
 */
import { createJson, json } from "./json.js";
import type { Serializer } from "./serializer.js";

export type { Serializer } from "./serializer.js";
export { DEFAULT_DECODE_LIMITS, type DecodeLimits } from "./decode-limits.js";
export { json, createJson };

const serializers = new Map<string, Serializer>([[json.name, json]]);

// Literal specifiers, so bundlers see them and split them out.
const BUILTIN: Readonly<Record<string, () => Promise<Serializer>>> = {
  superjson: () => import("./lazy-superjson.js").then((m) => m.serializer),
  msgpack: () => import("./lazy-msgpack.js").then((m) => m.serializer),
};

function builtin(name: string): (() => Promise<Serializer>) | undefined {
  return Object.prototype.hasOwnProperty.call(BUILTIN, name) ? BUILTIN[name] : undefined;
}

/** Add (or replace) a serializer; servers accept every registered one, clients pick by name. */
export function registerSerializer(s: Serializer): void {
  if (!s || typeof s.name !== "string" || !s.name || typeof s.encode !== "function" || typeof s.decode !== "function") {
    throw new TypeError("a serializer needs a name, encode and decode");
  }
  serializers.set(s.name, s);
}

/**
 * The serializer registered under `name`, or undefined. A built-in one
 * (`msgpack`, `superjson`) is there once loaded: by a `serve()`, by a
 * `connect()` naming it, or by {@link loadSerializer}.
 */
export function getSerializer(name: string): Serializer | undefined {
  return serializers.get(name);
}

/** The serializer registered under `name`, loading a built-in one first if needed; undefined for an unknown name. */
export async function loadSerializer(name: string): Promise<Serializer | undefined> {
  const found = serializers.get(name);
  if (found) return found;
  const load = builtin(name);
  if (!load) return undefined;
  const s = await load();
  // A serializer registered under this name meanwhile (createMsgpack({...})) wins.
  if (!serializers.has(name)) serializers.set(name, s);
  return serializers.get(name);
}

/** Load every built-in serializer not loaded yet: a server accepts them all. */
export async function loadSerializers(): Promise<void> {
  await Promise.all(Object.keys(BUILTIN).map((name) => loadSerializer(name)));
}

/** Names of every registered serializer, built-ins not loaded yet included. */
export function listSerializers(): string[] {
  return [...new Set([...serializers.keys(), ...Object.keys(BUILTIN)])];
}
