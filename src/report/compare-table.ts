// The text form of `xdsim report compare`: one table of figures, one of expectations, the notes
// and a verdict line. No colours: it goes to CI logs.
import Table from 'cli-table3';
import { fmtChange, fmtP, fmtValue, type Comparison } from './compare.js';

const plain = () => ({ style: { head: [] as string[], border: [] as string[], compact: true } });

const VERDICT: Record<string, string> = {
  ok: 'ok',
  regression: 'REGRESSION',
  noise: 'within noise',
  improved: 'better',
  info: 'info (not gated)',
  missing: 'not in both',
};

export function formatComparison(c: Comparison): string {
  const t = new Table({ ...plain(), head: ['figure', 'baseline', 'current', 'change [95% CI]', 'p(worse)', 'verdict'], colAligns: ['left', 'right', 'right', 'right', 'right', 'left'] });
  for (const f of c.figures) {
    let change = fmtChange(f.change);
    if (f.shift && f.baseline && c.baseline.runs > 1 && c.current.runs > 1 && Number.isFinite(f.change ?? NaN)) {
      const rel = (v: number) => fmtChange(v / Math.abs(f.baseline!));
      change += ` [${rel(f.shift.low)}, ${rel(f.shift.high)}]`;
    }
    t.push([f.name, fmtValue(f.baseline, f.unit), fmtValue(f.current, f.unit), change, f.pWorse === undefined ? '' : fmtP(f.pWorse), VERDICT[f.verdict] ?? f.verdict]);
  }
  const e = new Table({ ...plain(), head: ['expectation', 'baseline passed', 'current passed', 'verdict'], colAligns: ['left', 'right', 'right', 'left'] });
  for (const x of c.expectations) e.push([x.name, `${x.baselinePassed}/${x.baselineRuns}`, `${x.currentPassed}/${x.currentRuns}`, x.verdict === 'regression' ? 'REGRESSION' : x.verdict]);
  const lines = [
    `baseline: ${c.baseline.scenario}, ${c.baseline.runs} run(s), ${c.baseline.startedAt}`,
    `current:  ${c.current.scenario}, ${c.current.runs} run(s), ${c.current.startedAt}`,
    t.toString(),
  ];
  if (c.expectations.length) lines.push(e.toString());
  lines.push(`rule: regression = worse by more than ${(c.settings.maxRegression * 100).toFixed(0)}% (and the figure's floor) with p(worse) < ${c.settings.alpha} (one-sided Mann-Whitney over per-run values), or an expectation that held in every baseline run failing in most current runs`);
  for (const n of c.notes) lines.push(`note: ${n}`);
  lines.push(c.pass ? 'compare: PASS' : `compare: FAIL: ${c.regressions.join('; ')}`);
  return lines.join('\n');
}
