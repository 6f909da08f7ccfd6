// Least-squares line through (x, y) samples: the soak's growth rate of RSS, heap and handles.
// A slope alone is noise on a short run (GC sawtooth, churn), so the fit carries its standard
// error and the verdict says whether the slope is above its bound by more than that noise.

export interface LinearFit {
  n: number;
  slope: number;
  intercept: number;
  /** Standard error of the slope (NaN below 3 points: no residual degree of freedom). */
  slopeStdErr: number;
  /** Coefficient of determination (1 for a perfect line; NaN when y is constant). */
  r2: number;
}

export function fitLine(xs: readonly number[], ys: readonly number[]): LinearFit {
  if (xs.length !== ys.length) throw new Error(`fitLine: ${xs.length} x values, ${ys.length} y values`);
  const n = xs.length;
  if (n < 2) throw new Error(`fitLine: need at least 2 points, got ${n}`);
  // Centred sums: no cancellation when x is a large timestamp.
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i]!;
    my += ys[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) throw new Error('fitLine: every x is the same; no slope');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const sse = Math.max(0, syy - slope * sxy);
  const slopeStdErr = n > 2 ? Math.sqrt(sse / (n - 2) / sxx) : NaN;
  const r2 = syy === 0 ? NaN : 1 - sse / syy;
  return { n, slope, intercept, slopeStdErr, r2 };
}

export interface SlopeVerdict {
  ok: boolean;
  /** slope - 2 x standard error: growth at least this fast is likely (about 95 %). */
  lower: number;
  why: string;
}

/**
 * Fails when even the low end of the slope's ~95 % interval is above the bound: a short run
 * cannot prove a small leak, but a clear one fails whatever the noise. With a NaN standard
 * error (2 points) the slope itself is compared.
 */
export function slopeVerdict(fit: LinearFit, bound: number, unit: string): SlopeVerdict {
  const se = Number.isNaN(fit.slopeStdErr) ? 0 : fit.slopeStdErr;
  const lower = fit.slope - 2 * se;
  const ok = lower <= bound;
  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
  return {
    ok,
    lower,
    why: `${fmt(fit.slope)} ± ${fmt(2 * se)} ${unit} (bound ${fmt(bound)}): ${ok ? 'ok' : 'grows faster than the bound'}`,
  };
}
