import { decodeLimitError, type DecodeLimits } from "./decode-limits.js";

/**
 * Count what JSON.parse would build from `frame` (UTF-8 JSON text) and
 * refuse, before parsing, a frame that breaks `limits`: one pass over the
 * bytes, no allocation. Structural bytes inside strings are skipped; values
 * are counted as `,` and `:` separators plus containers, an upper bound of
 * the values JSON.parse makes. Malformed text is left to JSON.parse.
 */
// Byte classes: 1 quote, 2 opening bracket, 3 closing bracket, 4 separator.
const CLASS = new Uint8Array(256);
CLASS[0x22] = 1;
CLASS[0x5b] = CLASS[0x7b] = 2;
CLASS[0x5d] = CLASS[0x7d] = 3;
CLASS[0x2c] = CLASS[0x3a] = 4;

export function scanJson(frame: Uint8Array, limits: Readonly<DecodeLimits>, serializer: string): void {
  const n = frame.length;
  // Valid JSON of n bytes holds at most n/2 containers and levels and n/2 + 1
  // values: a small frame cannot break a limit, so typical calls skip the pass.
  if (n < 2 * limits.maxDepth && n < limits.maxContainers && n < limits.maxElements) return;
  let depth = 0;
  let maxDepth = 0;
  let containers = 0;
  let separators = 0;
  for (let i = 0; i < n; i++) {
    const k = CLASS[frame[i] as number];
    if (k === 0) continue;
    if (k === 1) {
      // A string: to its closing quote, one not escaped by an odd run of
      // backslashes. Short strings inline; long ones (base64) by indexOf.
      let j = i + 1;
      const stop = j + 16 < n ? j + 16 : n;
      for (; j < stop; j++) {
        const d = frame[j] as number;
        if (d === 0x22) break;
        if (d === 0x5c) j++;
      }
      if (j >= stop && j < n) {
        for (;;) {
          const q = frame.indexOf(0x22, j);
          if (q < 0) return; // unterminated: JSON.parse says so
          let b = q - 1;
          while (frame[b] === 0x5c) b--;
          j = q;
          if ((q - 1 - b) % 2 === 0) break;
          j = q + 1;
        }
      }
      i = j;
    } else if (k === 2) {
      containers++;
      if (++depth > maxDepth) {
        maxDepth = depth;
        if (depth > limits.maxDepth) throw decodeLimitError(serializer, "maxDepth", limits.maxDepth, "nesting");
      }
    } else if (k === 3) {
      depth--;
    } else {
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
