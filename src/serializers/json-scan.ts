import { decodeLimitError, type DecodeLimits } from "./decode-limits.js";

/**
 * Count what JSON.parse would build from `frame` (UTF-8 JSON text) and
 * refuse, before parsing, a frame that breaks `limits`: one pass over the
 * bytes, no allocation. Structural bytes inside strings are skipped; values
 * are counted as `,` and `:` separators plus containers, an upper bound of
 * the values JSON.parse makes. Malformed text is left to JSON.parse.
 */
export function scanJson(frame: Uint8Array, limits: Readonly<DecodeLimits>, serializer: string): void {
  const n = frame.length;
  // A frame of n bytes holds at most n containers, values and levels: a
  // small frame cannot break a limit, so typical calls skip the pass.
  if (n <= limits.maxDepth && n <= limits.maxContainers && n <= limits.maxElements) return;
  let depth = 0;
  let maxDepth = 0;
  let containers = 0;
  let separators = 0;
  for (let i = 0; i < n; i++) {
    const c = frame[i] as number;
    if (c === 0x22) {
      // A string: skip to its closing quote, one not escaped by an odd run of backslashes.
      for (;;) {
        const q = frame.indexOf(0x22, i + 1);
        if (q < 0) return; // unterminated: JSON.parse says so
        let k = q - 1;
        while (frame[k] === 0x5c) k--;
        i = q;
        if ((q - 1 - k) % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      containers++;
      if (++depth > maxDepth) {
        maxDepth = depth;
        if (depth > limits.maxDepth) throw decodeLimitError(serializer, "maxDepth", limits.maxDepth, "nesting");
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c || c === 0x3a) {
      separators++;
    }
  }
  if (containers > limits.maxContainers) {
    throw decodeLimitError(serializer, "maxContainers", limits.maxContainers, `${containers} arrays and objects`);
  }
  const elements = separators + containers + 1;
  if (elements > limits.maxElements) {
    throw decodeLimitError(serializer, "maxElements", limits.maxElements, `about ${elements} values`);
  }
}
