// From raw samples to verdicts. Timed metrics: per process, the median log-ratio of a workload to
// its reference over the process's quiet rounds; then the run's per-process values against the
// baseline's with a one-sided Mann-Whitney test and the Hodges-Lehmann shift. A metric regresses
// only when the shift is both larger than the tolerance and significant. Counts: exact equality.
import { median, mannWhitney, shiftWithInterval } from './stats.js';

/** One measuring process's per-round samples (ns per call), by workload. */
export type ProcessSamples = Record<string, { cpuNs: number[] }>;

export interface TimedSpec {
  readonly name: string;
  readonly target: string;
  readonly reference: string;
  readonly gated: boolean;
}

export interface GateSettings {
  /** Workload whose time tells how busy the CPU was in a round. */
  readonly probe: string;
  /** A round is quiet when the probe took at most this times its fastest round in the run. */
  readonly quietFactor: number;
  /** Quiet rounds a process needs to count. */
  readonly minQuietRounds: number;
  /** Processes with enough quiet rounds needed before contended rounds are left out. */
  readonly minQuietProcesses: number;
  /** Relative shift of a ratio that counts as a regression (0.08 = 8%). */
  readonly tolerance: number;
  /** Significance level of the one-sided test. */
  readonly alpha: number;
}

export const DEFAULT_SETTINGS: GateSettings = {
  probe: 'js_reference',
  quietFactor: 1.25,
  minQuietRounds: 4,
  minQuietProcesses: 4,
  tolerance: 0.08,
  alpha: 0.01,
};

export interface TimedSummary {
  /** Per counted process: the median ratio over its rounds used. */
  readonly perProcess: number[];
  /** Median of perProcess. */
  readonly ratio: number;
}

export interface RunSummary {
  readonly timed: Record<string, TimedSummary>;
  /** Rounds used / rounds sampled, processes counted / processes run. */
  readonly rounds: { used: number; total: number; processes: number; processesRun: number };
  /** True when too few quiet rounds: every round was used, contended or not. */
  readonly contended: boolean;
}

function quietMasks(processes: readonly ProcessSamples[], s: GateSettings): boolean[][] {
  let fastest = Infinity;
  for (const p of processes) for (const v of p[s.probe]?.cpuNs ?? []) fastest = Math.min(fastest, v);
  return processes.map((p) => (p[s.probe]?.cpuNs ?? []).map((v) => v <= fastest * s.quietFactor));
}

/** Count of processes that have enough quiet rounds to be counted. */
export function quietProcesses(processes: readonly ProcessSamples[], s: GateSettings = DEFAULT_SETTINGS): number {
  return quietMasks(processes, s).filter((m) => m.filter(Boolean).length >= s.minQuietRounds).length;
}

export function summarize(processes: readonly ProcessSamples[], specs: readonly TimedSpec[], s: GateSettings = DEFAULT_SETTINGS): RunSummary {
  const masks = quietMasks(processes, s);
  const counted = masks.filter((m) => m.filter(Boolean).length >= s.minQuietRounds).length;
  const contended = counted < s.minQuietProcesses;
  // Contended fallback: every round of every process (biased slow, but never silent).
  const use = masks.map((m) => (contended ? m.map(() => true) : m.filter(Boolean).length >= s.minQuietRounds ? m : m.map(() => false)));
  const timed: Record<string, TimedSummary> = {};
  for (const spec of specs) {
    const perProcess: number[] = [];
    processes.forEach((p, i) => {
      const t = p[spec.target]?.cpuNs;
      const r = p[spec.reference]?.cpuNs;
      if (!t || !r) return;
      const logs: number[] = [];
      use[i]!.forEach((ok, k) => {
        if (ok && t[k]! > 0 && r[k]! > 0) logs.push(Math.log(t[k]! / r[k]!));
      });
      if (logs.length > 0) perProcess.push(Math.exp(median(logs)));
    });
    timed[spec.name] = { perProcess, ratio: median(perProcess) };
  }
  const used = use.reduce((n, m) => n + m.filter(Boolean).length, 0);
  const total = masks.reduce((n, m) => n + m.length, 0);
  return {
    timed,
    rounds: { used, total, processes: use.filter((m) => m.some(Boolean)).length, processesRun: processes.length },
    contended,
  };
}

export type Verdict = 'ok' | 'regression' | 'faster' | 'missing' | 'info';

export interface TimedComparison {
  readonly name: string;
  readonly gated: boolean;
  readonly baseline: number;
  readonly current: number;
  /** Hodges-Lehmann shift of current over baseline, as a relative change (0.1 = +10%). */
  readonly shift: number;
  /** 95% interval of the shift. */
  readonly low: number;
  readonly high: number;
  /** One-sided p: current slower than baseline. */
  readonly pSlower: number;
  /** One-sided p: current faster than baseline. */
  readonly pFaster: number;
  readonly verdict: Verdict;
}

export interface CountComparison {
  readonly name: string;
  readonly baseline: number | undefined;
  readonly current: number | undefined;
  readonly verdict: 'ok' | 'mismatch' | 'new' | 'missing';
}

/** One timed metric: per-process ratios of this run against the baseline's. */
export function compareTimed(
  name: string,
  gated: boolean,
  baseline: readonly number[],
  current: readonly number[],
  s: Pick<GateSettings, 'tolerance' | 'alpha'> = DEFAULT_SETTINGS,
): TimedComparison {
  if (baseline.length === 0 || current.length === 0) {
    return { name, gated, baseline: median(baseline), current: median(current), shift: NaN, low: NaN, high: NaN, pSlower: 1, pFaster: 1, verdict: 'missing' };
  }
  // Logs: a ratio that doubles and one that halves are the same size of change.
  const b = baseline.map(Math.log);
  const c = current.map(Math.log);
  const est = shiftWithInterval(c, b, 0.95);
  const mw = mannWhitney(c, b);
  const shift = Math.expm1(est.shift);
  let verdict: Verdict = gated ? 'ok' : 'info';
  if (gated && shift > s.tolerance && mw.pGreater < s.alpha) verdict = 'regression';
  else if (gated && shift < -s.tolerance && mw.pLess < s.alpha) verdict = 'faster';
  return {
    name,
    gated,
    baseline: median(baseline),
    current: median(current),
    shift,
    low: Math.expm1(est.low),
    high: Math.expm1(est.high),
    pSlower: mw.pGreater,
    pFaster: mw.pLess,
    verdict,
  };
}

export function compareCounts(baseline: Readonly<Record<string, number>>, current: Readonly<Record<string, number>>): CountComparison[] {
  const names = [...new Set([...Object.keys(baseline), ...Object.keys(current)])];
  return names.map((name) => {
    const b = baseline[name];
    const c = current[name];
    const verdict = b === undefined ? 'new' : c === undefined ? 'missing' : b === c ? 'ok' : 'mismatch';
    return { name, baseline: b, current: c, verdict };
  });
}

/** Whether the gate fails: a gated timed regression, or any count that differs or went missing. */
export function gateFails(timed: readonly TimedComparison[], counts: readonly CountComparison[]): boolean {
  return timed.some((t) => t.verdict === 'regression' || (t.gated && t.verdict === 'missing')) || counts.some((c) => c.verdict === 'mismatch' || c.verdict === 'missing');
}
