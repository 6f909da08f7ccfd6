// The gate's tables: one row per timed ratio and per count, with the verdict in words.
import Table from 'cli-table3';
import type { CountComparison, GateSettings, RunSummary, TimedComparison } from './compare.js';

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : '-');
const num = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : Number.isInteger(x) ? String(x) : x.toFixed(x < 10 ? 3 : 1));
const pval = (p: number) => (p < 0.0001 ? '<0.0001' : p.toFixed(4));

function style() {
  // No colours when the output goes to a file or a CI log.
  return process.stdout.isTTY ? {} : { head: [], border: [] };
}

const TIMED_WORDS: Record<TimedComparison['verdict'], string> = {
  ok: 'ok',
  info: 'info (not gated)',
  regression: 'REGRESSION',
  faster: 'faster: update baseline?',
  missing: 'MISSING',
};

const COUNT_WORDS: Record<CountComparison['verdict'], string> = {
  ok: 'ok',
  mismatch: 'MISMATCH',
  new: 'new: not in baseline',
  missing: 'MISSING',
};

export function timedTable(rows: readonly TimedComparison[]): string {
  const t = new Table({
    head: ['timed ratio (lower is faster)', 'baseline', 'now', 'change [95% CI]', 'p(slower)', 'verdict'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'left'],
    style: style(),
  });
  for (const r of rows) {
    t.push([r.name, num(r.baseline), num(r.current), `${pct(r.shift)} [${pct(r.low)}, ${pct(r.high)}]`, pval(r.pSlower), TIMED_WORDS[r.verdict]]);
  }
  return t.toString();
}

export function countTable(rows: readonly CountComparison[]): string {
  const t = new Table({ head: ['count (must match exactly)', 'baseline', 'now', 'verdict'], colAligns: ['left', 'right', 'right', 'left'], style: style() });
  for (const r of rows) t.push([r.name, num(r.baseline), num(r.current), COUNT_WORDS[r.verdict]]);
  return t.toString();
}

export function samplingLine(run: RunSummary, s: GateSettings): string {
  const r = run.rounds;
  const how = run.contended
    ? `CONTENDED: fewer than ${s.minQuietProcesses} processes had ${s.minQuietRounds} quiet rounds, so all ${r.total} rounds were used (ratios read high)`
    : `${r.used}/${r.total} rounds quiet (probe within ${s.quietFactor}x of its fastest), from ${r.processes}/${r.processesRun} processes`;
  return `sampling: ${how}; regression = change > ${pct(s.tolerance)} with p < ${s.alpha}`;
}
