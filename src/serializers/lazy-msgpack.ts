// The dynamic-import target for `msgpack` by name (src/serializers/index.ts). A
// file of its own: bundlers splitting code keep a module that is both an
// import() target and statically re-exported (src/index.ts) in the page's
// first chunk; this one is only ever imported dynamically.
export { msgpack as serializer } from "./msgpack.js";
