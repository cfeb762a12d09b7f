/**
 * The seam for request/response front-ends: protocols that are not frame
 * streams, such as XML-RPC over HTTP, where one HTTP request carries one
 * call. They serve an {@link RPCHandler} their own way and give the client a
 * {@link Caller}; `serve()` and `connect()` find them by URL scheme exactly
 * like framed transports (`registerTransport` takes either).
 */
import type { Caller } from "./call-types.js";
import type { RPCHandler } from "./handler.js";
import type { LooseOptions, OptionSpecs, Server, Transport } from "./transport.js";

export interface FrontEnd {
  /** Short name ("xmlrpc"). */
  readonly name: string;
  /** URL schemes without the colon ("xmlrpc+http"). */
  readonly schemes: readonly string[];
  /** Always "request-response": tells a front-end from a framed {@link Transport} at run time. */
  readonly kind: "request-response";
  /** True when the front-end uses a URL's `user:password@` (HTTP Basic auth); elsewhere credentials in URLs are refused. */
  readonly urlCredentials?: boolean;
  /**
   * The options this front-end takes, all of them: the framed transports'
   * core options (src/options.ts) do not apply to it. When declared,
   * `serve`/`connect` refuse any other name with `INVALID_OPTION` and check
   * every value's type, query string included.
   */
  readonly options?: { readonly connect?: OptionSpecs; readonly serve?: OptionSpecs };
  /** Serve `handler` at `url`; resolves once it accepts requests. */
  serve(handler: RPCHandler, url: URL, options: LooseOptions): Promise<Server>;
  /** A caller for `url`; the facade from `connect()` drives it. */
  connect(url: URL, options: LooseOptions): Promise<Caller>;
}

/** True for a {@link FrontEnd}, false for a framed transport. */
export function isFrontEnd(t: Transport | FrontEnd): t is FrontEnd {
  return (t as { kind?: unknown }).kind === "request-response";
}
