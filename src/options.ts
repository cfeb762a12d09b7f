/**
 * One rule for every option of `serve` and `connect`: each transport
 * declares its options once ({@link OptionSpecs}: name, type, whether a URL's
 * query string may set it), and {@link resolveOptions} applies the same check
 * everywhere. An unknown name or a value of the wrong type is an
 * `INVALID_OPTION` RpcError naming the option and, for a near miss
 * (`timout`), the option meant (`timeout`): a typo never silently falls back
 * to a default.
 */
import { RpcError } from "./errors.js";
import type { OptionSpec, OptionSpecs, OptionType } from "./transport.js";

export type { OptionSpec, OptionSpecs, OptionType };

/** An option a URL's query string may also set (numbers, flags, names: never secrets). */
/* @__NO_SIDE_EFFECTS__ */
export function urlOption(...type: OptionType[]): OptionSpec {
  return { type, query: true };
}

/** An option only `serve`/`connect` options may set (objects, functions, secrets). */
/* @__NO_SIDE_EFFECTS__ */
export function option(...type: OptionType[]): OptionSpec {
  return { type };
}

/** Options of every `connect` (the client's caller, proxy and handshake), whatever the transport. */
export const CONNECT_OPTIONS: OptionSpecs = {
  timeout: urlOption("number"),
  signal: option("object"),
  captureStack: urlOption("boolean"),
  serializer: urlOption("string", "object"),
  reconnect: urlOption("boolean", "object"),
  handshakeTimeout: urlOption("number"),
  onError: option("function"),
  handler: option("object"),
  maxInFlight: urlOption("number"),
  streamWindow: urlOption("number"),
  authkey: option("string", "bytes", "false"),
  maxFrameSize: urlOption("number"),
  // Another protocol's client (registered by its package, e.g. wirecall/python).
  profile: urlOption("string"),
  // docs/production.md
  meta: option("object"),
  onResponseMeta: option("function"),
  metaLimits: option("object"),
  deadline: option("number"),
  parent: option("any"),
  idempotent: option("boolean", "string"),
  retry: urlOption("boolean", "object"),
  telemetry: urlOption("boolean", "object"),
};

/** Query-string names that must never be in a URL (URLs get logged). */
const SECRET = new Set(["authkey", "password", "key", "passphrase", "curveSecretKey"]);

function typesOf(spec: OptionSpec): readonly OptionType[] {
  return typeof spec.type === "string" ? [spec.type] : spec.type;
}

/** `specs[name]` when `name` is its own key (never `__proto__` or `toString` from the prototype). */
export function specOf(specs: OptionSpecs | undefined, name: string): OptionSpec | undefined {
  return specs && Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
}

/** Edit distance, small inputs only (option names). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The known name `name` most likely misspells, if one is close enough. */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  // One edit for short names, two for longer ones: closer guesses than that mislead.
  return bestD <= (name.length <= 4 ? 1 : 2) ? best : undefined;
}

function invalid(message: string, option: string): RpcError {
  return new RpcError("INVALID_OPTION", message, { data: { option } });
}

function notInQuery(name: string): RpcError {
  return invalid(`option '${name}' cannot be given in a URL's query string; pass it as an option`, name);
}

function matches(v: unknown, t: OptionType): boolean {
  switch (t) {
    case "any":
      return true;
    case "number":
      return typeof v === "number" && Number.isFinite(v) && v >= 0;
    case "bytes":
      return v instanceof Uint8Array;
    case "false":
      return v === false;
    case "object":
      return typeof v === "object" && v !== null;
    default:
      return typeof v === t;
  }
}

const NUMBER = "a non-negative number";

/** Throw `INVALID_OPTION` unless `value` fits `spec`. */
export function checkOption(name: string, spec: OptionSpec, value: unknown, from = "option"): void {
  if (value === undefined) return;
  const types = typesOf(spec);
  if (types.some((t) => matches(value, t)) && (!spec.values || (typeof value === "string" && spec.values.includes(value)))) return;
  const wanted = spec.values ? spec.values.join(", ") : types.map((t) => (t === "number" ? NUMBER : t === "bytes" ? "a Uint8Array" : t === "object" ? "an object" : t === "false" ? "false" : `a ${t}`)).join(" or ");
  const shown = typeof value === "string" ? `'${value}'` : typeof value === "function" ? "a function" : typeof value === "object" ? (value === null ? "null" : "an object") : String(value);
  throw invalid(`${from} '${name}' must be ${wanted}, got ${shown}`, name);
}

function unknown(name: string, specs: OptionSpecs, where: string, from: string): RpcError {
  const known = Object.keys(specs);
  const near = nearestName(name, known);
  return invalid(`unknown ${from} '${name}' in ${where}${near ? `: did you mean '${near}'?` : ` (known: ${known.sort().join(", ")})`}`, name);
}

/** How a query string writes a flag. */
const FLAGS: Readonly<Record<string, boolean>> = { "": true, 1: true, true: true, yes: true, 0: false, false: false, no: false };

/** A query-string value as the option's type: numbers and flags from text. */
function fromQuery(name: string, spec: OptionSpec, text: string): unknown {
  const types = typesOf(spec);
  const n = text.trim() === "" ? NaN : Number(text);
  // NaN fails both comparisons.
  if (types.includes("number") && n >= 0 && n < Infinity) return n;
  if (types.includes("boolean") && Object.prototype.hasOwnProperty.call(FLAGS, text)) return FLAGS[text];
  if (types.includes("string") || types.includes("any")) return text;
  const wanted = types.filter((t) => t === "number" || t === "boolean").map((t) => (t === "number" ? NUMBER : "true or false (1/0, yes/no)"));
  throw wanted.length > 0 ? invalid(`query option '${name}' must be ${wanted.join(" or ")}, got '${text}'`, name) : notInQuery(name);
}

/**
 * The options one `serve`/`connect` runs with: the URL's query string, then
 * `explicit` over it, each checked against `specs`. `strict` (the transport
 * declared its options) refuses names not in `specs`; otherwise those pass
 * through unchecked, as query-string text. `forClients` (serve only): query
 * names a client's `connect` takes (`?serializer=msgpack`); a served URL
 * keeps them in `server.url` for its clients, so they are checked against
 * these specs but not applied to the server.
 */
export function resolveOptions(url: URL, explicit: object, specs: OptionSpecs, where: string, strict = true, forClients?: OptionSpecs): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of url.searchParams) {
    if (SECRET.has(k)) throw new RpcError("INVALID_URL", `'${k}' must not be in a URL (URLs get logged); pass it as an option or environment variable`);
    const spec = specOf(specs, k);
    if (!spec) {
      const client = specOf(forClients, k);
      if (client?.query) {
        checkOption(k, client, fromQuery(k, client, v), "query option");
        continue;
      }
      if (strict) throw unknown(k, forClients ? { ...specs, ...forClients } : specs, where, "query option");
      out[k] = v;
      continue;
    }
    if (!spec.query) throw notInQuery(k);
    const value = fromQuery(k, spec, v);
    checkOption(k, spec, value, "query option");
    out[k] = value;
  }
  for (const [k, v] of Object.entries(explicit)) {
    if (v === undefined) continue;
    const spec = specOf(specs, k);
    if (spec) checkOption(k, spec, v);
    else if (strict) throw unknown(k, specs, where, "option");
    out[k] = v;
  }
  return out;
}
