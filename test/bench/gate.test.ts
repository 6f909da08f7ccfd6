// The perf gate's statistics and decisions on synthetic, seeded samples: no timing here, so
// these results are the same on any machine.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/util/random.js';
import {
  compareCounts,
  compareTimed,
  DEFAULT_SETTINGS,
  gateFails,
  quietProcesses,
  summarize,
  type ProcessSamples,
  type TimedSpec,
} from '../../bench/gate/compare.js';
import { referenceView, referenceWorkload } from '../../bench/gate/reference-workload.js';
import {
  exactUDistribution,
  hodgesLehmann,
  inverseNormalCdf,
  mannWhitney,
  median,
  quantile,
  shiftWithInterval,
} from '../../bench/gate/stats.js';

/** Seeded uniform RNG (the project's mulberry32) and a normal via Box-Muller: reproducible synthetic samples. */
const rng = mulberry32;

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Per-process ratios as the gate sees them: log-normal around `center`, `cv` relative noise. */
function ratios(seed: number, n: number, center: number, cv = 0.03): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => center * Math.exp(cv * normal(r)));
}

describe('gate statistics', () => {
  it('median and quantiles interpolate', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
  });

  it('exact U distribution: known small cases, sums to one, symmetric', () => {
    // n = m = 2: orderings of xxyy give U = 0,1,2,2,3,4 -> counts 1,1,2,1,1 of 6.
    expect(exactUDistribution(2, 2).map((p) => p * 6)).toEqual([1, 1, 2, 1, 1]);
    const d = exactUDistribution(7, 5);
    expect(d).toHaveLength(36);
    expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (let u = 0; u < d.length; u++) expect(d[u]).toBeCloseTo(d[d.length - 1 - u]!, 12);
  });

  it('Mann-Whitney: complete separation gives the smallest exact p; swapped samples swap the sides', () => {
    const lo = [1, 2, 3, 4, 5];
    const hi = [6, 7, 8, 9, 10];
    const up = mannWhitney(hi, lo);
    expect(up.exact).toBe(true);
    expect(up.u).toBe(25);
    expect(up.pGreater).toBeCloseTo(1 / 252, 10); // 1 / C(10, 5)
    expect(up.pLess).toBeCloseTo(1, 10);
    const down = mannWhitney(lo, hi);
    expect(down.pLess).toBeCloseTo(1 / 252, 10);
  });

  it('Mann-Whitney with ties uses the normal approximation and stays close to exact', () => {
    // A modest shift, so p sits where the normal approximation is meant to be used.
    const x = ratios(1, 20, 1.01);
    const y = ratios(2, 20, 1.0);
    const exact = mannWhitney(x, y);
    const tied = mannWhitney([...x, y[0]!], [...y, y[0]!]);
    expect(exact.exact).toBe(true);
    expect(tied.exact).toBe(false);
    expect(exact.pGreater).toBeGreaterThan(0.001);
    expect(exact.pGreater).toBeLessThan(0.5);
    expect(Math.abs(tied.pGreater - exact.pGreater)).toBeLessThan(0.03);
    expect(tied.pGreater + tied.pLess).toBeGreaterThan(1);
  });

  it('Hodges-Lehmann recovers a pure shift; its interval covers it', () => {
    const y = ratios(3, 12, 1).map(Math.log);
    const x = y.map((v) => v + 0.14);
    expect(hodgesLehmann(x, y)).toBeCloseTo(0.14, 12);
    const est = shiftWithInterval(ratios(4, 12, 1.15).map(Math.log), ratios(5, 24, 1).map(Math.log));
    expect(est.low).toBeLessThan(Math.log(1.15));
    expect(est.high).toBeGreaterThan(Math.log(1.15));
    expect(est.low).toBeLessThan(est.shift);
    expect(est.shift).toBeLessThan(est.high);
  });

  it('the interval is the full range when samples are too small for 95%', () => {
    const est = shiftWithInterval([2, 3], [0, 1]);
    expect(est.low).toBe(1);
    expect(est.high).toBe(3);
  });

  it('inverse normal CDF', () => {
    expect(inverseNormalCdf(0.5)).toBeCloseTo(0, 9);
    expect(inverseNormalCdf(0.975)).toBeCloseTo(1.959964, 5);
    expect(inverseNormalCdf(0.001)).toBeCloseTo(-3.090232, 5);
  });
});

describe('gate decisions', () => {
  it('same distribution passes, over many seeds', () => {
    for (let seed = 0; seed < 200; seed++) {
      const c = compareTimed('m', true, ratios(seed * 2 + 1000, 24, 1.4), ratios(seed * 2 + 1001, 12, 1.4));
      expect(c.verdict, `seed ${seed}: shift ${c.shift}`).toBe('ok');
    }
  });

  it('a 15% slower distribution fails, over many seeds', () => {
    for (let seed = 0; seed < 200; seed++) {
      const c = compareTimed('m', true, ratios(seed * 2 + 5000, 24, 1.4), ratios(seed * 2 + 5001, 12, 1.4 * 1.15));
      expect(c.verdict, `seed ${seed}: shift ${c.shift}`).toBe('regression');
      expect(c.shift).toBeGreaterThan(0.08);
      expect(c.pSlower).toBeLessThan(0.01);
    }
  });

  it('a 15% faster distribution passes and says so', () => {
    const c = compareTimed('m', true, ratios(7, 24, 1.4), ratios(8, 12, 1.4 / 1.15));
    expect(c.verdict).toBe('faster');
    expect(gateFails([c], [])).toBe(false);
  });

  it('a significant but small shift is within tolerance', () => {
    // Very tight samples: 3% is significant, but below the 8% tolerance.
    const c = compareTimed('m', true, ratios(9, 24, 1.0, 0.002), ratios(10, 12, 1.03, 0.002));
    expect(c.pSlower).toBeLessThan(0.01);
    expect(c.verdict).toBe('ok');
  });

  it('a large shift that is not significant passes (too few, too noisy samples)', () => {
    const c = compareTimed('m', true, [1.0, 1.1], [1.2, 1.3]);
    expect(c.shift).toBeGreaterThan(0.08);
    expect(c.verdict).toBe('ok');
  });

  it('informational metrics never fail; a gated metric with no samples does', () => {
    const info = compareTimed('m', false, ratios(11, 24, 1), ratios(12, 12, 2));
    expect(info.verdict).toBe('info');
    expect(gateFails([info], [])).toBe(false);
    const missing = compareTimed('m', true, ratios(11, 24, 1), []);
    expect(missing.verdict).toBe('missing');
    expect(gateFails([missing], [])).toBe(true);
  });

  it('counts must match exactly; new counts are reported but pass', () => {
    const rows = compareCounts({ encodes: 1, joins: 1, gone: 5 }, { encodes: 1, joins: 2, added: 3 });
    const by = Object.fromEntries(rows.map((r) => [r.name, r.verdict]));
    expect(by).toEqual({ encodes: 'ok', joins: 'mismatch', gone: 'missing', added: 'new' });
    expect(gateFails([], rows)).toBe(true);
    expect(gateFails([], compareCounts({ a: 1 }, { a: 1, b: 2 }))).toBe(false);
    expect(gateFails([], compareCounts({ bytes: 27602 }, { bytes: 27603 }))).toBe(true);
  });
});

describe('gate sampling summary', () => {
  const spec: TimedSpec = { name: 't / r', target: 't', reference: 'r', gated: true };

  /** A process whose rounds alternate quiet and contended: contended rounds read 10% high. */
  function proc(seed: number, rounds: number, contendedEvery: number): ProcessSamples {
    const r = rng(seed);
    const probe: number[] = [];
    const t: number[] = [];
    const ref: number[] = [];
    for (let k = 0; k < rounds; k++) {
      const busy = contendedEvery > 0 && k % contendedEvery === 0;
      const slow = busy ? 1.8 : 1;
      probe.push(17000 * slow * (1 + 0.02 * r()));
      ref.push(5000 * slow * (1 + 0.01 * r()));
      t.push(7000 * slow * (busy ? 1.1 : 1) * (1 + 0.01 * r()));
    }
    return { js_reference: { cpuNs: probe }, t: { cpuNs: t }, r: { cpuNs: ref } };
  }

  it('uses quiet rounds only, so contended rounds do not bias the ratio', () => {
    const procs = [1, 2, 3, 4, 5].map((s) => proc(s, 24, 3));
    const s = summarize(procs, [spec]);
    expect(s.contended).toBe(false);
    expect(s.rounds.used).toBe(5 * 16);
    expect(s.rounds.total).toBe(5 * 24);
    expect(s.timed['t / r']!.perProcess).toHaveLength(5);
    expect(s.timed['t / r']!.ratio).toBeCloseTo(1.4, 1);
    expect(s.timed['t / r']!.ratio).toBeLessThan(1.43);
  });

  it('falls back to every round, flagged, when too few processes had quiet rounds', () => {
    // Every round but one contended in each process: the 1.25x quiet window holds one round each.
    const procs = [1, 2, 3, 4, 5].map((seed) => {
      const p = proc(seed, 24, 1);
      p['js_reference']!.cpuNs[0] = 17000;
      return p;
    });
    expect(quietProcesses(procs)).toBe(0);
    const s = summarize(procs, [spec]);
    expect(s.contended).toBe(true);
    expect(s.rounds.used).toBe(s.rounds.total);
    expect(s.timed['t / r']!.perProcess).toHaveLength(5);
  });

  it('processes without enough quiet rounds are left out when others have them', () => {
    const procs = [proc(1, 24, 3), proc(2, 24, 3), proc(3, 24, 3), proc(4, 24, 3), proc(5, 24, 1)];
    const s = summarize(procs, [spec], { ...DEFAULT_SETTINGS });
    expect(s.contended).toBe(false);
    expect(s.rounds.processes).toBe(4);
    expect(s.timed['t / r']!.perProcess).toHaveLength(4);
  });
});

describe('gate reference workloads', () => {
  // The yardstick must not move: editing reference-workload.ts changes these, and then
  // REFERENCE_WORKLOAD_VERSION must be bumped and bench/baseline.json re-recorded.
  it('are deterministic and unchanged', () => {
    expect(referenceWorkload()).toBe(referenceWorkload());
    const a = referenceView(1000)();
    const b = referenceView(1000)();
    expect(Buffer.compare(a, b)).toBe(0);
    expect([referenceView(100)().length, referenceView(1000)().length, referenceView(10_000)().length]).toMatchInlineSnapshot(`
      [
        10291,
        90396,
        891450,
      ]
    `);
    expect(referenceWorkload()).toMatchInlineSnapshot(`-1591724482`);
    expect(createHash('sha256').update(referenceView(1000)()).digest('hex').slice(0, 16)).toMatchInlineSnapshot(`"640060752e452053"`);
  });
});
