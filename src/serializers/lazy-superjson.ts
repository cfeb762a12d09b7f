// The dynamic-import target for `superjson` by name; see lazy-msgpack.ts.
export { superjson as serializer } from "./superjson.js";
