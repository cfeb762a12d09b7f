/**
 * RPCHandler: the registry of callable names, Python-style argument binding,
 * middleware and introspection. It knows nothing of connections; sessions
 * (src/session.ts) and other front ends call {@link RPCHandler.dispatch}.
 */
import { RpcError } from "./errors.js";
import type { CallContext } from "./call-types.js";
import { InstanceFactories, type FactoryOptions } from "./instance-modes.js";
import { bindArguments, parseParamSpecs, readParams, type Param, type ParamSpec } from "./params.js";

/** Middleware wraps dispatch: call `next()` to run the rest of the chain and the method. */
export type Middleware = (ctx: CallContext, next: () => Promise<unknown>) => unknown;

export interface RegisterOptions {
  /** Parameter names for keyword binding; read from the function itself when omitted. */
  params?: readonly ParamSpec[];
  /** Text for `system.methodHelp`. */
  doc?: string;
  /** Pass the {@link CallContext} as the first argument (not bound from the call's arguments). */
  context?: boolean;
  /** Replace a method already registered under this name (otherwise that is an `ALREADY_REGISTERED` error). */
  replace?: boolean;
}

export interface HandlerOptions {
  /** Serve `system.listMethods`, `system.methodSignature`, `system.methodHelp`. Default true. */
  introspection?: boolean;
  /** Send remote stacks to callers. Default false: stacks can leak paths and code. */
  exposeStack?: boolean;
  /** Called with errors that have no caller to go to (one-way calls, broken connections). */
  onError?: (err: unknown, ctx: CallContext | undefined) => void;
  /**
   * Decide what a caller learns of an error a call failed with, before it
   * leaves the server. By default the thrown error's name, message, code,
   * `data`, other own enumerable properties and its `cause` chain travel to
   * the caller (the stack only with `exposeStack`); messages often hold file
   * paths, addresses or query text. Return the error to send instead (or
   * `err` itself to send it unchanged); see docs/protocol.md, "What leaves
   * the server". Not called for one-way calls, whose errors go to `onError`
   * unchanged. If it throws, the caller gets a bare `INTERNAL_ERROR`.
   */
  redactError?: (err: unknown, ctx: CallContext) => unknown;
}

interface Method {
  readonly fn: Function;
  readonly thisArg: unknown;
  readonly params: Param[] | undefined;
  /** How many parameters it has when it has no rest parameter (else -1): that many positional arguments bind as they are. */
  readonly arity: number;
  readonly doc: string;
  readonly context: boolean;
  /** Its name is private (`_x`, `a._x`): registered, but never callable from outside. */
  readonly hidden: boolean;
}

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

function checkName(name: string): void {
  if (typeof name !== "string" || name === "") throw new TypeError("a method needs a non-empty name");
  for (const part of name.split(".")) {
    if (part === "" || FORBIDDEN.has(part)) throw new TypeError(`invalid method name ${JSON.stringify(name)}`);
  }
}

function isPrivate(name: string): boolean {
  return name.startsWith("_") || name.includes("._");
}

function signatureOf(name: string, m: Method): string {
  if (!m.params) return `${name}(...)`;
  const ps = m.params.map((p) => (p.rest ? `...${p.name}` : p.optional ? `${p.name}?` : p.name));
  return `${name}(${ps.join(", ")})`;
}

const paramCache = new WeakMap<Function, Param[] | undefined>();

/** A factory instance's method parameters, read once per function. */
function paramsOf(fn: Function): Param[] | undefined {
  if (paramCache.has(fn)) return paramCache.get(fn);
  const p = readParams(fn);
  paramCache.set(fn, p);
  return p;
}

/** What {@link RPCHandler.dispatchPlain} returns for a call that needs its context made first. */
export const NEEDS_CONTEXT: unique symbol = Symbol("wirecall.needsContext");

/** Dispatches `(name, args, kwargs)` to registered functions and instance methods. */
export class RPCHandler {
  readonly #methods = new Map<string, Method>();
  readonly #middleware: Middleware[] = [];
  /** Ids given to registerInstance, so a call to a removed object can say which. */
  readonly #objects = new Set<string>();
  readonly #factories = new InstanceFactories();
  readonly options: Readonly<HandlerOptions>;

  constructor(options: HandlerOptions = {}) {
    this.options = { introspection: true, exposeStack: false, ...options };
    if (this.options.introspection) this.#registerIntrospection();
  }

  /**
   * Register a function under its own name (`fn.name`), or under an explicit
   * (possibly dotted) name, like XML-RPC's `register_function(f, alias)`.
   * A name already registered is an `ALREADY_REGISTERED` error unless
   * `{ replace: true }` is passed.
   */
  register(fn: Function, options?: RegisterOptions): this;
  register(name: string, fn: Function, options?: RegisterOptions): this;
  register(a: string | Function, b?: Function | RegisterOptions, c?: RegisterOptions): this {
    const [name, fn, opts] = typeof a === "string" ? [a, b as Function, c ?? {}] : [a.name, a, (b as RegisterOptions) ?? {}];
    if (typeof fn !== "function") throw new TypeError("register() needs a function");
    this.#add(name, fn, undefined, opts);
    return this;
  }

  /**
   * Expose an object's public methods, own and inherited (never those of
   * `Object.prototype`, never names starting with `_`), as `prefix.method`
   * (or bare names without a prefix), bound to the object. Like XML-RPC's
   * `register_instance` and a Pyro object, but the set is fixed now.
   */
  registerInstance(obj: object, prefix?: string, options: { context?: boolean | readonly string[]; replace?: boolean } = {}): this {
    if (typeof obj !== "object" && typeof obj !== "function") throw new TypeError("registerInstance() needs an object");
    if (prefix !== undefined) checkName(prefix);
    const seen = new Set<string>();
    const found: [string, Function, boolean][] = [];
    for (let p: object | null = obj; p && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
      for (const key of Object.getOwnPropertyNames(p)) {
        if (seen.has(key) || key.startsWith("_") || FORBIDDEN.has(key)) continue;
        seen.add(key);
        const desc = Object.getOwnPropertyDescriptor(p, key);
        if (!desc || typeof desc.value !== "function") continue; // accessors are never called
        const ctx = options.context === true || (Array.isArray(options.context) && options.context.includes(key));
        found.push([prefix ? `${prefix}.${key}` : key, desc.value as Function, ctx]);
      }
    }
    // All or nothing: a clash found halfway must not leave half the object registered.
    const taken = options.replace === true ? undefined : found.find(([name]) => this.#methods.has(name));
    if (taken) throw new RpcError("ALREADY_REGISTERED", `method '${taken[0]}' is already registered: pass { replace: true } to replace it, or unregister('${taken[0]}') first`);
    for (const [name, fn, ctx] of found) this.#add(name, fn, obj, { context: ctx, replace: true });
    if (prefix !== undefined) this.#objects.add(prefix);
    return this;
  }

  /**
   * Serve the object `id` from instances `create` makes: one per connection
   * (`{ per: "connection" }`, dropped and passed to `dispose` when the
   * connection closes) or a new one per call (`{ per: "call" }`), like Pyro's
   * instance modes; `registerInstance` is the shared mode. Public methods
   * are found on each instance as registerInstance finds them. Remove with
   * `unregisterInstance(id)`.
   */
  registerFactory(id: string, create: (ctx: CallContext) => object, options: FactoryOptions): this {
    checkName(id);
    this.#factories.add(id, create, options);
    this.#objects.add(id);
    return this;
  }

  /**
   * Stop serving the object registered as `id` (its URL is `server.urlOf(id)`);
   * later calls to it fail with `METHOD_NOT_FOUND` naming it. Safe while
   * serving: calls already running finish. Returns how many methods went.
   */
  unregisterInstance(id: string): number {
    return this.unregister(id);
  }

  /** Remove a name, or every name under a prefix (`unregister("greeter")`). Returns how many went. */
  unregister(name: string): number {
    this.#objects.delete(name);
    let n = this.#methods.delete(name) ? 1 : 0;
    if (this.#factories.delete(name)) n++;
    const pre = `${name}.`;
    for (const key of [...this.#methods.keys()]) {
      if (key.startsWith(pre)) n += this.#methods.delete(key) ? 1 : 0;
    }
    return n;
  }

  /** Add middleware, run in order around every dispatch. */
  use(mw: Middleware): this {
    this.#middleware.push(mw);
    return this;
  }

  /** Registered public names, sorted. */
  listMethods(): string[] {
    return [...this.#methods.keys()].filter((n) => !isPrivate(n)).sort();
  }

  /** True when `name` is registered and callable from outside. */
  has(name: string): boolean {
    return !isPrivate(name) && this.#methods.has(name);
  }

  /**
   * Run one call through middleware and the method. Rejects with an
   * `RpcError` for unknown names or bad arguments, or with whatever the method threw.
   */
  dispatch(ctx: CallContext): Promise<unknown> {
    const redact = this.options.redactError;
    if (redact === undefined || ctx.oneway) return this.#run(ctx);
    return this.#run(ctx).catch((err: unknown) => {
      let out: unknown;
      try {
        out = redact(err, ctx);
      } catch {
        out = new RpcError("INTERNAL_ERROR", "the call failed (its error could not be redacted)");
      }
      throw out;
    });
  }

  /**
   * Like {@link dispatch}, for a caller that can take a result at once: a
   * method that returns a plain value (no middleware, no `redactError`)
   * gives that value here, with no promise made, and one that throws
   * throws here. Otherwise (an async method, middleware, `redactError`)
   * this returns the Promise that `dispatch` returns. A session answers
   * such a call before it reads the next frame (src/serving.ts).
   */
  dispatchNow(ctx: CallContext): unknown {
    if (this.#middleware.length !== 0 || (this.options.redactError !== undefined && !ctx.oneway)) return this.dispatch(ctx);
    return this.#call(ctx);
  }

  /**
   * Like {@link dispatchNow}, for a caller that has not made the call's
   * context yet (a session's plain call, src/serving.ts): the method's own
   * return value, or its throw, when it runs without a context (no
   * middleware, no `redactError`, a registered method that does not take
   * `ctx`); otherwise {@link NEEDS_CONTEXT}, and nothing ran.
   */
  dispatchPlain(method: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>> | undefined): unknown {
    if (this.#middleware.length !== 0 || this.options.redactError !== undefined) return NEEDS_CONTEXT;
    const m = this.#methods.get(method);
    if (m === undefined || m.hidden) {
      if (this.#factories.size > 0 && !isPrivate(method)) return NEEDS_CONTEXT;
      throw this.#notFound(method);
    }
    if (m.context) return NEEDS_CONTEXT;
    // Every parameter given by position, nothing by keyword: bound as they are (what bindArguments would return).
    if (kwargs === undefined && args.length === m.arity) return m.fn.apply(m.thisArg, args as unknown[]);
    return m.fn.apply(m.thisArg, bindArguments(method, m.params, args, kwargs));
  }

  #run(ctx: CallContext): Promise<unknown> {
    if (this.#middleware.length === 0) return this.#invoke(ctx);
    const chain = this.#middleware;
    const run = (i: number): Promise<unknown> => {
      const mw = chain[i];
      if (!mw) return this.#invoke(ctx);
      try {
        return Promise.resolve(mw(ctx, () => run(i + 1)));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return run(0);
  }

  #invoke(ctx: CallContext): Promise<unknown> {
    try {
      const result = this.#call(ctx);
      // Plain values skip a microtask hop; thenables are adopted.
      return result instanceof Promise ? result : Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The method's own return value; throws what it throws, and METHOD_NOT_FOUND / INVALID_PARAMS. */
  #call(ctx: CallContext): unknown {
    const name = ctx.method;
    const m = this.#methods.get(name);
    if (m === undefined || m.hidden) {
      const made = this.#factories.size > 0 && !isPrivate(name) ? this.#factories.resolve(ctx) : undefined;
      if (!made) throw this.#notFound(name);
      return made.fn.apply(made.thisArg, bindArguments(name, paramsOf(made.fn), ctx.args, ctx.kwargs));
    }
    const bound = bindArguments(name, m.params, ctx.args, ctx.kwargs);
    return m.context ? m.fn.call(m.thisArg, ctx, ...bound) : m.fn.apply(m.thisArg, bound);
  }

  #notFound(method: string): RpcError {
    const dot = method.lastIndexOf(".");
    const id = dot > 0 ? method.slice(0, dot) : "";
    if (id !== "" && !this.#objects.has(id) && !this.#hasPrefix(`${id}.`)) {
      return new RpcError("METHOD_NOT_FOUND", `no object '${id}' is served here (never registered, or removed), so '${method}' cannot be called`);
    }
    return new RpcError("METHOD_NOT_FOUND", `method '${method}' is not registered`);
  }

  #hasPrefix(pre: string): boolean {
    for (const key of this.#methods.keys()) if (key.startsWith(pre)) return true;
    return false;
  }

  #add(name: string, fn: Function, thisArg: unknown, opts: RegisterOptions): void {
    checkName(name);
    // A second registration silently winning hides a naming clash; replacing must be asked for.
    if (!opts.replace && this.#methods.has(name)) {
      throw new RpcError("ALREADY_REGISTERED", `method '${name}' is already registered: pass { replace: true } to replace it, or unregister('${name}') first`);
    }
    let params = opts.params ? parseParamSpecs(opts.params) : readParams(fn);
    if (opts.context && params && !opts.params) params = params.slice(1);
    const arity = params !== undefined && !params.some((p) => p.rest) ? params.length : -1;
    this.#methods.set(name, { fn, thisArg, params, arity, doc: opts.doc ?? "", context: !!opts.context, hidden: isPrivate(name) });
  }

  #lookup(name: unknown): Method {
    const m = typeof name === "string" && !isPrivate(name) ? this.#methods.get(name) : undefined;
    if (!m) throw new RpcError("METHOD_NOT_FOUND", `method '${String(name)}' is not registered`);
    return m;
  }

  #registerIntrospection(): void {
    this.register("system.listMethods", () => this.listMethods(), { params: [], doc: "List the names of every registered method." });
    this.register("system.methodSignature", (name: string) => signatureOf(name, this.#lookup(name)), {
      params: ["name"],
      doc: "Return a method's signature as text, e.g. 'add(x, y?)'; '(...)' when its parameters are unknown.",
    });
    this.register("system.methodHelp", (name: string) => this.#lookup(name).doc, {
      params: ["name"],
      doc: "Return the documentation string given when the method was registered.",
    });
  }
}
