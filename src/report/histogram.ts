// Latency histograms for reports: HDR histograms of microseconds, stored in report.json as
// compressed base64 so shard reports can be merged exactly (merging buckets, never averaging
// percentiles).
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs .. 1 h at 3 significant digits: every latency a run can produce, to 0.1%. */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export function recordMs(h: Histogram, ms: number): void {
  // Clamp at 1 µs: a zero-time sample still counts.
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    // Percentile 100, not maxValue: the same bucket bound whether or not the histogram went through base64.
    maxMs: ms(h.getValueAtPercentile(100)),
    meanMs: Math.round(h.mean) / 1000,
  };
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(s: string): Histogram {
  const h = newHistogram();
  // Copied into our standard shape, so merges never meet a narrower bucket size.
  if (s) h.add(hdr.decodeFromCompressedBase64(s));
  return h;
}

/** One histogram holding every sample of `parts` (bucket-wise sum). */
export function mergeHistograms(parts: readonly Histogram[]): Histogram {
  const out = newHistogram();
  for (const p of parts) out.add(p);
  return out;
}
