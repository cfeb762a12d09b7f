/**
 * How a wirecall handler looks to Pyro4 clients: which Pyro object ids it
 * serves, each object's metadata (methods, one-way methods, attributes),
 * and the call name a `(object id, method)` pair dispatches to.
 *
 * Objects are the ids given to `registerInstance(obj, id)`: Pyro object
 * `greeter` method `welcome` is the handler's `greeter.welcome`. Plain
 * functions (names without a dot) form one more object, `functions` by
 * default (`functionsId`). Introspection is the object `system`.
 */
import type { RPCHandler } from "../../src/transport-sdk.js";
import { PyroURI } from "./uri.js";

/** The daemon's own object, as in Pyro4 (`Pyro4.constants.DAEMON_NAME`). */
export const DAEMON_NAME = "Pyro.Daemon";
/** The name server's object (`Pyro4.constants.NAMESERVER_NAME`). */
export const NAMESERVER_ID = "Pyro.NameServer";
/** The id under which plain functions are served unless `functionsId` says otherwise. */
export const DEFAULT_FUNCTIONS_ID = "functions";

export interface PyroMetadata {
  methods: string[];
  oneway: string[];
  attrs: string[];
}

export class ObjectView {
  constructor(
    readonly handler: RPCHandler,
    /** Plain functions' object id, or undefined when they are not served to Pyro4 clients. */
    readonly functionsId: string | undefined,
    /** Handler names ("greeter.note", or "note" for a plain function) reported as one-way methods. */
    readonly oneway: ReadonlySet<string>,
  ) {}

  /** The handler name for a Pyro call. */
  callName(objectId: string, method: string): string {
    if (objectId === this.functionsId && this.handler.has(method)) return method;
    return `${objectId}.${method}`;
  }

  /** Methods of `objectId` the handler lists (undotted names after the id's prefix). */
  methodsOf(objectId: string): string[] {
    const all = this.handler.listMethods();
    if (objectId === this.functionsId) return all.filter((n) => !n.includes("."));
    const pre = `${objectId}.`;
    const out: string[] = [];
    for (const n of all) {
      if (n.startsWith(pre) && !n.includes(".", pre.length)) out.push(n.slice(pre.length));
    }
    return out;
  }

  /** Pyro4's metadata for `objectId`, or undefined when the handler lists no method of it. */
  metadata(objectId: string): PyroMetadata | undefined {
    const methods = this.methodsOf(objectId);
    if (methods.length === 0) return undefined;
    const oneway = methods.filter((m) => this.oneway.has(this.callName(objectId, m)));
    return { methods, oneway, attrs: [] };
  }

  /** Every object id with listed methods (Pyro's `Pyro.Daemon.registered()`). */
  registered(): string[] {
    const ids = new Set<string>([DAEMON_NAME]);
    for (const n of this.handler.listMethods()) {
      const dot = n.lastIndexOf(".");
      if (dot > 0) ids.add(n.slice(0, dot));
      else if (this.functionsId !== undefined) ids.add(this.functionsId);
    }
    return [...ids].sort();
  }
}

/**
 * Pyro4's name server returns URI objects from `lookup` (Python's PYRONAME
 * resolution needs one), where wirecall's name server returns URL text: a
 * `PYRO:` URL in a lookup result goes to Pyro4 clients as a URI object.
 */
export function forPyroClient(objectId: string, method: string, result: unknown): unknown {
  if (objectId !== NAMESERVER_ID || method !== "lookup") return result;
  const asUri = (v: unknown): unknown => {
    if (typeof v !== "string" || !/^PYRO:/i.test(v)) return v;
    try {
      return PyroURI.parse(v);
    } catch {
      return v;
    }
  };
  if (Array.isArray(result) && result.length === 2) return [asUri(result[0]), result[1]];
  return asUri(result);
}
