// The expectations engine: an expectation plus what was observed -> pass/fail and one readable
// line saying what was expected and what was seen. Pure functions over plain data, so they are
// tested on synthetic observations and reused by the runner unchanged. Nothing here reads a
// control plane's internals: what a proxy receives comes from the observers (observer.ts).
import type { Shares } from '../lb/index.js';
import { localityMatches, parseLocality } from '../model/locality.js';
import type { LatencySummary } from '../report/histogram.js';
import type { ExpectationResult } from '../report/types.js';
import type { Expectation, ExpectationSpec, LbSharesSpec } from './model.js';
import { formatPercent } from './units.js';

/** What the run looked like at one moment. */
export interface PointObservation {
  atMs: number;
  connected: number;
  registered: number;
  /** Endpoints in the cluster (all localities), undefined for an unknown cluster. */
  endpointCount(cluster: string): number | undefined;
  /** The client model's shares for the spec's proxy, or why they cannot be computed. */
  lbShares(spec: LbSharesSpec): Shares | { error: string };
}

/** What the whole run added up to. */
export interface RunTotals {
  convergence: LatencySummary;
  /** Convergence of the pushes whose first change came in [fromMs, untilMs) (ms from t=0). */
  convergenceBetween?: (fromMs: number, untilMs: number) => LatencySummary;
  /** Whether the control plane's own pushes were seen (only the embedded one shows them). */
  serverPushesSeen?: boolean;
  /** Client-side convergence of the changes made in [fromMs, untilMs), when the fleet measured it. */
  clientConvergenceBetween?: (fromMs: number, untilMs: number) => LatencySummary;
  nacks: number;
  errors: number;
  errorsByKind: Record<string, number>;
  leakedEntries: number | null;
}

export function isPointExpectation(s: ExpectationSpec): boolean {
  return s.kind === 'lbShares' || s.kind === 'registered' || s.kind === 'connected' || s.kind === 'endpoints';
}

function result(x: Expectation, pass: boolean, detail: string, atMs?: number): ExpectationResult {
  const r: ExpectationResult = { name: x.name, kind: x.spec.kind, pass, detail, line: x.line };
  if (atMs !== undefined) r.atMs = Math.round(atMs);
  return r;
}

function checkBounds(what: string, v: number, min?: number, max?: number): { pass: boolean; detail: string } {
  if (min !== undefined && v < min) return { pass: false, detail: `${what}: expected at least ${min}, got ${v}` };
  if (max !== undefined && v > max) return { pass: false, detail: `${what}: expected at most ${max}, got ${v}` };
  const want = min !== undefined && max !== undefined ? (min === max ? `= ${min}` : `in ${min}..${max}`) : min !== undefined ? `>= ${min}` : `<= ${max}`;
  return { pass: true, detail: `${what}: ${v} (${want})` };
}

export function evaluatePoint(x: Expectation, obs: PointObservation): ExpectationResult {
  const s = x.spec;
  switch (s.kind) {
    case 'registered':
    case 'connected': {
      const v = s.kind === 'registered' ? obs.registered : obs.connected;
      const c = checkBounds(s.kind === 'registered' ? 'registered entries' : 'connected agents', v, s.min, s.max);
      return result(x, c.pass, c.detail, obs.atMs);
    }
    case 'endpoints': {
      const n = obs.endpointCount(s.cluster);
      if (n === undefined) return result(x, false, `cluster ${s.cluster} does not exist`, obs.atMs);
      const c = checkBounds(`endpoints of ${s.cluster}`, n, s.min, s.max);
      return result(x, c.pass, c.detail, obs.atMs);
    }
    case 'lbShares': {
      const shares = obs.lbShares(s);
      if ('error' in shares) return result(x, false, shares.error, obs.atMs);
      const c = compareShares(s, shares);
      return result(x, c.pass, c.detail, obs.atMs);
    }
    default:
      throw new Error(`${s.kind} is checked over the whole run`);
  }
}

export function evaluateTotals(x: Expectation, t: RunTotals): ExpectationResult {
  const s = x.spec;
  switch (s.kind) {
    case 'convergence': {
      const windowed = s.fromMs !== undefined || s.untilMs !== undefined;
      const side = s.side ?? (t.serverPushesSeen === false ? 'client' : 'server');
      if (side === 'server' && t.serverPushesSeen === false) return result(x, false, 'server-side convergence is not shown by this control plane: use side: client');
      if (side === 'client' && !t.clientConvergenceBetween) return result(x, false, 'client-side convergence was not measured in this run');
      const c = side === 'client' ? t.clientConvergenceBetween!(s.fromMs ?? 0, s.untilMs ?? Infinity) : windowed && t.convergenceBetween ? t.convergenceBetween(s.fromMs ?? 0, s.untilMs ?? Infinity) : t.convergence;
      const what = side === 'client' ? 'change reached its subscribers' : 'push converged';
      if (c.count === 0) return result(x, false, `no ${what} ${windowed ? 'in that window' : 'during the run'}, so there is nothing to measure`);
      const over: string[] = [];
      const seen: string[] = [];
      for (const [k, bound] of Object.entries(s.bounds) as [keyof typeof s.bounds, number][]) {
        const v = +c[k].toFixed(1);
        seen.push(`${k.replace('Ms', '')} ${v}ms`);
        if (v > bound) over.push(`${k.replace('Ms', '')} ${v}ms > ${bound}ms`);
      }
      const n = side === 'client' ? `over ${c.count} change(s), seen by the agents` : `over ${c.count} push(es)`;
      return over.length ? result(x, false, `${side === 'client' ? 'client-side' : 'push'} convergence too slow: ${over.join(', ')} (${n})`) : result(x, true, `${seen.join(', ')} (${n})`);
    }
    case 'nacks':
      return result(x, t.nacks <= s.max, t.nacks <= s.max ? `${t.nacks} NACK(s)` : `expected at most ${s.max} NACK(s), got ${t.nacks}`);
    case 'errors': {
      const kinds = Object.entries(t.errorsByKind).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
      const pass = t.errors <= s.max;
      return result(x, pass, pass ? `${t.errors} error(s)` : `expected at most ${s.max} error(s), got ${t.errors}${kinds ? ` (${kinds})` : ''}`);
    }
    case 'leakedEntries': {
      if (t.leakedEntries === null) return result(x, false, 'not checked: the run ended before the grace period passed');
      const pass = t.leakedEntries <= s.max;
      return result(x, pass, pass ? `${t.leakedEntries} auto-registered entr(ies) left after the grace period` : `expected at most ${s.max} auto-registered entr(ies) left after the grace period, got ${t.leakedEntries}`);
    }
    default:
      throw new Error(`${s.kind} is checked at a point in time`);
  }
}

// ---- LB shares -------------------------------------------------------------------------------

/** Sum of the shares of localities matching an Istio-style pattern (missing parts and `*` match all). */
export function shareOf(shares: Shares, pattern: string): number {
  let sum = 0;
  for (const l of shares.localities) if (localityMatches(parseLocality(l.locality), pattern)) sum += l.share;
  return sum;
}

function distribution(shares: Shares): string {
  const parts = shares.localities
    .filter((l) => l.share > 0.0005)
    .sort((a, b) => b.share - a.share)
    .map((l) => `${l.locality.replace(/\/+$/, '')} P${l.priority} ${formatPercent(l.share)}`);
  if (parts.length === 0) return 'no traffic anywhere';
  return parts.length > 6 ? `${parts.slice(0, 6).join(', ')}, ... (${parts.length - 6} more)` : parts.join(', ');
}

export function compareShares(spec: LbSharesSpec, shares: Shares): { pass: boolean; detail: string } {
  const misses: string[] = [];
  const hits: string[] = [];
  const tol = spec.tolerance + 1e-9;
  for (const [pattern, want] of spec.localities) {
    const got = shareOf(shares, pattern);
    (Math.abs(got - want) <= tol ? hits : misses).push(`${pattern} ${formatPercent(got)} (expected ${formatPercent(want)})`);
  }
  for (const [p, want] of spec.priorities) {
    const got = shares.priorities.find((x) => x.priority === p)?.share ?? 0;
    (Math.abs(got - want) <= tol ? hits : misses).push(`priority ${p} ${formatPercent(got)} (expected ${formatPercent(want)})`);
  }
  if (misses.length === 0) return { pass: true, detail: hits.join(', ') };
  const notes = shares.notes.length ? `; note: ${shares.notes.join('; ')}` : '';
  return {
    pass: false,
    detail: `${misses.join(', ')} beyond ±${formatPercent(spec.tolerance)}; traffic went to: ${distribution(shares)}${notes}`,
  };
}
