/**
 * Latency recording in microseconds. Uses HdrHistogram (hdr-histogram-js)
 * when the benchmark dependencies are installed; otherwise (the smoke test,
 * or `--quick` without `benchmarks/node_modules`) an exact recorder that
 * keeps every sample and sorts once. Both report the same fields, and the
 * results say which one was used.
 */
let hdr;
try {
  hdr = await import("hdr-histogram-js");
} catch {
  hdr = undefined;
}

export const histogramKind = hdr ? "hdr-histogram-js" : "exact";

class ExactRecorder {
  #samples = new Float64Array(1 << 16);
  #n = 0;
  record(us) {
    if (this.#n === this.#samples.length) {
      const bigger = new Float64Array(this.#samples.length * 2);
      bigger.set(this.#samples);
      this.#samples = bigger;
    }
    this.#samples[this.#n++] = us;
  }
  summary() {
    const s = this.#samples.subarray(0, this.#n).sort();
    const at = (q) => (this.#n === 0 ? 0 : s[Math.min(this.#n - 1, Math.ceil(q * this.#n) - 1)]);
    let sum = 0;
    for (let i = 0; i < this.#n; i++) sum += s[i];
    return { count: this.#n, mean: this.#n ? sum / this.#n : 0, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: this.#n ? s[this.#n - 1] : 0 };
  }
}

class HdrRecorder {
  #h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
  record(us) {
    // HdrHistogram stores integers; sub-microsecond resolution is noise here.
    this.#h.recordValue(Math.max(1, Math.round(us)));
  }
  summary() {
    const h = this.#h;
    return {
      count: h.totalCount,
      mean: h.mean,
      p50: h.getValueAtPercentile(50),
      p99: h.getValueAtPercentile(99),
      p999: h.getValueAtPercentile(99.9),
      max: h.maxValue,
    };
  }
}

export function createRecorder() {
  return hdr ? new HdrRecorder() : new ExactRecorder();
}
