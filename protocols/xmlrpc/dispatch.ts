/**
 * The server side of XML-RPC, without I/O: one request document in, one
 * response document out. Transports (HTTP today) only move the bytes and
 * report a vanished client through `signal`.
 */
import { ServerCall, type PeerInfo } from "../../src/call-context.js";
import { RpcError } from "../../src/errors.js";
import type { RPCHandler } from "../../src/handler.js";
import { FaultCodes, limitExceeded } from "./codec-error.js";
import { errorToFault } from "./faults.js";
import { decodeMethodCall, encodeFault, encodeMethodResponse, type DecodeOptions } from "./message.js";
import { XMLRPC_LIMITS } from "./limits.js";
import { encodeValue, type EncodeOptions } from "./value-encode.js";

export interface XmlRpcDispatchOptions extends EncodeOptions, DecodeOptions {
  /**
   * Serve `system.multicall` (unless the handler registers its own). Default
   * true. Calls run one after another, in order, like Python's.
   */
  multicall?: boolean;
  /** Entries accepted in one `system.multicall`; more is refused whole (`PAYLOAD_TOO_LARGE`). Default 1000. */
  maxMulticallCalls?: number;
}

/** Multicall entries run between two yields to the event loop. */
const ENTRIES_PER_TURN = 64;

// Handlers that settle at once would chain the whole batch on the microtask
// queue and keep every other connection waiting; a timer lets I/O in.
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

const MULTICALL = "system.multicall";

function linkAbort(call: ServerCall, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    call.abort(signal.reason);
    return () => {};
  }
  const onAbort = (): void => call.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

async function dispatchOne(handler: RPCHandler, method: string, params: unknown[], peer: PeerInfo, signal: AbortSignal | undefined): Promise<unknown> {
  const call = new ServerCall(method, params, undefined, peer, false);
  const unlink = linkAbort(call, signal);
  try {
    return await handler.dispatch(call);
  } finally {
    unlink();
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}

function faultValue(err: unknown, handler: RPCHandler): string {
  return encodeValue(errorToFault(err, handler.options.exposeStack), { allowNone: true });
}

/** Python's `system.multicall`: an array of `{methodName, params}` -> `[result]` or a fault struct each. */
async function multicall(handler: RPCHandler, params: unknown[], peer: PeerInfo, signal: AbortSignal | undefined, options: XmlRpcDispatchOptions): Promise<string> {
  const calls = params[0];
  if (params.length !== 1 || !Array.isArray(calls)) {
    throw new RpcError("INVALID_PARAMS", "system.multicall() takes one argument: an array of {methodName, params} structs");
  }
  const max = options.maxMulticallCalls ?? XMLRPC_LIMITS.server.maxMulticallCalls;
  if (calls.length > max) throw limitExceeded("maxMulticallCalls", max, `system.multicall with ${calls.length} entries is too large`);
  const parts: string[] = ["<value><array><data>"];
  for (let i = 0; i < calls.length; i++) {
    const c: unknown = calls[i];
    if (i > 0 && i % ENTRIES_PER_TURN === 0) await nextTurn();
    if (signal?.aborted) throw new RpcError("CANCELLED", "the client went away during system.multicall");
    try {
      if (!isRecord(c) || typeof c.methodName !== "string" || !(c.params === undefined || Array.isArray(c.params))) {
        throw new RpcError("INVALID_PARAMS", "each system.multicall entry must be a struct {methodName: string, params: array}");
      }
      if (c.methodName === MULTICALL) throw new RpcError("INVALID_PARAMS", "system.multicall cannot call itself");
      const value = await dispatchOne(handler, c.methodName, (c.params as unknown[] | undefined) ?? [], peer, signal);
      parts.push(encodeValue([value], options));
    } catch (err) {
      parts.push(faultValue(err, handler));
    }
  }
  parts.push("</data></array></value>");
  return parts.join("");
}

/**
 * Answer one XML-RPC request. Never rejects: every failure (unparseable
 * document, unknown method, handler error, unencodable result) becomes a
 * fault document. `signal` aborts the running handler (its `ctx.signal`
 * fires), e.g. when the HTTP client disconnects.
 */
export async function handleXmlRpcRequest(
  handler: RPCHandler,
  body: string | Uint8Array,
  peer: PeerInfo,
  options: XmlRpcDispatchOptions = {},
  signal?: AbortSignal,
): Promise<string> {
  try {
    const { methodName, params } = decodeMethodCall(body, options);
    const ownMulticall = (options.multicall ?? true) && !handler.has(MULTICALL);
    if (ownMulticall && methodName === MULTICALL) {
      const value = await multicall(handler, params, peer, signal, options);
      return `<?xml version="1.0"?>\n<methodResponse>\n<params>\n<param>${value}</param>\n</params>\n</methodResponse>\n`;
    }
    let result = await dispatchOne(handler, methodName, params, peer, signal);
    if (ownMulticall && methodName === "system.listMethods" && Array.isArray(result) && !result.includes(MULTICALL)) {
      result = [...result, MULTICALL].sort();
    }
    return encodeMethodResponse(result, options);
  } catch (err) {
    return encodeFault(errorToFault(err, handler.options.exposeStack));
  }
}

export { FaultCodes };
