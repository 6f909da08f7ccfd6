// Latency histograms: HDR histograms in microseconds, one per metric per worker, shipped to the
// main thread (and between shards) in HdrHistogram's compressed base64 form and merged by adding
// counts - percentiles of a fleet are never averages of worker percentiles.
import hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs .. 1 h at 3 significant digits. */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Records a duration given in milliseconds (clamped to the trackable range). */
export function recordMs(h: Histogram, ms: number): void {
  if (!Number.isFinite(ms)) return;
  h.recordValue(Math.min(3_600_000_000, Math.max(1, Math.round(ms * 1000))));
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(s: string): Histogram {
  const out = newHistogram();
  if (s) out.add(hdr.decodeFromCompressedBase64(s));
  return out;
}

/** Sum of encoded histograms, re-encoded. */
export function mergeEncoded(encoded: readonly string[]): string {
  const out = newHistogram();
  for (const s of encoded) if (s) out.add(hdr.decodeFromCompressedBase64(s));
  return encodeHistogram(out);
}

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

const round = (us: number): number => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  return {
    count: h.totalCount,
    minMs: round(h.minNonZeroValue),
    meanMs: round(h.mean),
    p50Ms: round(h.getValueAtPercentile(50)),
    p90Ms: round(h.getValueAtPercentile(90)),
    p99Ms: round(h.getValueAtPercentile(99)),
    p999Ms: round(h.getValueAtPercentile(99.9)),
    // Percentile 100, not maxValue: the same bucket-rounded value before and after encoding.
    maxMs: round(h.getValueAtPercentile(100)),
  };
}
