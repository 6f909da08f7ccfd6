// Distribution-free statistics for the perf gate: medians, the Mann-Whitney U test (exact null
// distribution for the small samples the gate uses, normal approximation with tie correction
// otherwise), and the Hodges-Lehmann shift estimate with its matching confidence interval.
// Pure functions of their inputs, so they are unit-tested with synthetic samples.

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Linear-interpolated quantile (q in 0..1); NaN for an empty sample. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** All differences x_i - y_j, sorted ascending. */
export function pairwiseDifferences(x: readonly number[], y: readonly number[]): number[] {
  const d: number[] = [];
  for (const a of x) for (const b of y) d.push(a - b);
  return d.sort((a, b) => a - b);
}

/** Hodges-Lehmann estimate of the shift of x relative to y: the median pairwise difference. */
export function hodgesLehmann(x: readonly number[], y: readonly number[]): number {
  return median(pairwiseDifferences(x, y));
}

/**
 * Null distribution of U (the count of pairs with x_i > y_j) for sizes n, m without ties:
 * probabilities for u = 0..n*m. Counted with the usual recurrence over the largest element.
 */
export function exactUDistribution(n: number, m: number): number[] {
  // f[j][u] for the current i: number of orderings of i x's and j y's with U = u.
  let prev: number[][] = [];
  for (let j = 0; j <= m; j++) prev.push([1]);
  for (let i = 1; i <= n; i++) {
    const cur: number[][] = [[1]];
    for (let j = 1; j <= m; j++) {
      const len = i * j + 1;
      const row = new Array<number>(len).fill(0);
      // Largest element is an x (it beats all j y's) or a y (it adds nothing).
      const a = prev[j]!;
      for (let u = 0; u < a.length; u++) row[u + j]! += a[u]!;
      const b = cur[j - 1]!;
      for (let u = 0; u < b.length; u++) row[u]! += b[u]!;
      cur.push(row);
    }
    prev = cur;
  }
  const counts = prev[m]!;
  const total = counts.reduce((s, c) => s + c, 0);
  return counts.map((c) => c / total);
}

export interface MannWhitney {
  /** Pairs with x_i > y_j, ties counting one half. */
  readonly u: number;
  /** One-sided p-value for "x tends to be larger than y". */
  readonly pGreater: number;
  /** One-sided p-value for "x tends to be smaller than y". */
  readonly pLess: number;
  readonly exact: boolean;
}

const EXACT_LIMIT = 2500;

function normalCdf(z: number): number {
  // Abramowitz-Stegun 7.1.26 on erf; ample for p-values in a gate.
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

export function mannWhitney(x: readonly number[], y: readonly number[]): MannWhitney {
  const n = x.length;
  const m = y.length;
  if (n === 0 || m === 0) return { u: NaN, pGreater: 1, pLess: 1, exact: false };
  let u = 0;
  let ties = false;
  for (const a of x) {
    for (const b of y) {
      if (a > b) u += 1;
      else if (a === b) {
        u += 0.5;
        ties = true;
      }
    }
  }
  if (!ties && n * m <= EXACT_LIMIT) {
    const dist = exactUDistribution(n, m);
    let ge = 0;
    for (let k = u; k < dist.length; k++) ge += dist[k]!;
    let le = 0;
    for (let k = 0; k <= u; k++) le += dist[k]!;
    return { u, pGreater: Math.min(1, ge), pLess: Math.min(1, le), exact: true };
  }
  // Normal approximation with tie correction and continuity correction.
  const all = [...x, ...y].sort((a, b) => a - b);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j] === all[i]) j++;
    const t = j - i;
    tieTerm += t * t * t - t;
    i = j;
  }
  const N = n + m;
  const mean = (n * m) / 2;
  const variance = ((n * m) / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  if (variance <= 0) return { u, pGreater: 1, pLess: 1, exact: false };
  const sd = Math.sqrt(variance);
  return {
    u,
    pGreater: 1 - normalCdf((u - mean - 0.5) / sd),
    pLess: normalCdf((u - mean + 0.5) / sd),
    exact: false,
  };
}

export interface ShiftEstimate {
  /** Hodges-Lehmann shift of x over y. */
  readonly shift: number;
  /** Distribution-free confidence interval for the shift (from the U distribution). */
  readonly low: number;
  readonly high: number;
}

/**
 * The shift of x over y with a `confidence` interval: the k-th smallest and largest pairwise
 * differences, k from the U distribution's α/2 tail (exact for small samples, else normal).
 * Samples too small for the confidence asked for get the full range of differences.
 */
export function shiftWithInterval(x: readonly number[], y: readonly number[], confidence = 0.95): ShiftEstimate {
  const d = pairwiseDifferences(x, y);
  if (d.length === 0) return { shift: NaN, low: NaN, high: NaN };
  const n = x.length;
  const m = y.length;
  const tail = (1 - confidence) / 2;
  // 0-based index of the lower bound: the differences cut from each end.
  let cut: number;
  if (n * m <= EXACT_LIMIT) {
    const dist = exactUDistribution(n, m);
    // Largest c with P(U <= c) <= tail: the interval is [D(c+1), D(nm-c)] (1-based).
    let cdf = 0;
    cut = 0;
    for (let u = 0; u < dist.length; u++) {
      cdf += dist[u]!;
      if (cdf > tail + 1e-12) break;
      cut = u;
    }
  } else {
    const z = -inverseNormalCdf(tail);
    cut = Math.floor((n * m) / 2 - z * Math.sqrt((n * m * (n + m + 1)) / 12)) - 1;
  }
  cut = Math.max(0, Math.min(cut, Math.floor((d.length - 1) / 2)));
  return { shift: median(d), low: d[cut]!, high: d[d.length - 1 - cut]! };
}

/** Acklam-style rational approximation, good to ~1e-9 over (0, 1). */
export function inverseNormalCdf(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lowP = 0.02425;
  if (p < lowP) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lowP) return -inverseNormalCdf(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}
