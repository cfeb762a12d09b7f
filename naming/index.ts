/**
 * `wirecall/naming`: the name server's Node-only parts (the storage file),
 * with the name server and its client re-exported so one import serves a
 * Node program. `startNameServer(url, { storage: "path" })` loads this
 * module by itself; browsers use `locateNS` and `PYRONAME:` from `wirecall`.
 */
export { fileStore, MAX_STORAGE_BYTES } from "./file-store.js";
export type { NameServerClient } from "../src/index.js";
export { startNameServer, locateNS, NameRegistry, NamingError, DEFAULT_NAMESERVER_URL, DEFAULT_NAMING_LIMITS } from "../src/index.js";
export type { NameServer, NameServerOptions, NameStore, NamingLimits } from "../src/index.js";
