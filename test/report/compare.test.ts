// `xdsim report compare`: figures side by side, a regression only past the threshold and past
// noise (rank test over the per-run figures of --repeat), expectations by pass counts, and the
// command's exit codes and JSON. Reports here are built from per-run figures directly, so each
// case states the runs it stands for.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareReports, DEFAULT_COMPARE } from '../../src/report/compare.js';
import { registrationRate, runFigures } from '../../src/report/figures.js';
import { encodeHistogram, newHistogram, recordMs, summarize } from '../../src/report/histogram.js';
import { REPORT_KIND, type RunFigures, type RunReport } from '../../src/report/types.js';
import { parsePushDelay } from '../../src/xds/push/engine.js';

const BIN = join(import.meta.dirname, '../../bin/xdsim.js');

function baseReport(p50 = 100): RunReport {
  const h = newHistogram();
  for (let i = 0; i < 20; i++) recordMs(h, p50);
  return {
    kind: REPORT_KIND,
    version: 1,
    scenario: { name: 's', file: 's.yaml', description: '' },
    startedAt: '2026-01-01T00:00:00.000Z',
    wallMs: 9000,
    durationMs: 7000,
    host: { node: 'v20', platform: 'linux', arch: 'x64', cpus: 2 },
    shards: 1,
    pass: true,
    agents: { total: 40, registered: 40, registeredPeak: 40, connectedPeak: 40 },
    convergence: { ...summarize(h), histogram: encodeHistogram(h) },
    pushes: 20,
    pushesByType: {},
    nacks: 0,
    errors: 0,
    errorsByKind: {},
    leakedEntries: null,
    server: { cpu: { seconds: 0.3, avgPercent: 4, peakPercent: 10, scope: 'process' }, rssBytes: 170 * 2 ** 20, rssBytesEnd: 160 * 2 ** 20, heapUsedBytes: 0 },
    timeline: [],
    series: { intervalMs: 1000, t: [0, 1000, 2000, 3000], connected: [], streams: [], registered: [0, 20, 40, 40], pushesPerSec: [], convergenceP50Ms: [], convergenceP90Ms: [], convergenceP99Ms: [], cpuPercent: [], rssBytes: [], heapUsedBytes: [] },
    expectations: [{ name: 'fails over', kind: 'lbShares', pass: true, detail: '' }],
    notes: [],
  };
}

/** A report standing for runs whose figures are `base` with these per-run overrides. */
function repeated(values: Record<string, number[]>, passes: Record<string, boolean[]> = {}): RunReport {
  const r = baseReport();
  const base = runFigures(r);
  const n = Math.max(...Object.values(values).map((v) => v.length), ...Object.values(passes).map((v) => v.length));
  const runs: RunFigures[] = Array.from({ length: n }, (_, i) => ({
    figures: { ...base.figures, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v[i]!])) },
    expectations: { ...base.expectations, ...Object.fromEntries(Object.entries(passes).map(([k, v]) => [k, v[i]!])) },
  }));
  return { ...r, runs };
}

const row = (c: ReturnType<typeof compareReports>, name: string) => c.figures.find((f) => f.name === name)!;

describe('report compare', () => {
  it('reads the figures of a run', () => {
    const f = runFigures(baseReport()).figures;
    expect(f['convergence p50']).toBeCloseTo(100, 0);
    expect(f['peak RSS']).toBe(170);
    // 40 registered by t = 2 s.
    expect(registrationRate(baseReport())).toBe(20);
    expect(f['leaked entries']).toBeNull();
    expect(f['client convergence p50']).toBeNull();
    expect(f['client convergence config p50']).toBeNull();
    expect(f['target convergence p50']).toBeNull();
  });

  it('reads client-side convergence per kind, and gates it per kind', () => {
    const h = newHistogram();
    for (const v of [90, 100, 110]) recordMs(h, v);
    const cc = { ...summarize(h), histogram: encodeHistogram(h) };
    const r: RunReport = { ...baseReport(), clientConvergence: { all: cc, byKind: { config: cc }, changes: 3, incomplete: 0, subscribersPerSet: 8 } };
    const f = runFigures(r).figures;
    expect(f['client convergence config p50']).toBeCloseTo(100, 0);
    expect(f['client convergence health p50']).toBeNull();
    // The all-kinds percentiles move with the mix of kinds: shown, not gated.
    const c = compareReports(repeated({ 'client convergence p50': [100, 101, 99, 100, 102] }), repeated({ 'client convergence p50': [150, 151, 149, 150, 152] }));
    expect(row(c, 'client convergence p50').verdict).toBe('info');
    expect(c.pass).toBe(true);
  });

  it('reads a remote target from its metrics, not from xdsim\'s own process', () => {
    const r: RunReport = {
      ...baseReport(),
      target: { kind: 'remote', name: 'istiod', xds: 'istiod:15012' },
      targetMetrics: {
        url: 'http://istiod:15014/metrics',
        windowMs: 7000,
        scrapes: 4,
        failedScrapes: 0,
        convergence: { count: 30, sumMs: 3000, p50Ms: 75, p90Ms: 95, p99Ms: 99.5, buckets: [] },
        pushesByType: { eds: 30 },
        cpu: { seconds: 1.5, avgPercent: 21, peakPercent: 60 },
        rssBytes: { peak: 300 * 2 ** 20, end: 290 * 2 ** 20 },
        connectedProxies: { start: 0, end: 40, peak: 40 },
        missing: [],
      },
    };
    const f = runFigures(r).figures;
    expect([f['target convergence p50'], f['target convergence p99'], f['target CPU seconds'], f['target peak RSS']]).toEqual([75, 99.5, 1.5, 300]);
    expect([f['server CPU seconds'], f['peak RSS']]).toEqual([null, null]);
  });

  it('flags a shift past the threshold that the runs separate, and not the same runs', () => {
    const before = repeated({ 'convergence p50': [100, 104, 98, 102, 101] });
    const after = repeated({ 'convergence p50': [131, 128, 135, 126, 133] });
    const c = compareReports(before, after);
    expect(row(c, 'convergence p50')).toMatchObject({ verdict: 'regression', baseline: 101, current: 131, baselineRuns: 5 });
    expect(row(c, 'convergence p50').change!).toBeCloseTo(0.297, 2);
    expect(row(c, 'convergence p50').pWorse!).toBeLessThan(0.01);
    expect(c.pass).toBe(false);
    expect(c.regressions[0]).toMatch(/^convergence p50 \+29\.7% worse \(101ms -> 131ms, p 0\.0040\)$/);
    const same = compareReports(before, repeated({ 'convergence p50': [99, 103, 100, 105, 97] }));
    expect(same.pass).toBe(true);
    expect(row(same, 'convergence p50').verdict).toBe('ok');
  });

  it('calls a large change that the runs do not separate noise', () => {
    const before = repeated({ 'convergence p99': [100, 400, 120, 900, 150] });
    const after = repeated({ 'convergence p99': [300, 130, 1000, 160, 500] });
    const c = compareReports(before, after);
    expect(row(c, 'convergence p99').change!).toBeGreaterThan(0.1);
    expect(row(c, 'convergence p99').verdict).toBe('noise');
    expect(c.pass).toBe(true);
  });

  it('needs the threshold and the floor as well as significance, and sees improvements', () => {
    // Separated but only 5% worse; and +50% of 2 ms is under the 5 ms floor.
    const c = compareReports(repeated({ 'convergence p50': [100, 101, 102, 100, 101], 'client convergence config p50': [2, 2.1, 2, 2.05, 2] }), repeated({ 'convergence p50': [105, 106, 107, 105, 106], 'client convergence config p50': [3, 3.1, 3, 3.05, 3] }));
    expect(row(c, 'convergence p50').verdict).toBe('ok');
    expect(row(c, 'client convergence config p50').verdict).toBe('ok');
    // Registration rate gets worse downwards.
    const slower = compareReports(repeated({ 'registration rate': [30, 31, 30, 32, 31] }), repeated({ 'registration rate': [20, 21, 20, 19, 20] }));
    expect(row(slower, 'registration rate').verdict).toBe('regression');
    const faster = compareReports(repeated({ 'registration rate': [20, 21, 20, 19, 20] }), repeated({ 'registration rate': [30, 31, 30, 32, 31] }));
    expect(row(faster, 'registration rate').verdict).toBe('improved');
    expect(faster.pass).toBe(true);
  });

  it('counts errors from a zero baseline as infinitely worse', () => {
    const c = compareReports(repeated({ errors: [0, 0, 0, 0, 0] }), repeated({ errors: [2, 1, 3, 2, 2] }));
    expect(row(c, 'errors')).toMatchObject({ verdict: 'regression', change: Infinity });
  });

  it('gates an expectation that held in every baseline run and fails in most current ones', () => {
    const ok = [true, true, true, true, true];
    expect(compareReports(repeated({}, { 'fails over': ok }), repeated({}, { 'fails over': [false, false, true, false, false] })).expectations[0]).toMatchObject({ verdict: 'regression', currentPassed: 1 });
    const flaky = compareReports(repeated({}, { 'fails over': ok }), repeated({}, { 'fails over': [true, false, true, true, true] }));
    expect(flaky.expectations[0]!.verdict).toBe('flaky');
    expect(flaky.pass).toBe(true);
  });

  it('without repeats judges the threshold alone, and says so', () => {
    const c = compareReports(baseReport(100), baseReport(150));
    expect(c.notes[0]).toMatch(/single run/);
    expect(row(c, 'convergence p50').verdict).toBe('regression');
    const few = compareReports(repeated({ 'convergence p50': [100, 101] }), repeated({ 'convergence p50': [150, 151] }));
    expect(few.notes.some((n) => /no difference can reach p < 0.01/.test(n))).toBe(true);
    expect(row(few, 'convergence p50').verdict).toBe('noise');
  });

  it('reads the push delay hook', () => {
    expect(parsePushDelay('30%')).toBeCloseTo(0.3);
    expect(parsePushDelay('0.3')).toBeCloseTo(0.3);
    expect(parsePushDelay(undefined)).toBe(0);
    expect(parsePushDelay('slow')).toBe(0);
  });

  describe('the command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdsim-compare-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, r: RunReport) => {
      const f = join(dir, name);
      writeFileSync(f, JSON.stringify(r));
      return f;
    };
    const base = write('base.json', repeated({ 'convergence p50': [100, 104, 98, 102, 101] }));
    const same = write('same.json', repeated({ 'convergence p50': [99, 103, 100, 105, 97] }));
    const slow = write('slow.json', repeated({ 'convergence p50': [131, 128, 135, 126, 133] }));
    const xdsim = (...args: string[]) => spawnSync(process.execPath, [BIN, 'report', 'compare', ...args], { encoding: 'utf8', timeout: 30_000 });

    it('exits 0 on unchanged runs, 1 on a regression, 2 on bad input', () => {
      const ok = xdsim(base, same);
      expect(ok.status).toBe(0);
      expect(ok.stdout).toMatch(/convergence p50 +│ +101ms │ +100ms │/);
      expect(ok.stdout).toMatch(/compare: PASS/);
      const bad = xdsim(base, slow);
      expect(bad.status).toBe(1);
      expect(bad.stdout).toMatch(/│ convergence p50 .*│ REGRESSION/);
      expect(bad.stdout).toMatch(/compare: FAIL: convergence p50 \+29\.7% worse/);
      // A 40% allowance lets the same runs through.
      expect(xdsim(base, slow, '--max-regression', '40%').status).toBe(0);
      expect(xdsim(base, slow, '--max-regression', 'lots').status).toBe(2);
      expect(xdsim(base, join(dir, 'missing.json')).status).toBe(2);
    });

    it('prints JSON with --json', () => {
      const r = xdsim(base, slow, '--json');
      expect(r.status).toBe(1);
      const c = JSON.parse(r.stdout) as ReturnType<typeof compareReports>;
      expect(c.settings).toEqual(DEFAULT_COMPARE);
      expect(c.figures.find((f) => f.name === 'convergence p50')!.verdict).toBe('regression');
      expect(c.baseline.runs).toBe(5);
    });
  });
});
