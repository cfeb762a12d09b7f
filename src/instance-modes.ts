/**
 * Instance modes, as in Pyro: an object id served by a factory makes a new
 * instance per connection (kept until the connection closes) or per call.
 * The connection is known by the call context's `origin`, one object per
 * connection (src/call-context.ts), whose `closed` signal drops it.
 */
import type { CallContext } from "./call-types.js";

/** Where a factory's instance lives. */
export type InstanceMode = "connection" | "call";

export interface FactoryOptions {
  /** "connection": one instance per connection, dropped on close; "call": a new one per call. */
  per: InstanceMode;
  /** Called with a per-connection instance when its connection closes (release what it holds). */
  dispose?: (instance: object) => void;
}

interface Origin {
  readonly closed?: AbortSignal;
}

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

/** The factories of one handler and the per-connection instances they made. */
export class InstanceFactories {
  readonly #factories = new Map<string, { create: (ctx: CallContext) => object; options: FactoryOptions }>();
  readonly #live = new WeakMap<object, Map<string, object>>();

  get size(): number {
    return this.#factories.size;
  }

  add(id: string, create: (ctx: CallContext) => object, options: FactoryOptions): void {
    if (typeof create !== "function") throw new TypeError("registerFactory() needs a function making the instance");
    if (options.per !== "connection" && options.per !== "call") throw new TypeError(`registerFactory(): 'per' must be "connection" or "call", got ${JSON.stringify(options.per)}`);
    this.#factories.set(id, { create, options });
  }

  delete(id: string): boolean {
    return this.#factories.delete(id);
  }

  has(id: string): boolean {
    return this.#factories.has(id);
  }

  /**
   * The method `ctx.method` names on a factory's instance, bound to it, or
   * undefined when no factory serves the id or the instance has no such
   * public method. Makes the instance when needed.
   */
  resolve(ctx: CallContext): { fn: Function; thisArg: object } | undefined {
    const dot = ctx.method.lastIndexOf(".");
    if (dot <= 0) return undefined;
    const id = ctx.method.slice(0, dot);
    const name = ctx.method.slice(dot + 1);
    const f = this.#factories.get(id);
    if (!f || name.startsWith("_") || FORBIDDEN.has(name)) return undefined;
    const origin = (ctx as { origin?: Origin }).origin;
    let obj: object | undefined;
    if (f.options.per === "connection" && origin?.closed) {
      let map = this.#live.get(origin);
      if (!map) {
        const m = new Map<string, object>();
        map = m;
        this.#live.set(origin, m);
        const signal = origin.closed;
        signal.addEventListener("abort", () => {
          this.#live.delete(origin);
          for (const [key, inst] of m) this.#factories.get(key)?.options.dispose?.(inst);
        }, { once: true });
      }
      obj = map.get(id);
      if (!obj) {
        obj = f.create(ctx);
        map.set(id, obj);
      }
    } else {
      // Per call, and per connection where the front-end has no connection (XML-RPC over HTTP).
      obj = f.create(ctx);
    }
    let fn: unknown;
    for (let p: object | null = obj; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      const desc = Object.getOwnPropertyDescriptor(p, name);
      if (desc) {
        fn = desc.value;
        break;
      }
    }
    return typeof fn === "function" ? { fn, thisArg: obj } : undefined;
  }
}
