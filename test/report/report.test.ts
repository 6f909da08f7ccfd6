// Reports: merging shards (histograms merged, never averaged), the HTML page, the text table.
import { describe, expect, it } from 'vitest';
import { mergeDocuments } from '../../src/cli/report.js';
import { fleetConfig } from '../../src/fleet/config.js';
import { buildSummary, type FleetSummary } from '../../src/fleet/summary.js';
import { decodeHistogram, encodeHistogram, newHistogram, recordMs, summarize } from '../../src/report/histogram.js';
import { renderHtml } from '../../src/report/html.js';
import { mergeRunReports } from '../../src/report/merge.js';
import { lineChart, niceTicks } from '../../src/report/svg.js';
import { failureLines, formatSummary } from '../../src/report/table.js';
import { REPORT_KIND, type RunReport } from '../../src/report/types.js';

function hist(values: number[]) {
  const h = newHistogram();
  for (const v of values) recordMs(h, v);
  return h;
}

function report(name: string, samples: number[], over: Partial<RunReport> = {}): RunReport {
  const h = hist(samples);
  return {
    kind: REPORT_KIND,
    version: 1,
    scenario: { name, file: `scenarios/${name}.yaml`, description: 'd <b>' },
    startedAt: '2026-01-01T00:00:00.000Z',
    wallMs: 10_000,
    durationMs: 8000,
    host: { node: 'v20', platform: 'linux', arch: 'x64', cpus: 2 },
    shards: 1,
    pass: true,
    agents: { total: 100, registered: 100, registeredPeak: 100, connectedPeak: 100 },
    convergence: { ...summarize(h), histogram: encodeHistogram(h) },
    pushes: samples.length,
    pushesByType: { eds: 100 },
    nacks: 1,
    errors: 2,
    errorsByKind: { 'agent connect-timeout': 2 },
    leakedEntries: 0,
    server: { cpu: { seconds: 1, avgPercent: 10, peakPercent: 40, scope: 'process' }, rssBytes: 200e6, rssBytesEnd: 150e6, heapUsedBytes: 50e6 },
    timeline: [{ atMs: 2000, label: 'drop <10%>', ranAtMs: 2001, result: 'ok', ok: true }],
    series: {
      intervalMs: 1000,
      t: [0, 1000, 2000],
      connected: [0, 50, 100],
      streams: [0, 51, 101],
      registered: [0, 50, 100],
      pushesPerSec: [0, 2, 1],
      convergenceP50Ms: [null, 10, 12],
      convergenceP90Ms: [null, 20, 22],
      convergenceP99Ms: [null, 30, 32],
      cpuPercent: [0, 20, 40],
      rssBytes: [1e8, 1.5e8, 2e8],
      heapUsedBytes: [3e7, 4e7, 5e7],
    },
    expectations: [{ name: 'registered >= 100', kind: 'registered', pass: true, detail: 'registered entries: 100 (>= 100)', atMs: 5000, line: 12 }],
    notes: [],
    ...over,
  };
}

describe('HDR histograms', () => {
  it('round-trip through base64 and summarize in ms', () => {
    const h = hist([1, 2, 3, 4, 100]);
    const back = decodeHistogram(encodeHistogram(h));
    const { meanMs: _a, ...got } = summarize(back);
    const { meanMs: _b, ...want } = summarize(h);
    expect(got).toEqual(want);
    expect(summarize(back).count).toBe(5);
    expect(summarize(back).maxMs).toBeCloseTo(100, 0);
  });
});

describe('merging run reports', () => {
  // Shard a: fast pushes; shard b: slow ones. Averaging p99s would give ~505 ms.
  const fast = Array.from({ length: 99 }, (_, i) => 10 + (i % 10));
  const slow = [1000];
  const a = report('a', fast);
  const b = report('b', slow, { pass: false, leakedEntries: null, expectations: [{ name: 'x', kind: 'nacks', pass: false, detail: 'no' }] });
  const m = mergeRunReports([a, b], ['a.json', 'b.json']);

  it('merges histograms: percentiles of the union of samples', () => {
    const union = summarize(hist([...fast, ...slow]));
    expect(m.convergence.count).toBe(100);
    expect(m.convergence.p99Ms).toBe(union.p99Ms);
    expect(m.convergence.maxMs).toBe(union.maxMs);
    expect(m.convergence.p50Ms).toBe(union.p50Ms);
    expect(m.convergence.p99Ms).toBeLessThan(20);
    expect(summarize(decodeHistogram(m.convergence.histogram)).count).toBe(100);
  });

  it('adds counts, keeps peaks, labels expectations by shard', () => {
    expect(m.shards).toBe(2);
    expect(m.pass).toBe(false);
    expect(m.agents).toMatchObject({ total: 200, registered: 200, connectedPeak: 200 });
    expect([m.pushes, m.nacks, m.errors]).toEqual([100, 2, 4]);
    expect(m.errorsByKind).toEqual({ 'agent connect-timeout': 4 });
    expect(m.pushesByType).toEqual({ eds: 200 });
    expect(m.leakedEntries).toBe(0);
    expect(m.server.rssBytes).toBe(200e6);
    expect(m.series.connected).toEqual([0, 100, 200]);
    expect(m.series.convergenceP99Ms).toEqual([null, 30, 32]);
    expect(m.expectations.map((e) => e.name)).toEqual(['[a.json] registered >= 100', '[b.json] x']);
    expect(m.scenario.name).toBe('a + b');
  });

  it('one report merges to itself', () => {
    const one = mergeRunReports([a]);
    expect(one.convergence.p99Ms).toBe(a.convergence.p99Ms);
    expect(one.expectations).toEqual(a.expectations);
  });

  it('merges fleet shard summaries (xdsim agents --json) with the fleet\'s own merge', () => {
    const shard = (index: number) => buildSummary(fleetConfig({ xds: '127.0.0.1:1', count: 10, shardIndex: index, shardCount: 2 }), [], Date.now());
    const m = mergeDocuments([shard(0), shard(1)], ['s0.json', 's1.json']) as FleetSummary;
    expect(m.kind).toBe('xdsim.fleet.summary');
    expect(m.shards).toEqual([{ index: 0, count: 2 }, { index: 1, count: 2 }]);
  });

  it('refuses mixed kinds and foreign JSON', () => {
    const fleet = { kind: 'xdsim.fleet.summary', version: 1 };
    expect(() => mergeDocuments([a, fleet], ['a.json', 'f.json'])).toThrow('cannot merge run reports with fleet summaries');
    expect(() => mergeDocuments([{ hello: 1 }], ['h.json'])).toThrow('h.json: neither an xdsim run report');
  });
});

describe('report.html', () => {
  const html = renderHtml(report('quick <start>', [5, 10, 20]));

  it('is one self-contained page with the five charts', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link |src="http|href="http/);
    expect(html.match(/<svg /g)).toHaveLength(5);
    for (const t of ['Agents', 'Push convergence (per interval)', 'Pushes per second', 'Server CPU (% of one core)', 'Memory (MiB)']) expect(html).toContain(`aria-label="${t}"`);
  });

  it('escapes what comes from the scenario', () => {
    expect(html).toContain('quick &lt;start&gt;');
    expect(html).toContain('d &lt;b&gt;');
    expect(html).not.toContain('drop <10%>');
    expect(html).toContain('registered &gt;= 100');
  });

  it('marks timeline actions on the charts', () => {
    expect(html.match(/class="mark"/g)).toHaveLength(5);
  });
});

describe('charts', () => {
  it('nice ticks', () => {
    expect(niceTicks(87)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(2.2)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
  });

  it('breaks lines at gaps and draws lone points as dots', () => {
    const svg = lineChart({ title: 't', x: [0, 1000, 2000, 3000, 4000], series: [{ name: 's', color: '#000', values: [1, 2, null, 3, null] }] });
    const d = /<path d="([^"]*)"/.exec(svg)![1]!;
    expect(d.match(/M/g)).toHaveLength(2);
    expect(d.match(/L/g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(1);
  });
});

describe('text output', () => {
  it('the summary table and one reason line per failed expectation', () => {
    const r = report('q', [5], {
      pass: false,
      expectations: [
        { name: 'ok', kind: 'nacks', pass: true, detail: '0 NACK(s)' },
        { name: 'local', kind: 'lbShares', pass: false, detail: 'r1 50.0% (expected 100.0%)', atMs: 12_000, line: 40 },
      ],
    });
    const t = formatSummary(r);
    expect(t).toContain('scenario q: FAIL');
    expect(t).toContain('expectations: 1/2 passed');
    expect(t).toMatch(/push convergence p50 \/ p90 \/ p99 .* 5\.00ms \/ 5\.00ms \/ 5\.00ms/);
    expect(failureLines(r)).toEqual(['scenarios/q.yaml:40: expectation "local" failed at 12.0s: r1 50.0% (expected 100.0%)']);
  });
});
