import { RpcError } from "../errors.js";
import { fromBase64 } from "./base64-decode.js";
import { decodeLimitError, type DecodeLimits } from "./decode-limits.js";
import { checkDecodedExpansion } from "./rich-walks.js";

// superjson's own deserializer walks annotation paths through Sets and Maps
// by iterating them (quadratic), builds a typed array from whatever the
// annotated value is (a number is a length: 2^27 from 103 bytes), and
// recurses into any annotation shape. This one reads the same format
// (superjson 2: {"json": ..., "meta": {"values", "referentialEqualities",
// "v"}}) with every path resolved once on the parsed JSON tree, every
// annotation checked, and shared references budgeted; what superjson
// writes decodes to what superjson would decode.

type Plain = Record<string, unknown> | unknown[];

interface Position {
  /** Containers from the root to the parent of the target, as parsed. */
  chain: Plain[];
  /** Key of the target in the last container of `chain`. */
  key: string;
}

interface Annotation {
  pos: Position | null; // null: the root
  type: unknown;
}

const TYPED: Record<string, new (v: ArrayLike<number>) => unknown> = Object.assign(Object.create(null) as Record<string, never>, {
  Int8Array,
  Uint8Array,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  Uint8ClampedArray,
});

const FORBIDDEN_KEYS = new Set(["__proto__", "prototype", "constructor"]);

function refuse(msg: string): RpcError {
  return new RpcError("PROTOCOL_ERROR", `superjson frame refused: ${msg}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

/** superjson's path syntax: `.` separates, `\.` and `\\` escape (legacy paths: only `\.`). */
function parsePath(s: string, legacy: boolean): string[] {
  if (!s.includes("\\")) return s.split(".");
  const out: string[] = [];
  let seg = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === "\\") {
      const next = s.charAt(i + 1);
      if (next === ".") {
        seg += ".";
        i++;
        continue;
      }
      if (!legacy) {
        if (next !== "\\") throw refuse(`invalid path ${JSON.stringify(s.slice(0, 64))}`);
        seg += "\\";
        i++;
        continue;
      }
    }
    if (c === ".") {
      out.push(seg);
      seg = "";
      continue;
    }
    seg += c;
  }
  out.push(seg);
  return out;
}

class Decoder {
  readonly #limits: Readonly<DecodeLimits>;
  readonly #legacy: boolean;
  #segments = 0;

  constructor(limits: Readonly<DecodeLimits>, legacy: boolean) {
    this.#limits = limits;
    this.#legacy = legacy;
  }

  /** Parse one path, charging its length (plus its prefix) to the budget. */
  path(prefix: string[], key: string): string[] {
    const p = prefix.concat(parsePath(key, this.#legacy));
    this.#segments += p.length;
    if (this.#segments > this.#limits.maxElements) {
      throw decodeLimitError("superjson", "maxElements", this.#limits.maxElements, "annotation path segments");
    }
    return p;
  }

  /** Where `path` points in the parsed tree: own keys of plain objects and indexes of arrays only. */
  resolve(root: unknown, path: string[]): Position | null {
    if (path.length === 0) return null;
    const chain: Plain[] = [];
    let node = root;
    for (let i = 0; i < path.length; i++) {
      const key = path[i] as string;
      if (FORBIDDEN_KEYS.has(key)) throw refuse(`the path segment '${key}' is not allowed`);
      if (Array.isArray(node)) {
        const idx = Number(key);
        if (!Number.isInteger(idx) || idx < 0 || idx >= node.length || String(idx) !== key) throw badPath(path);
      } else if (isPlainObject(node)) {
        if (!Object.prototype.hasOwnProperty.call(node, key)) throw badPath(path);
      } else {
        throw badPath(path);
      }
      chain.push(node);
      if (i < path.length - 1) node = (node as Record<string, unknown>)[key];
    }
    return { chain, key: path[path.length - 1] as string };
  }

  /** Every value annotation, in superjson's order (children before the node they belong to). */
  collect(tree: unknown, origin: string[], out: { path: string[]; type: unknown }[]): void {
    if (!tree) return;
    if (Array.isArray(tree)) {
      const [type, children] = tree as [unknown, unknown];
      if (children) {
        if (!isPlainObject(children)) throw refuse("an annotation's children are not an object");
        for (const key of Object.keys(children)) this.collect(children[key], this.path(origin, key), out);
      }
      out.push({ path: origin, type });
      return;
    }
    if (!isPlainObject(tree)) throw refuse("an annotation is neither an array nor an object");
    for (const key of Object.keys(tree)) this.collect(tree[key], this.path(origin, key), out);
  }

  untransform(v: unknown, type: unknown): unknown {
    try {
      return this.#untransform(v, type);
    } catch (err) {
      if (err instanceof RpcError) throw err;
      throw refuse(`cannot rebuild a ${JSON.stringify(type)} value: ${(err as Error)?.message ?? err}`);
    }
  }

  #untransform(v: unknown, type: unknown): unknown {
    if (typeof type === "string") {
      switch (type) {
        case "undefined":
          return undefined;
        case "bigint":
          if (typeof v !== "string") throw refuse("a bigint is not a string");
          if (v.length > this.#limits.maxBigIntDigits) {
            throw decodeLimitError("superjson", "maxBigIntDigits", this.#limits.maxBigIntDigits, `a BigInt of ${v.length} characters`);
          }
          return BigInt(v);
        case "Date":
          return new Date(v as string);
        case "Error": {
          const o = (isPlainObject(v) ? v : {}) as { name?: unknown; message?: unknown; cause?: unknown; stack?: unknown };
          const e = new Error(o.message as string, { cause: o.cause });
          e.name = o.name as string;
          e.stack = o.stack as string;
          return e;
        }
        case "regexp": {
          if (typeof v !== "string") throw refuse("a regexp is not a string");
          return new RegExp(v.slice(1, v.lastIndexOf("/")), v.slice(v.lastIndexOf("/") + 1));
        }
        case "set":
          if (!Array.isArray(v)) throw refuse("a set is not an array");
          return new Set(v);
        case "map":
          if (!Array.isArray(v)) throw refuse("a map is not an array of entries");
          return new Map(v as [unknown, unknown][]);
        case "number":
          return Number(v);
        case "URL":
          return new URL(v as string);
      }
    } else if (Array.isArray(type) && typeof type[1] === "string") {
      const name = type[1];
      if (type[0] === "typed-array") {
        const ctor = TYPED[name];
        if (!ctor) throw refuse(`unknown typed array ${JSON.stringify(name)}`);
        // A number or an object with a length would be a length to allocate;
        // only a real array's elements, present in the frame, are accepted.
        if (!Array.isArray(v)) throw refuse(`a ${name} must be an array of its elements`);
        return new ctor(v as number[]);
      }
      if (type[0] === "custom" && name === "Uint8Array") {
        if (typeof v === "string") return fromBase64(v);
        if (Array.isArray(v)) return Uint8Array.from(v as number[]);
        throw refuse("a Uint8Array is neither a base64 string nor an array of bytes");
      }
      if (type[0] === "class" || type[0] === "symbol" || type[0] === "custom") {
        throw refuse(`the ${type[0]} ${JSON.stringify(name)} is not registered with wirecall's superjson serializer`);
      }
    }
    throw refuse(`unknown annotation ${JSON.stringify(type)}`);
  }
}

function badPath(path: string[]): RpcError {
  return refuse(`the annotation path ${JSON.stringify(path.join(".").slice(0, 64))} does not exist in the value`);
}

/** The value now at `pos` (the root when null). */
function valueAt(root: unknown, pos: Position | null): unknown {
  return pos ? (pos.chain[pos.chain.length - 1] as Record<string, unknown>)[pos.key] : root;
}

/**
 * Decode a parsed superjson payload. `payload` is the result of JSON.parse
 * on a frame that already passed scanJson (so its size is budgeted).
 */
export function deserializeSuperjson(payload: unknown, limits: Readonly<DecodeLimits>): unknown {
  if (!isPlainObject(payload)) throw refuse("the top level is not an object with a 'json' field");
  let root = payload.json;
  const meta = payload.meta;
  if (meta === undefined || meta === null) return root;
  if (!isPlainObject(meta)) throw refuse("'meta' is not an object");
  const legacy = !((typeof meta.v === "number" ? meta.v : 0) >= 1);
  const d = new Decoder(limits, legacy);

  // Resolve every path on the tree as parsed, before anything is replaced.
  const raw: { path: string[]; type: unknown }[] = [];
  if (meta.values) d.collect(meta.values, [], raw);
  const annotations: Annotation[] = raw.map((a) => ({ pos: d.resolve(root, a.path), type: a.type }));

  const refs = meta.referentialEqualities;
  let rootRefs: Position[] = [];
  const groups: { repr: Position | null; same: Position[] }[] = [];
  if (refs) {
    let table: unknown = refs;
    if (Array.isArray(refs)) {
      rootRefs = stringList(refs[0]).map((p) => need(d.resolve(root, d.path([], p))));
      table = refs[1];
    }
    if (table) {
      if (!isPlainObject(table)) throw refuse("'referentialEqualities' is not an object");
      for (const key of Object.keys(table)) {
        groups.push({ repr: d.resolve(root, d.path([], key)), same: stringList(table[key]).map((p) => need(d.resolve(root, d.path([], p)))) });
      }
    }
  }

  // Rebuild annotated values, children first; a container rebuilt into a
  // Set or Map is remembered so references placed in it later reach it.
  const rebuilt = new Map<object, unknown>();
  for (const a of annotations) {
    const old = valueAt(root, a.pos);
    const v = d.untransform(old, a.type);
    if (a.pos) (a.pos.chain[a.pos.chain.length - 1] as Record<string, unknown>)[a.pos.key] = v;
    else root = v;
    if (typeof old === "object" && old !== null) rebuilt.set(old, v);
  }

  if (!refs) return root;
  const place = (pos: Position, obj: unknown): void => {
    const parent = pos.chain[pos.chain.length - 1] as Record<string, unknown>;
    const old = parent[pos.key];
    parent[pos.key] = obj;
    const live = rebuilt.get(parent);
    if (live instanceof Set) {
      if (old !== obj) (live.delete(old), live.add(obj));
      return;
    }
    // A Map's entry [key, value] is a pair in the parsed tree; its Map is the pair's parent.
    const grand = pos.chain[pos.chain.length - 2];
    const map = grand === undefined ? undefined : rebuilt.get(grand);
    if (map instanceof Map && Array.isArray(parent)) {
      if (pos.key === "1") map.set(parent[0], obj);
      else if (pos.key === "0") {
        const value = map.get(old);
        map.set(obj, value);
        if (obj !== old) map.delete(old);
      }
    }
  };
  for (const p of rootRefs) place(p, root);
  for (const g of groups) {
    const obj = valueAt(root, g.repr);
    for (const p of g.same) place(p, obj);
  }
  // Shared references make a DAG whose written-out size can be exponential
  // in the frame: refuse it here, before a handler or an echo walks it.
  checkDecodedExpansion(root, limits);
  return root;
}

function stringList(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw refuse("a referential equality is not a list of paths");
  return v as string[];
}

function need(pos: Position | null): Position {
  if (!pos) throw refuse("a referential equality replaces the root");
  return pos;
}
