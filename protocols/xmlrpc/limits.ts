/**
 * What one XML-RPC document can make the receiving side spend, in one
 * place. A server reads requests from peers it may not trust, so its
 * defaults are tight; a client reads answers from the server it chose, so
 * its defaults leave room for large results. Each field is also an option
 * of the same name on `serve()`/`attachXmlRpc`/`XmlRpcRequestListener`
 * (server) and `connect()` (client), and of the codec's decode functions.
 *
 * Going over a limit is a `PAYLOAD_TOO_LARGE` `RpcError` (a fault -32600 on
 * the wire) whose message and `data.limit` name the option to raise; the
 * body limit is HTTP 413. docs/xmlrpc.md lists these defaults.
 */

/** The limits of one side. */
export interface XmlRpcLimits {
  /**
   * Largest HTTP body read, bytes, before and after gzip decoding. Guards
   * memory held per request while it arrives, and bounds everything below.
   */
  readonly maxFrameSize: number;
  /**
   * XML elements (and CDATA sections) in one document: every `<value>`,
   * type tag, `<member>`, `<name>`, `<data>` counts. Counted while the XML is
   * scanned, so a wide array or a huge multicall is refused after reading
   * this many, before a tree of the rest is built. Guards decode time and
   * the memory of the tree.
   */
  readonly maxElements: number;
  /** Deepest nesting of arrays and structs. Guards the stack and decode recursion. */
  readonly maxDepth: number;
  /**
   * Longest string, struct member name or method name (characters), and
   * largest `<base64>` value (bytes). Guards what one value hands a handler.
   */
  readonly maxStringLength: number;
}

/** Server-only limits. */
export interface XmlRpcServerLimits extends XmlRpcLimits {
  /**
   * Entries in one `system.multicall`. Each entry runs a handler in turn, so
   * this bounds the work one request can queue behind itself.
   */
  readonly maxMulticallCalls: number;
}

const MiB = 1024 * 1024;

/** Default limits: `server` for requests a server decodes, `client` for answers a client decodes. */
export const XMLRPC_LIMITS: Readonly<{ server: XmlRpcServerLimits; client: XmlRpcLimits }> = Object.freeze({
  server: Object.freeze({
    // 4 MiB: far above what XML-RPC calls carry (a 1 MiB Binary is 1.4 MB of
    // base64), small enough that a few hundred slow uploads stay bounded.
    maxFrameSize: 4 * MiB,
    // 100,000 elements: a 33,000-number array, or 1,000 multicall entries
    // of a few arguments each; scanning and decoding that many takes about
    // 100 ms of CPU or less, so no request holds the server much longer.
    maxElements: 100_000,
    maxDepth: 64,
    maxStringLength: 2 * MiB,
    // Python's MultiCall sends what the caller queued; batches of hundreds are usual.
    maxMulticallCalls: 1_000,
  }),
  client: Object.freeze({
    maxFrameSize: 16 * MiB,
    // A 100,000-row result of small structs.
    maxElements: 2_000_000,
    maxDepth: 64,
    maxStringLength: 16 * MiB,
  }),
});
