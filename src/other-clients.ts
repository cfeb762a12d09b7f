/**
 * `connect` for a client other than wirecall's own session: a
 * request/response front-end's caller (XML-RPC over HTTP) or another
 * protocol's caller profile (Python's recipe, src/caller-profile.ts). Loaded
 * only for such a connect: a page that connects to a wirecall server does
 * not carry it.
 */
import type { AnyRemote, Caller } from "./call-types.js";
import type { CallerProfile } from "./caller-profile.js";
import { createFacade } from "./facade.js";
import { isFrontEnd } from "./front-end.js";
import type { ProxyOptions } from "./proxy.js";
import type { AnyTransport } from "./transport-registry.js";
import type { LooseOptions } from "./transport.js";

/** The facade over the front-end's caller (when `transport` is one) or over `client`'s. */
export async function connectOther(
  transport: AnyTransport,
  url: URL,
  opts: ProxyOptions & LooseOptions,
  client: { open: CallerProfile } | undefined,
  forObject: (caller: Caller) => Caller,
): Promise<AnyRemote> {
  const caller: Caller = isFrontEnd(transport)
    ? await transport.connect(url, opts)
    : await client!.open(() => transport.connect(url, opts), opts as Record<string, unknown>);
  return createFacade(forObject(caller), defaults(opts)) as AnyRemote;
}

/** The per-call defaults these callers take from the connect options (a wirecall session applies its own). */
function defaults(opts: ProxyOptions): ProxyOptions | undefined {
  if (opts.timeout === undefined && opts.signal === undefined) return undefined;
  const d: ProxyOptions = {};
  if (opts.timeout !== undefined) d.timeout = opts.timeout;
  if (opts.signal !== undefined) d.signal = opts.signal;
  return d;
}
