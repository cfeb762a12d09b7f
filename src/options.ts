/**
 * One rule for every option of `serve` and `connect`: each transport
 * declares its options once ({@link OptionSpecs}: name, type, whether a URL's
 * query string may set it), and {@link readOptions} applies the same check
 * everywhere. An unknown name or a value of the wrong type is an
 * `INVALID_OPTION` RpcError naming the option and, for a near miss
 * (`timout`), the option meant (`timeout`): a typo never silently falls back
 * to a default.
 *
 * This file holds the check, which every `connect` runs. The words of the
 * refusal (the typo suggestion, what each type takes) are in
 * ./option-errors.ts, which only a refused option loads: `connect` awaits it
 * before rejecting, and Node-only sync callers (`serve`, transports' servers)
 * import its {@link resolveOptions} directly.
 */
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

/** The types `spec` accepts, as a list. */
export function typesOf(spec: OptionSpec): readonly OptionType[] {
  return typeof spec.type === "string" ? [spec.type] : spec.type;
}

/** `specs[name]` when `name` is its own key (never `__proto__` or `toString` from the prototype). */
export function specOf(specs: OptionSpecs | undefined, name: string): OptionSpec | undefined {
  return specs && Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
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

/** True when `value` fits `spec` (undefined, an option not given, always does). */
export function fits(spec: OptionSpec, value: unknown): boolean {
  return value === undefined || (typesOf(spec).some((t) => matches(value, t)) && (!spec.values || (typeof value === "string" && spec.values.includes(value))));
}

/** How a query string writes a flag. */
const FLAGS: Readonly<Record<string, boolean>> = { "": true, 1: true, true: true, yes: true, 0: false, false: false, no: false };

/** What {@link fromQuery} returns for text that is none of the option's types. */
export const UNREAD: unique symbol = Symbol("unread");

/** A query-string value as the option's type (numbers and flags from text), or {@link UNREAD}. */
export function fromQuery(spec: OptionSpec, text: string): unknown {
  const types = typesOf(spec);
  const n = text.trim() === "" ? NaN : Number(text);
  // NaN fails both comparisons.
  if (types.includes("number") && n >= 0 && n < Infinity) return n;
  if (types.includes("boolean") && Object.prototype.hasOwnProperty.call(FLAGS, text)) return FLAGS[text];
  if (types.includes("string") || types.includes("any")) return text;
  return UNREAD;
}

/** Where an option came from, as the refusal says it. */
export type OptionSource = "option" | "query option";

/**
 * The first option {@link readOptions} refused, for ./option-errors.ts to
 * word: a secret in the query string; a name not in the specs; a name the
 * query string may not set; query text that is none of the option's types;
 * a value of the wrong type.
 */
export type OptionProblem =
  | readonly ["secret" | "notInQuery", string]
  | readonly ["unknown", string, OptionSource]
  | readonly ["text", string, OptionSpec, string]
  | readonly ["value", string, OptionSpec, unknown, OptionSource];

/**
 * Read the options one `serve`/`connect` runs with into `out`: the URL's
 * query string, then `explicit` over it, each checked against `specs`.
 * Returns the first problem (nothing is thrown: the caller words it with
 * ./option-errors.ts), else undefined. `strict` (the transport declared its
 * options) refuses names not in `specs`; otherwise those pass through
 * unchecked, as query-string text. `forClients` (serve only): query names a
 * client's `connect` takes (`?serializer=msgpack`); a served URL keeps them
 * in `server.url` for its clients, so they are checked against these specs
 * but not put in `out`.
 */
export function readOptions(
  url: URL,
  explicit: object,
  specs: OptionSpecs,
  strict: boolean,
  forClients: OptionSpecs | undefined,
  out: Record<string, unknown>,
): OptionProblem | undefined {
  for (const [k, v] of url.searchParams) {
    if (SECRET.has(k)) return ["secret", k];
    const own = specOf(specs, k);
    // A name only the served URL's clients take is checked as theirs, not applied.
    const client = own ? undefined : specOf(forClients, k);
    const spec = own ?? client;
    if (!spec) {
      if (strict) return ["unknown", k, "query option"];
      out[k] = v;
      continue;
    }
    if (!spec.query) return ["notInQuery", k];
    const value = fromQuery(spec, v);
    if (value === UNREAD) return ["text", k, spec, v];
    if (!fits(spec, value)) return ["value", k, spec, value, "query option"];
    if (!client) out[k] = value;
  }
  for (const [k, v] of Object.entries(explicit)) {
    if (v === undefined) continue;
    const spec = specOf(specs, k);
    if (spec && !fits(spec, v)) return ["value", k, spec, v, "option"];
    if (!spec && strict) return ["unknown", k, "option"];
    out[k] = v;
  }
  return undefined;
}
