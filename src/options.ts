/**
 * One rule for every option of `serve` and `connect`: each transport
 * declares its options once ({@link OptionSpecs}: name, type, whether a URL's
 * query string may set it), and the same check applies everywhere. An unknown name or a value of the wrong type is an
 * `INVALID_OPTION` RpcError naming the option and, for a near miss
 * (`timout`), the option meant (`timeout`): a typo never silently falls back
 * to a default.
 *
 * This file holds the specs and the check of explicit options, which every
 * `connect` runs. The query string's reader (./option-query.ts) loads only
 * for a URL that has one, and the words of a refusal (the typo suggestion,
 * what each type takes: ./option-errors.ts) only for a refused option:
 * `connect` awaits them. Node-only sync callers (`serve`, transports'
 * servers, the name lookup) use `resolveOptions` from ./option-errors.ts,
 * which imports both.
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

/** Where an option came from, as the refusal says it. */
export type OptionSource = "option" | "query option";

/**
 * The first option refused (by {@link readExplicit} or ./option-query.ts), for ./option-errors.ts to
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
 * Check `explicit` options against `specs` into `out` (over what the query
 * string put there: ./option-query.ts reads it, first). Returns the first
 * problem (nothing is thrown: the caller words it with ./option-errors.ts),
 * else undefined. `strict` (the transport declared its options) refuses
 * names not in `specs`; otherwise those pass through unchecked.
 */
export function readExplicit(explicit: object, specs: OptionSpecs, strict: boolean, out: Record<string, unknown>): OptionProblem | undefined {
  for (const [k, v] of Object.entries(explicit)) {
    if (v === undefined) continue;
    const spec = specOf(specs, k);
    if (spec && !fits(spec, v)) return ["value", k, spec, v, "option"];
    if (!spec && strict) return ["unknown", k, "option"];
    out[k] = v;
  }
  return undefined;
}
