/**
 * Printing results as JSON: compact (one line) for scripts and pipes,
 * indented on a terminal. Values JSON has no form for get a stated one:
 * BigInt -> its decimal digits as a string, bytes -> base64 string,
 * Map -> object (or [key, value] pairs when a key is not a string),
 * Set -> array, undefined -> null, Date -> ISO string.
 */

function replacer(this: unknown, key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value === undefined) return null;
  // A Buffer's toJSON ran already; the holder still has the bytes themselves.
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64");
  if (value instanceof ArrayBuffer) return Buffer.from(value).toString("base64");
  if (value instanceof Map) {
    const entries = [...value.entries()];
    return entries.every(([k]) => typeof k === "string") ? Object.fromEntries(entries) : entries;
  }
  if (value instanceof Set) return [...value];
  if (value instanceof RegExp || value instanceof URL) return String(value);
  return value;
}

/** The text `wirecall call` prints for one value (no trailing newline). */
export function formatJson(value: unknown, pretty: boolean): string {
  return JSON.stringify(value, replacer, pretty ? 2 : undefined) ?? "null";
}

/** True for a stream result: an async iterable that is not a plain value. */
export function isStream(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

/** Write to stdout and wait until it is flushed to the OS (a pipe reader sees each item as it arrives). */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
