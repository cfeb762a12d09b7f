/**
 * The typed call facade: `proxy.greeter.welcome(...)` becomes
 * `caller.call("greeter.welcome", args, kwargs)`.
 */
import type { Caller, CallOptions, Remote } from "./call-types.js";
import { KwargsMarker } from "./params.js";

const asyncDispose: symbol = (Symbol as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for("nodejs.asyncDispose");

const inspectCustom: symbol = Symbol.for("nodejs.util.inspect.custom");

/** Names a facade answers itself: "label" gives a function returning its label, "none" is undefined. */
const INERT: Readonly<Record<string, "label" | "none" | undefined>> = Object.assign(Object.create(null) as object, {
  then: "none",
  toJSON: "none",
  toString: "label",
  valueOf: "label",
  inspect: "label",
} as const);

/**
 * Read by the reference encoder (src/refs/) to recognise a facade passed as
 * a value; a symbol, so no remote name can collide with it.
 */
export const PROXY_INFO: unique symbol = Symbol("wirecall.proxyInfo");

/** The caller and dotted path behind a facade, or undefined for any other value. */
export function proxyInfo(v: unknown): { caller: Caller; path: string } | undefined {
  if (typeof v !== "function") return undefined;
  const info = (v as { [PROXY_INFO]?: { caller: Caller; path: string } })[PROXY_INFO];
  return info && typeof info === "object" ? info : undefined;
}

function splitKwargs(args: unknown[]): [unknown[], Record<string, unknown> | undefined] {
  const last = args[args.length - 1];
  if (last instanceof KwargsMarker) return [args.slice(0, -1), last.kwargs];
  return [args, undefined];
}

function node(caller: Caller, path: string, options: CallOptions | undefined): unknown {
  const children = new Map<string, unknown>();
  const target = function remoteMethod(...args: unknown[]): Promise<unknown> {
    if (path === "") return Promise.reject(new TypeError("the proxy itself is not callable; call one of its methods"));
    const [a, k] = splitKwargs(args);
    return caller.call(path, a, k, options);
  };
  const label = `[wirecall proxy${path === "" ? "" : ` ${path}`}]`;
  const proxy: object = new Proxy(target, {
    get(_t, prop) {
      if (typeof prop === "symbol") {
        if (prop === asyncDispose && path === "") return () => caller.close();
        if (prop === Symbol.toPrimitive) return () => label;
        if (prop === inspectCustom) return () => label;
        if (prop === PROXY_INFO) return { caller, path };
        return undefined;
      }
      // Never forward `then` (`await proxy` must not turn into a remote call),
      // nor what JSON.stringify, String() and template strings look up: an
      // inspected proxy makes no call and throws nothing. `$call` reaches
      // remote methods with these names.
      const local = INERT[prop];
      if (local !== undefined) return local === "label" ? () => label : undefined;
      if (path === "" && prop.startsWith("$")) return control(caller, prop, options);
      let child = children.get(prop);
      if (child === undefined) {
        child = node(caller, path === "" ? prop : `${path}.${prop}`, options);
        children.set(prop, child);
      }
      return child;
    },
    set() {
      return false;
    },
    has(_t, prop) {
      return typeof prop === "string" && INERT[prop] === undefined;
    },
  });
  return proxy;
}

function control(caller: Caller, prop: string, options: CallOptions | undefined): unknown {
  switch (prop) {
    case "$call":
      return (name: string, args: unknown[] = [], kwargs?: Record<string, unknown>, opts?: CallOptions) =>
        caller.call(name, args, kwargs, opts ? merge(options, opts) : options);
    case "$notify":
      return (name: string, ...args: unknown[]) => {
        const [a, k] = splitKwargs(args);
        return caller.notify(name, a, k);
      };
    case "$with":
      return (opts: CallOptions) => node(caller, "", merge(options, opts));
    case "$close":
      return () => caller.close();
    case "$caller":
      return caller;
    default:
      return undefined;
  }
}

/** Options over options; metadata is merged entry by entry rather than replaced. */
function merge(a: CallOptions | undefined, b: CallOptions): CallOptions {
  const out = { ...a, ...b };
  if (a?.meta !== undefined && b.meta !== undefined) out.meta = { ...a.meta, ...b.meta };
  return out;
}

/** Build the facade over any {@link Caller}. */
export function createFacade<T = unknown>(caller: Caller, options?: CallOptions): Remote<T> {
  return node(caller, "", options) as Remote<T>;
}
