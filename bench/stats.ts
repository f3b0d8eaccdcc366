/** Latency figures from samples in microseconds, reported in ms. */
export interface Latency {
  p50: number;
  p99: number;
  max: number;
}

/** Percentiles of the first `count` samples (sorted in place). */
export function latency(samples: Float64Array, count: number): Latency {
  if (count === 0) return { p50: NaN, p99: NaN, max: NaN };
  const sorted = samples.subarray(0, count).sort();
  const at = (q: number) =>
    sorted[Math.min(count - 1, Math.floor(q * count))] / 1000;
  return { p50: at(0.5), p99: at(0.99), max: sorted[count - 1] / 1000 };
}
