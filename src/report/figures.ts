// The figures of one run that `xdsim report compare` sets side by side, with the direction in
// which each gets worse. `xdsim run --repeat N` keeps them per run (report.runs), so a comparison
// can tell a change from run-to-run noise.
import type { RunFigures, RunReport } from './types.js';

export interface FigureSpec {
  name: string;
  /** Which way is worse. */
  worse: 'higher' | 'lower';
  unit: 'ms' | 's' | '%' | 'MiB' | 'count' | '/s';
  /** Gated: can fail a comparison. Others are shown for context. */
  gated: boolean;
  /** Changes smaller than this (in the figure's unit) are never a regression, whatever the ratio. */
  floor: number;
}

const MB = 1024 * 1024;

export const FIGURES: readonly FigureSpec[] = [
  { name: 'convergence p50', worse: 'higher', unit: 'ms', gated: true, floor: 5 },
  { name: 'convergence p90', worse: 'higher', unit: 'ms', gated: true, floor: 5 },
  { name: 'convergence p99', worse: 'higher', unit: 'ms', gated: true, floor: 5 },
  { name: 'convergence max', worse: 'higher', unit: 'ms', gated: false, floor: 5 },
  // Over all changes, client-side percentiles mix registrations (seconds while the debouncer
  // merges a ramp) with single config and health changes (~100 ms), in proportions that move
  // from run to run: shown, and gated per kind instead.
  { name: 'client convergence p50', worse: 'higher', unit: 'ms', gated: false, floor: 5 },
  { name: 'client convergence p90', worse: 'higher', unit: 'ms', gated: false, floor: 5 },
  { name: 'client convergence p99', worse: 'higher', unit: 'ms', gated: false, floor: 5 },
  { name: 'client convergence max', worse: 'higher', unit: 'ms', gated: false, floor: 5 },
  ...(['config', 'health', 'registration'] as const).flatMap((k) =>
    (['p50', 'p90', 'p99'] as const).map((p) => ({ name: `client convergence ${k} ${p}`, worse: 'higher' as const, unit: 'ms' as const, gated: true, floor: 5 })),
  ),
  // A remote control plane's own metrics (--metrics-url): istiod's bucket-estimated percentiles.
  { name: 'target convergence p50', worse: 'higher', unit: 'ms', gated: true, floor: 5 },
  { name: 'target convergence p90', worse: 'higher', unit: 'ms', gated: true, floor: 5 },
  { name: 'target convergence p99', worse: 'higher', unit: 'ms', gated: true, floor: 5 },
  { name: 'target CPU seconds', worse: 'higher', unit: 's', gated: true, floor: 0.05 },
  { name: 'target CPU avg', worse: 'higher', unit: '%', gated: true, floor: 1 },
  { name: 'target peak RSS', worse: 'higher', unit: 'MiB', gated: true, floor: 5 },
  { name: 'server CPU seconds', worse: 'higher', unit: 's', gated: true, floor: 0.05 },
  { name: 'server CPU avg', worse: 'higher', unit: '%', gated: true, floor: 1 },
  { name: 'server CPU peak', worse: 'higher', unit: '%', gated: false, floor: 5 },
  { name: 'peak RSS', worse: 'higher', unit: 'MiB', gated: true, floor: 5 },
  { name: 'registration rate', worse: 'lower', unit: '/s', gated: true, floor: 1 },
  { name: 'registration visible in EDS p50', worse: 'higher', unit: 'ms', gated: true, floor: 5 },
  { name: 'registration visible in EDS p99', worse: 'higher', unit: 'ms', gated: false, floor: 5 },
  { name: 'agent connect p99', worse: 'higher', unit: 'ms', gated: false, floor: 5 },
  { name: 'pushes', worse: 'higher', unit: 'count', gated: false, floor: 1 },
  { name: 'errors', worse: 'higher', unit: 'count', gated: true, floor: 0.5 },
  { name: 'NACKs', worse: 'higher', unit: 'count', gated: true, floor: 0.5 },
  { name: 'leaked entries', worse: 'higher', unit: 'count', gated: true, floor: 0.5 },
  { name: 'expectations passed', worse: 'lower', unit: 'count', gated: false, floor: 0.5 },
];

/**
 * Registered entries per second from t=0 until the registered count first reached its peak:
 * how fast the control plane took the fleet in. Null when nothing registered.
 */
export function registrationRate(r: Pick<RunReport, 'series'>): number | null {
  const reg = r.series.registered;
  const peak = Math.max(0, ...reg);
  if (peak === 0) return null;
  const i = reg.findIndex((v) => v >= peak);
  const t = r.series.t[i] ?? 0;
  // Everything there at the first sample: the rate is at least the peak per sample interval.
  return +(peak / (Math.max(t, r.series.intervalMs || 1000) / 1000)).toFixed(2);
}

export function runFigures(r: RunReport): RunFigures {
  const lat = (l: { count: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number } | undefined, k: 'p50Ms' | 'p90Ms' | 'p99Ms' | 'maxMs') => (l && l.count > 0 ? l[k] : null);
  const c = r.convergence;
  const cc = r.clientConvergence?.all;
  const tm = r.targetMetrics;
  const remote = r.target?.kind === 'remote';
  const figures: Record<string, number | null> = {
    'convergence p50': lat(c, 'p50Ms'),
    'convergence p90': lat(c, 'p90Ms'),
    'convergence p99': lat(c, 'p99Ms'),
    'convergence max': lat(c, 'maxMs'),
    'client convergence p50': lat(cc, 'p50Ms'),
    'client convergence p90': lat(cc, 'p90Ms'),
    'client convergence p99': lat(cc, 'p99Ms'),
    'client convergence max': lat(cc, 'maxMs'),
    ...Object.fromEntries(
      (['config', 'health', 'registration'] as const).flatMap((k) => (['p50', 'p90', 'p99'] as const).map((p) => [`client convergence ${k} ${p}`, lat(r.clientConvergence?.byKind[k], `${p}Ms`)])),
    ),
    'target convergence p50': tm?.convergence?.p50Ms ?? null,
    'target convergence p90': tm?.convergence?.p90Ms ?? null,
    'target convergence p99': tm?.convergence?.p99Ms ?? null,
    'target CPU seconds': tm?.cpu?.seconds ?? null,
    'target CPU avg': tm?.cpu?.avgPercent ?? null,
    'target peak RSS': tm?.rssBytes ? +(tm.rssBytes.peak / MB).toFixed(1) : null,
    // Against a remote control plane, server.* is xdsim's own process: not the figure to gate.
    'server CPU seconds': remote ? null : r.server.cpu.seconds,
    'server CPU avg': remote ? null : r.server.cpu.avgPercent,
    'server CPU peak': remote ? null : r.server.cpu.peakPercent,
    'peak RSS': remote ? null : +(r.server.rssBytes / MB).toFixed(1),
    'registration rate': registrationRate(r),
    'registration visible in EDS p50': lat(r.agents.edsVisible, 'p50Ms'),
    'registration visible in EDS p99': lat(r.agents.edsVisible, 'p99Ms'),
    'agent connect p99': lat(r.agents.connect, 'p99Ms'),
    pushes: r.pushes,
    errors: r.errors,
    NACKs: r.nacks,
    'leaked entries': r.leakedEntries,
    'expectations passed': r.expectations.filter((x) => x.pass).length,
  };
  const expectations: Record<string, boolean> = {};
  for (const x of r.expectations) expectations[x.name] = x.pass;
  return { figures, expectations };
}

/** Per-run figures of a report: its runs[] from --repeat, else the report itself as one run. */
export function reportRuns(r: RunReport): RunFigures[] {
  return r.runs?.length ? r.runs : [runFigures(r)];
}
