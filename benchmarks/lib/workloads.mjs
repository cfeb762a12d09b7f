/**
 * The payloads every system runs: the same values, the same methods, so a
 * cell's figures compare across systems. Binary payloads are plain
 * Uint8Arrays; systems whose wire is JSON text carry them as base64, as a
 * user of that system would.
 */

/** A ~1 KiB nested object (its JSON text is 986 bytes). */
export function nestedObject() {
  return {
    id: 12345,
    name: "wirecall benchmark order",
    active: true,
    score: 98.6,
    tags: ["alpha", "beta", "gamma", "delta"],
    owner: { id: 7, name: "Ada Lovelace", email: "ada@example.com", roles: ["admin", "dev"] },
    items: Array.from({ length: 8 }, (_, i) => ({
      sku: `SKU-${1000 + i}`,
      qty: i + 1,
      price: 9.99 + i,
      dims: { w: 10 + i, h: 20 + i, d: 5 },
    })),
    address: { street: "12 Analytical Engine Row", city: "London", zip: "NW1 2DB", country: "GB" },
    meta: { created: "2026-01-01T00:00:00.000Z", version: 3, flags: [true, false, true], note: "nested ~1 KiB" },
  };
}

function bytes(n) {
  const b = new Uint8Array(n);
  // Not all zeros, so no layer can take a shortcut on trivially compressible data.
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/**
 * name -> { method, args(), binary: payload bytes (for MB/s) or 0 }.
 * `method` is "add" (returns a + b) or "echo" (returns its argument).
 */
export const WORKLOADS = {
  add: { method: "add", make: () => [1, 2], binary: 0 },
  obj: { method: "echo", make: () => [nestedObject()], binary: 0 },
  "bin64k": { method: "echo", make: () => [bytes(64 * 1024)], binary: 64 * 1024 },
  "bin1m": { method: "echo", make: () => [bytes(1024 * 1024)], binary: 1024 * 1024 },
};

export const PAYLOAD_NAMES = Object.keys(WORKLOADS);

/** Throws when `result` is not what the workload's call must return (checked once per cell, off the clock). */
export function checkResult(name, args, result) {
  const w = WORKLOADS[name];
  if (w.method === "add") {
    if (result !== args[0] + args[1]) throw new Error(`add returned ${JSON.stringify(result)}`);
    return;
  }
  const sent = args[0];
  if (sent instanceof Uint8Array) {
    // JSON-text systems hand back the base64 string; binary ones the bytes.
    const len = typeof result === "string" ? Buffer.from(result, "base64").length : result?.byteLength ?? result?.length;
    if (len !== sent.byteLength) throw new Error(`echo returned ${len} bytes, sent ${sent.byteLength}`);
    return;
  }
  if (JSON.stringify(result) !== JSON.stringify(sent)) throw new Error("echo returned a different object");
}

/** Server-side implementations shared by every system. */
export const methods = {
  add: (a, b) => a + b,
  echo: (x) => x,
};
