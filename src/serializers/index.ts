import { createJson, json } from "./json.js";
import { createMsgpack, msgpack } from "./msgpack.js";
import type { Serializer } from "./serializer.js";
import { createSuperjson, superjson } from "./superjson.js";

export type { Serializer } from "./serializer.js";
export { DEFAULT_DECODE_LIMITS, type DecodeLimits } from "./decode-limits.js";
export { json, msgpack, superjson, createJson, createMsgpack, createSuperjson };

const serializers = new Map<string, Serializer>([
  [json.name, json],
  [superjson.name, superjson],
  [msgpack.name, msgpack],
]);

/** Add (or replace) a serializer; servers accept every registered one, clients pick by name. */
export function registerSerializer(s: Serializer): void {
  if (!s || typeof s.name !== "string" || !s.name || typeof s.encode !== "function" || typeof s.decode !== "function") {
    throw new TypeError("a serializer needs a name, encode and decode");
  }
  serializers.set(s.name, s);
}

/** The serializer registered under `name`, or undefined. */
export function getSerializer(name: string): Serializer | undefined {
  return serializers.get(name);
}

/** Names of every registered serializer. */
export function listSerializers(): string[] {
  return [...serializers.keys()];
}
