/**
 * The floor's framing: a 4-byte big-endian length, then the body. Kept as
 * small as a hand-written protocol would be, but without quadratic
 * re-concatenation, so the floor is a fair best case rather than a strawman.
 */

/** Calls `onFrame(body: Buffer)` for each complete frame in the stream. */
export function frameReader(onFrame) {
  let chunks = [];
  let have = 0;
  let need = -1;
  return (chunk) => {
    chunks.push(chunk);
    have += chunk.length;
    for (;;) {
      if (need < 0) {
        if (have < 4) return;
        if (chunks[0].length < 4) chunks = [Buffer.concat(chunks)];
        need = chunks[0].readUInt32BE(0);
        chunks[0] = chunks[0].subarray(4);
        have -= 4;
      }
      if (have < need) return;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
      onFrame(all.subarray(0, need));
      const rest = all.subarray(need);
      have = rest.length;
      chunks = have > 0 ? [rest] : [];
      need = -1;
    }
  };
}

/** One buffer holding the length prefix and the body, written with one `write`. */
export function frame(body) {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}
