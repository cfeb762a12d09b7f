/**
 * The {@link HmacFn} for Node transports: node:crypto, with SHA-256 and the
 * legacy MD5 that Python 3.11 and older peers need. Shared by the TCP,
 * WebSocket and ZeroMQ transports on Node (browsers use src/auth's WebCrypto one).
 */
import { createHmac } from "node:crypto";
import type { HmacFn } from "../src/transport-sdk.js";

export const nodeHmac: HmacFn = (algorithm, key, message) => createHmac(algorithm, key).update(message).digest();
