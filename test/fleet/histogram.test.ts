import { describe, expect, it } from 'vitest';
import { decodeHistogram, encodeHistogram, mergeEncoded, newHistogram, recordMs, summarize } from '../../src/fleet/histogram.js';

describe('fleet histograms', () => {
  it('merging encoded worker histograms equals one histogram of all samples (not averaged percentiles)', () => {
    // Worker A: 900 fast samples; worker B: 100 slow ones. Averaging p99s would say ~505 ms.
    const a = newHistogram();
    const b = newHistogram();
    const all = newHistogram();
    for (let i = 0; i < 900; i++) {
      recordMs(a, 10);
      recordMs(all, 10);
    }
    for (let i = 0; i < 100; i++) {
      recordMs(b, 1000 + i);
      recordMs(all, 1000 + i);
    }
    const merged = summarize(decodeHistogram(mergeEncoded([encodeHistogram(a), encodeHistogram(b)])));
    expect(merged).toEqual(summarize(all));
    expect(merged.count).toBe(1000);
    expect(merged.p50Ms).toBeCloseTo(10, 1);
    expect(merged.p90Ms).toBeCloseTo(10, 1);
    expect(merged.p99Ms).toBeGreaterThan(1080);
    expect(merged.maxMs).toBeGreaterThan(1098);
  });

  it('sub-millisecond resolution, empty histograms and empty encodings are fine', () => {
    const h = newHistogram();
    recordMs(h, 0.25);
    expect(summarize(h).p50Ms).toBeCloseTo(0.25, 3);
    expect(summarize(newHistogram()).count).toBe(0);
    expect(summarize(decodeHistogram(mergeEncoded(['', encodeHistogram(newHistogram())]))).count).toBe(0);
  });
});
