/**
 * The words of an option's refusal (src/options.ts holds the check): the
 * `INVALID_OPTION` error naming the option, what it takes and, for a near
 * miss (`timout`), the option meant (`timeout`). Only a refused option needs
 * them, so a page that connects with good options never downloads this
 * file: `connect` loads it before rejecting. Sync callers that never run in
 * a page (`serve`, transports' servers, the name lookup) import it directly.
 */
import { RpcError } from "./errors.js";
import { readQuery } from "./option-query.js";
import { fits, readExplicit, typesOf, type OptionProblem, type OptionSource, type OptionSpec, type OptionSpecs } from "./options.js";

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

const NUMBER = "a non-negative number";

function wrongValue(name: string, spec: OptionSpec, value: unknown, from: OptionSource): RpcError {
  const wanted = spec.values
    ? spec.values.join(", ")
    : typesOf(spec)
        .map((t) => (t === "number" ? NUMBER : t === "bytes" ? "a Uint8Array" : t === "object" ? "an object" : t === "false" ? "false" : `a ${t}`))
        .join(" or ");
  const shown = typeof value === "string" ? `'${value}'` : typeof value === "function" ? "a function" : typeof value === "object" ? (value === null ? "null" : "an object") : String(value);
  return invalid(`${from} '${name}' must be ${wanted}, got ${shown}`, name);
}

/** Throw `INVALID_OPTION` unless `value` fits `spec`. */
export function checkOption(name: string, spec: OptionSpec, value: unknown, from: OptionSource = "option"): void {
  if (!fits(spec, value)) throw wrongValue(name, spec, value, from);
}

function unknown(name: string, specs: OptionSpecs, where: string, from: OptionSource): RpcError {
  const known = Object.keys(specs);
  const near = nearestName(name, known);
  return invalid(`unknown ${from} '${name}' in ${where}${near ? `: did you mean '${near}'?` : ` (known: ${known.sort().join(", ")})`}`, name);
}

/** Query text that is none of the option's types: what the text may be, or that the query cannot set it at all. */
function unreadable(name: string, spec: OptionSpec, text: string): RpcError {
  const wanted = typesOf(spec)
    .filter((t) => t === "number" || t === "boolean")
    .map((t) => (t === "number" ? NUMBER : "true or false (1/0, yes/no)"));
  return wanted.length > 0 ? invalid(`query option '${name}' must be ${wanted.join(" or ")}, got '${text}'`, name) : notInQuery(name);
}

/**
 * The error for a problem `readQuery` or `readExplicit` found, given the same `specs`
 * and `forClients`; `where` names the call (`connect("ws://...")`).
 */
export function optionError(p: OptionProblem, specs: OptionSpecs, where: string, forClients?: OptionSpecs): RpcError {
  switch (p[0]) {
    case "secret":
      return new RpcError("INVALID_URL", `'${p[1]}' must not be in a URL (URLs get logged); pass it as an option or environment variable`);
    case "notInQuery":
      return notInQuery(p[1]);
    case "unknown":
      return unknown(p[1], p[2] === "query option" && forClients ? { ...specs, ...forClients } : specs, where, p[2]);
    case "text":
      return unreadable(p[1], p[2], p[3]);
    case "value":
      return wrongValue(p[1], p[2], p[3], p[4]);
  }
}

/**
 * The options one `serve`/`connect` runs with: the URL's query string, then
 * `explicit` over it, each checked against `specs` (see `readQuery`, which
 * also says what `forClients` is, and `readExplicit`), throwing the
 * `INVALID_OPTION` (or, for a secret in the query string, `INVALID_URL`)
 * error of the first one refused.
 */
export function resolveOptions(url: URL, explicit: object, specs: OptionSpecs, where: string, strict = true, forClients?: OptionSpecs): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const problem = readQuery(url, specs, strict, forClients, out) ?? readExplicit(explicit, specs, strict, out);
  if (problem) throw optionError(problem, specs, where, forClients);
  return out;
}
