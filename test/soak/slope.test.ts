// The soak's least-squares fit and verdict, as tables of known lines and noise.
import { describe, expect, it } from 'vitest';
import { fitLine, slopeVerdict } from '../../src/soak/slope.js';

describe('fitLine', () => {
  const cases: { name: string; xs: number[]; ys: number[]; slope: number; intercept: number; r2?: number; se?: number }[] = [
    { name: 'two points', xs: [0, 1], ys: [1, 3], slope: 2, intercept: 1 },
    { name: 'exact line', xs: [0, 1, 2, 3, 4], ys: [5, 7, 9, 11, 13], slope: 2, intercept: 5, r2: 1, se: 0 },
    { name: 'flat', xs: [0, 1, 2, 3], ys: [4, 4, 4, 4], slope: 0, intercept: 4, se: 0 },
    { name: 'falling', xs: [1, 2, 3], ys: [3, 2, 1], slope: -1, intercept: 4, r2: 1 },
    // Symmetric noise around y = x: the fit is the line, r2 below 1.
    { name: 'noise around y = x', xs: [0, 1, 2, 3, 4, 5], ys: [1, 0, 3, 2, 5, 4], slope: 29 / 35, intercept: 2.5 - (29 / 35) * 2.5 },
    // Hours since an epoch-scale start: centring keeps full precision.
    { name: 'large x offset', xs: [1.7e9, 1.7e9 + 1, 1.7e9 + 2], ys: [10, 20, 30], slope: 10, intercept: 10 - 10 * 1.7e9 },
    { name: 'uneven spacing', xs: [0, 1, 10], ys: [0, 2, 20], slope: 2, intercept: 0, r2: 1 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const f = fitLine(c.xs, c.ys);
      expect(f.n).toBe(c.xs.length);
      expect(f.slope).toBeCloseTo(c.slope, 9);
      expect(f.intercept / Math.max(1, Math.abs(c.intercept))).toBeCloseTo(c.intercept / Math.max(1, Math.abs(c.intercept)), 9);
      if (c.r2 !== undefined) expect(f.r2).toBeCloseTo(c.r2, 9);
      if (c.se !== undefined) expect(f.slopeStdErr).toBeCloseTo(c.se, 9);
    });
  }

  it('standard error of the slope matches the textbook value', () => {
    // y = 1, 0, 3, 2, 5, 4 on x = 0..5: Sxx 17.5, slope 29/35, SSE = Syy - slope*Sxy.
    const f = fitLine([0, 1, 2, 3, 4, 5], [1, 0, 3, 2, 5, 4]);
    const sxx = 17.5;
    const sxy = 14.5;
    const syy = 17.5;
    const sse = syy - (sxy / sxx) * sxy;
    expect(f.slopeStdErr).toBeCloseTo(Math.sqrt(sse / 4 / sxx), 12);
    expect(f.r2).toBeCloseTo(1 - sse / syy, 12);
  });

  it('two points have no standard error', () => {
    expect(Number.isNaN(fitLine([0, 1], [0, 1]).slopeStdErr)).toBe(true);
  });

  for (const [name, xs, ys] of [
    ['one point', [1], [1]],
    ['lengths differ', [1, 2], [1]],
    ['same x', [2, 2, 2], [1, 2, 3]],
  ] as const) {
    it(`refuses ${name}`, () => expect(() => fitLine([...xs], [...ys])).toThrow(/fitLine/));
  }
});

describe('slopeVerdict', () => {
  const cases: { name: string; slope: number; se: number; bound: number; ok: boolean }[] = [
    { name: 'well under', slope: 1, se: 0.5, bound: 10, ok: true },
    { name: 'over, but within noise', slope: 12, se: 2, bound: 10, ok: true },
    { name: 'clearly over', slope: 20, se: 2, bound: 10, ok: false },
    { name: 'exactly at the bound after noise', slope: 14, se: 2, bound: 10, ok: true },
    { name: 'falling', slope: -50, se: 1, bound: 0, ok: true },
    { name: 'no standard error: slope itself', slope: 11, se: NaN, bound: 10, ok: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = slopeVerdict({ n: 10, slope: c.slope, intercept: 0, slopeStdErr: c.se, r2: 0.5 }, c.bound, 'MiB/h');
      expect(v.ok).toBe(c.ok);
      expect(v.lower).toBeCloseTo(c.slope - 2 * (Number.isNaN(c.se) ? 0 : c.se), 9);
      expect(v.why).toContain('MiB/h');
    });
  }
});
