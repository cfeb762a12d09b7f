/**
 * The options a URL's query string sets (`?serializer=msgpack&timeout=5000`),
 * read by the one rule of src/options.ts. Apart from it so that a page whose
 * URL has no query string never downloads it: `connect` loads it only for a
 * URL that has one; sync callers (src/option-errors.ts's `resolveOptions`)
 * import it.
 */
import { fits, specOf, typesOf, type OptionProblem, type OptionSpec, type OptionSpecs } from "./options.js";

/** Query-string names that must never be in a URL (URLs get logged). */
const SECRET = new Set(["authkey", "password", "key", "passphrase", "curveSecretKey"]);

/** How a query string writes a flag. */
const FLAGS: Readonly<Record<string, boolean>> = { "": true, 1: true, true: true, yes: true, 0: false, false: false, no: false };

/** What {@link fromQuery} returns for text that is none of the option's types. */
const UNREAD: unique symbol = Symbol("unread");

/** A query-string value as the option's type (numbers and flags from text), or {@link UNREAD}. */
function fromQuery(spec: OptionSpec, text: string): unknown {
  const types = typesOf(spec);
  const n = text.trim() === "" ? NaN : Number(text);
  // NaN fails both comparisons.
  if (types.includes("number") && n >= 0 && n < Infinity) return n;
  if (types.includes("boolean") && Object.prototype.hasOwnProperty.call(FLAGS, text)) return FLAGS[text];
  if (types.includes("string") || types.includes("any")) return text;
  return UNREAD;
}

/**
 * Read the options of `url`'s query string into `out`, each checked
 * against `specs`; returns the first problem, else undefined. `strict` (the
 * transport declared its options) refuses names not in `specs`; otherwise
 * those pass through unchecked, as text. `forClients` (serve only): query
 * names a client's `connect` takes (`?serializer=msgpack`); a served URL
 * keeps them in `server.url` for its clients, so they are checked against
 * these specs but not put in `out`.
 */
export function readQuery(url: URL, specs: OptionSpecs, strict: boolean, forClients: OptionSpecs | undefined, out: Record<string, unknown>): OptionProblem | undefined {
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
  return undefined;
}
