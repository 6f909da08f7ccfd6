// The target's Prometheus figures: the text reader, and the run-time figures from two scrapes
// of the istiod peer captured around 30 agents connecting (fixtures/istiod-metrics-*.txt), plus
// counter resets and labels the captures do not show.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePromText, PromTextError } from '../../src/scenario/prom-text.js';
import { bucketQuantile, TargetMetrics } from '../../src/scenario/target-metrics.js';

const fixture = (n: string) => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');

describe('Prometheus text', () => {
  it('reads names, escaped labels, special values and timestamps; skips comments', () => {
    const text = [
      '# HELP x_total a help line with "quotes"',
      '# TYPE x_total counter',
      'x_total{path="/a\\"b\\\\c",nl="1\\n2"} 3 1712345678000',
      'up 1',
      'h_bucket{le="+Inf"} +Inf',
      'g{ a = "1" } NaN',
      'neg -2.5e-3',
      // prom-client's spelling.
      'ratio Nan',
      'low -inf',
      '',
    ].join('\n');
    const s = parsePromText(text);
    expect(s.map((x) => [x.name, x.labels, x.value])).toEqual([
      ['x_total', { path: '/a"b\\c', nl: '1\n2' }, 3],
      ['up', {}, 1],
      ['h_bucket', { le: '+Inf' }, Infinity],
      ['g', { a: '1' }, NaN],
      ['neg', {}, -0.0025],
      ['ratio', {}, NaN],
      ['low', {}, -Infinity],
    ]);
  });

  it('names the line of a malformed sample', () => {
    expect(() => parsePromText('ok 1\nbad{a="1" 2\n')).toThrow(PromTextError);
    expect(() => parsePromText('ok 1\nx{a="1"} two\n')).toThrow(/line 2: bad value "two"/);
    expect(() => parsePromText('<html>\n')).toThrow(/line 1: expected a metric name/);
  });

  it('reads a whole istiod scrape', () => {
    const s = parsePromText(fixture('istiod-metrics-end.txt'));
    expect(s.length).toBeGreaterThan(100);
    expect(s.find((x) => x.name === 'pilot_xds_pushes' && x.labels['type'] === 'eds')?.value).toBe(136);
  });
});

describe('bucket quantiles', () => {
  it('interpolates inside the bucket as histogram_quantile does', () => {
    const b = [
      { le: 0.1, count: 50 },
      { le: 0.5, count: 90 },
      { le: 1, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(bucketQuantile(0.5, b)).toBeCloseTo(0.1);
    expect(bucketQuantile(0.25, b)).toBeCloseTo(0.05);
    expect(bucketQuantile(0.7, b)).toBeCloseTo(0.3);
    expect(bucketQuantile(0.99, b)).toBeCloseTo(0.95);
    // Past the last finite bound: that bound.
    expect(bucketQuantile(0.99, [{ le: 1, count: 1 }, { le: Infinity, count: 10 }])).toBe(1);
    expect(bucketQuantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }])).toBeNull();
  });
});

describe('TargetMetrics on captured istiod scrapes', () => {
  it('turns the start and end scrapes into the run\'s figures', () => {
    const m = new TargetMetrics('http://127.0.0.1:1/metrics');
    m.ingest(parsePromText(fixture('istiod-metrics-start.txt')), 1_000_000);
    m.ingest(parsePromText(fixture('istiod-metrics-end.txt')), 1_010_000);
    const s = m.summary();
    expect(s.scrapes).toBe(2);
    expect(s.windowMs).toBe(10_000);
    expect(s.missing).toEqual([]);
    // 106 pushes converged, all within istiod's first bucket (100 ms): spread evenly over it.
    expect(s.convergence).toMatchObject({ count: 106, p50Ms: 50, p90Ms: 90, p99Ms: 99 });
    expect(s.convergence!.sumMs).toBeCloseTo(86.619, 2);
    expect(s.convergence!.buckets.map((b) => b.le)).toEqual(['0.1', '0.5', '1', '3', '5', '10', '20', '30', '+Inf']);
    expect(s.convergence!.buckets.every((b) => b.count === 106)).toBe(true);
    // Types that first appeared after the start scrape count from zero.
    expect(s.pushesByType).toEqual({ cds: 54, eds: 136 });
    expect(s.cpu!.seconds).toBeCloseTo(0.14, 6);
    expect(s.cpu!.avgPercent).toBe(1.4);
    expect(s.rssBytes).toEqual({ peak: 120254464, end: 120254464 });
    expect(s.connectedProxies).toEqual({ start: 0, end: 30, peak: 30 });
  });

  it('counts across a restart of the target and keeps peaks between scrapes', () => {
    const m = new TargetMetrics('http://127.0.0.1:1/metrics');
    const scrape = (pushes: number, cpu: number, rss: number, xds: number) =>
      parsePromText(`pilot_xds_pushes{type="eds"} ${pushes}\nprocess_cpu_seconds_total ${cpu}\nprocess_resident_memory_bytes ${rss}\npilot_xds{version="a"} ${xds}\npilot_xds{version="b"} 1\n`);
    m.ingest(scrape(100, 10, 5e8, 3), 0);
    m.ingest(scrape(150, 12, 9e8, 9), 1000);
    // Restarted: counters begin again.
    m.ingest(scrape(20, 0.5, 2e8, 2), 3000);
    const s = m.summary();
    expect(s.pushesByType).toEqual({ eds: 70 });
    expect(s.cpu).toEqual({ seconds: 2.5, avgPercent: 83.3, peakPercent: 200 });
    expect(s.rssBytes).toEqual({ peak: 9e8, end: 2e8 });
    expect(s.connectedProxies).toEqual({ start: 4, end: 3, peak: 10 });
    // Never exposed here: said, not zero.
    expect(s.convergence).toBeNull();
    expect(s.missing).toEqual(['pilot_proxy_convergence_time']);
  });

  it('a target that cannot be scraped gives a summary that says so', async () => {
    const m = new TargetMetrics('http://127.0.0.1:9/metrics', { timeoutMs: 2000 });
    expect(await m.start()).toBeUndefined();
    const s = await m.finish();
    expect(s).toMatchObject({ scrapes: 0, failedScrapes: 2, convergence: null, cpu: null });
    expect(s.lastError).toMatch(/127\.0\.0\.1:9\/metrics: /);
  });
});
