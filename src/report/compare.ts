// `xdsim report compare`: two reports' shared figures side by side. A figure regresses when it
// got worse by more than the allowed ratio (and by more than its absolute floor) *and* the
// per-run values (`xdsim run --repeat N`) say the difference is not noise: a one-sided
// Mann-Whitney test, with the Hodges-Lehmann shift and its 95% interval for the size, the same
// distribution-free statistics the perf gate uses (bench/gate/stats.ts).
import { median, mannWhitney, shiftWithInterval } from '../../bench/gate/stats.js';
import { FIGURES, reportRuns, type FigureSpec } from './figures.js';
import type { RunReport } from './types.js';

export interface CompareOptions {
  /** Allowed worsening as a fraction (0.1 = 10%). */
  maxRegression: number;
  /** Significance level of the one-sided rank test. */
  alpha: number;
}

export const DEFAULT_COMPARE: CompareOptions = { maxRegression: 0.1, alpha: 0.01 };

export type FigureVerdict = 'ok' | 'regression' | 'noise' | 'improved' | 'info' | 'missing';

export interface FigureRow {
  name: string;
  unit: FigureSpec['unit'];
  gated: boolean;
  /** Medians of the per-run values. */
  baseline: number | null;
  current: number | null;
  baselineRuns: number;
  currentRuns: number;
  /** Worsening as a fraction of the baseline (positive = worse); Infinity from a zero baseline. */
  change: number | null;
  /** The Hodges-Lehmann shift current - baseline and its 95% interval, in the figure's unit. */
  shift?: { value: number; low: number; high: number };
  /** One-sided p-value for "current is worse"; undefined without repeats on both sides. */
  pWorse?: number;
  verdict: FigureVerdict;
}

export interface ExpectationRow {
  name: string;
  baselinePassed: number;
  baselineRuns: number;
  currentPassed: number;
  currentRuns: number;
  verdict: 'ok' | 'regression' | 'flaky' | 'fixed' | 'new' | 'gone';
}

export interface Comparison {
  baseline: { scenario: string; runs: number; startedAt: string };
  current: { scenario: string; runs: number; startedAt: string };
  settings: CompareOptions;
  figures: FigureRow[];
  expectations: ExpectationRow[];
  /** Why noise could not be judged, when it could not. */
  notes: string[];
  regressions: string[];
  pass: boolean;
}

export function compareReports(base: RunReport, cur: RunReport, opts: CompareOptions = DEFAULT_COMPARE): Comparison {
  const bRuns = reportRuns(base);
  const cRuns = reportRuns(cur);
  const notes: string[] = [];
  const repeated = bRuns.length >= 2 && cRuns.length >= 2;
  if (!repeated) notes.push(`noise not judged: ${bRuns.length < 2 ? 'the baseline' : 'the current report'} has a single run (use xdsim run --repeat 5): a figure past the threshold counts as a regression on its own`);
  else if (1 / binomial(bRuns.length + cRuns.length, cRuns.length) >= opts.alpha) {
    // Even complete separation of the two samples is not significant at alpha.
    notes.push(`with ${bRuns.length} and ${cRuns.length} runs no difference can reach p < ${opts.alpha}: use more repeats`);
  }
  if (base.scenario.name !== cur.scenario.name) notes.push(`different scenarios: ${base.scenario.name} vs ${cur.scenario.name}`);
  const figures: FigureRow[] = [];
  for (const f of FIGURES) {
    const bv = bRuns.map((r) => r.figures[f.name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const cv = cRuns.map((r) => r.figures[f.name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    // A figure only one side measured is not shared: nothing to compare.
    if (bv.length === 0 && cv.length === 0) continue;
    const row: FigureRow = { name: f.name, unit: f.unit, gated: f.gated, baseline: bv.length ? median(bv) : null, current: cv.length ? median(cv) : null, baselineRuns: bv.length, currentRuns: cv.length, change: null, verdict: 'missing' };
    figures.push(row);
    if (!bv.length || !cv.length) continue;
    const sign = f.worse === 'higher' ? 1 : -1;
    const s = shiftWithInterval(cv, bv);
    row.shift = { value: s.shift, low: s.low, high: s.high };
    const worsening = sign * s.shift;
    const b = row.baseline!;
    row.change = b === 0 ? (worsening === 0 ? 0 : worsening > 0 ? Infinity : -Infinity) : worsening / Math.abs(b);
    const pastThreshold = row.change > opts.maxRegression && worsening > f.floor;
    const pastBetter = row.change < -opts.maxRegression && -worsening > f.floor;
    let significant = true;
    let significantBetter = true;
    if (bv.length >= 2 && cv.length >= 2) {
      const mw = mannWhitney(cv, bv);
      row.pWorse = f.worse === 'higher' ? mw.pGreater : mw.pLess;
      significant = row.pWorse < opts.alpha;
      significantBetter = (f.worse === 'higher' ? mw.pLess : mw.pGreater) < opts.alpha;
    }
    if (!f.gated) row.verdict = 'info';
    else if (pastThreshold) row.verdict = significant ? 'regression' : 'noise';
    else if (pastBetter && significantBetter) row.verdict = 'improved';
    else row.verdict = 'ok';
  }
  const names = [...new Set([...bRuns.flatMap((r) => Object.keys(r.expectations)), ...cRuns.flatMap((r) => Object.keys(r.expectations))])];
  const expectations: ExpectationRow[] = names.map((name) => {
    const tally = (runs: typeof bRuns) => {
      const seen = runs.filter((r) => name in r.expectations);
      return { runs: seen.length, passed: seen.filter((r) => r.expectations[name]).length };
    };
    const b = tally(bRuns);
    const c = tally(cRuns);
    let verdict: ExpectationRow['verdict'];
    if (b.runs === 0) verdict = 'new';
    else if (c.runs === 0) verdict = 'gone';
    // Held in every baseline run and fails in most current ones: the change broke it. A failure
    // in fewer runs is reported as flaky, not gated: one run in five is not a verdict.
    else if (b.passed === b.runs && c.passed * 2 < c.runs) verdict = 'regression';
    else if (b.passed === b.runs && c.passed < c.runs) verdict = 'flaky';
    else if (b.passed < b.runs && c.passed === c.runs) verdict = 'fixed';
    else verdict = 'ok';
    return { name, baselinePassed: b.passed, baselineRuns: b.runs, currentPassed: c.passed, currentRuns: c.runs, verdict };
  });
  const regressions = [
    ...figures.filter((f) => f.verdict === 'regression').map((f) => `${f.name} ${fmtChange(f.change)} worse (${fmtValue(f.baseline, f.unit)} -> ${fmtValue(f.current, f.unit)}${f.pWorse !== undefined ? `, p ${fmtP(f.pWorse)}` : ''})`),
    ...expectations.filter((e) => e.verdict === 'regression').map((e) => `expectation "${e.name}" passed ${e.baselinePassed}/${e.baselineRuns} before, ${e.currentPassed}/${e.currentRuns} now`),
  ];
  return {
    baseline: { scenario: base.scenario.name, runs: bRuns.length, startedAt: base.startedAt },
    current: { scenario: cur.scenario.name, runs: cRuns.length, startedAt: cur.startedAt },
    settings: opts,
    figures,
    expectations,
    notes,
    regressions,
    pass: regressions.length === 0,
  };
}

export function fmtValue(v: number | null, unit: FigureSpec['unit']): string {
  if (v === null) return 'n/a';
  switch (unit) {
    case 'ms':
      return v >= 1000 ? `${+(v / 1000).toFixed(2)}s` : `${+v.toFixed(v < 10 ? 2 : 1)}ms`;
    case 's':
      return `${+v.toFixed(2)}s`;
    case '%':
      return `${+v.toFixed(1)}%`;
    case 'MiB':
      return `${+v.toFixed(0)} MiB`;
    case '/s':
      return `${+v.toFixed(1)}/s`;
    default:
      return String(+v.toFixed(2));
  }
}

export function fmtChange(c: number | null): string {
  if (c === null) return '';
  if (!Number.isFinite(c)) return c > 0 ? '+inf' : '-inf';
  return `${c >= 0 ? '+' : ''}${(c * 100).toFixed(1)}%`;
}

export function fmtP(p: number): string {
  return p < 0.0001 ? '<0.0001' : p.toFixed(4);
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}
