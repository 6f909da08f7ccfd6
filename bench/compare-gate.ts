// Checks `xdsim report compare` as a CI gate: per try, three `xdsim run --repeat N` of a small
// scenario (unchanged A, slowed S with XDSIM_INJECT_PUSH_DELAY, unchanged B, in that order so the
// unchanged pair brackets the slowed run), then compare(A, B) must pass and compare(A, S) must
// fail. Prints per try what was flagged and the counts; writes bench/results/compare-gate.json.
//
//   npx tsx bench/compare-gate.ts [--tries 10] [--repeat 5] [--delay 30%] [--scenario scenarios/ci-small.yaml] [--keep dir]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compareReports, DEFAULT_COMPARE } from '../src/report/compare.js';
import type { RunReport } from '../src/report/types.js';

const { values: a } = parseArgs({
  options: {
    tries: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '5' },
    delay: { type: 'string', default: '30%' },
    scenario: { type: 'string', default: 'scenarios/ci-small.yaml' },
    'max-regression': { type: 'string', default: '10%' },
    keep: { type: 'string' },
  },
});
const tries = Number(a.tries);
const dir = a.keep ?? mkdtempSync(join(tmpdir(), 'xdsim-compare-gate-'));
const opts = { ...DEFAULT_COMPARE, maxRegression: parseFloat(a['max-regression']!) / 100 };

function run(label: string, env: Record<string, string>): RunReport {
  const out = join(dir, label);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['bin/xdsim.js', 'run', a.scenario!, '--repeat', a.repeat!, '--out', out, '--no-progress', '--json'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 15 * 60_000,
  });
  // Exit 1 is a failed expectation: still a report to compare (compare judges expectations too).
  if (r.status !== 0 && r.status !== 1) throw new Error(`${label}: xdsim run exited ${r.status}: ${r.stderr.toString().slice(-500)}`);
  process.stderr.write(`  ${label}: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  return JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunReport;
}

const rows: { try: number; unchanged: string[]; slowed: string[] }[] = [];
const started = Date.now();
for (let i = 1; i <= tries; i++) {
  process.stderr.write(`try ${i}/${tries}\n`);
  const A = run(`try${i}-A`, {});
  const S = run(`try${i}-S`, { XDSIM_INJECT_PUSH_DELAY: a.delay! });
  const B = run(`try${i}-B`, {});
  const same = compareReports(A, B, opts);
  const slow = compareReports(A, S, opts);
  rows.push({ try: i, unchanged: same.regressions, slowed: slow.regressions });
  console.log(`try ${i}: unchanged ${same.pass ? 'pass' : `FLAGGED (${same.regressions.join('; ')})`}; slowed ${slow.pass ? 'NOT FLAGGED' : `flagged (${slow.regressions.length}: ${slow.regressions.map((r) => r.split(' worse')[0]).join(', ')})`}`);
}
const summary = {
  scenario: a.scenario,
  repeat: Number(a.repeat),
  delay: a.delay,
  settings: opts,
  tries: rows.length,
  unchangedFlagged: rows.filter((r) => r.unchanged.length > 0).length,
  slowedFlagged: rows.filter((r) => r.slowed.length > 0).length,
  minutes: +((Date.now() - started) / 60_000).toFixed(1),
  rows,
};
console.log(`unchanged vs unchanged flagged: ${summary.unchangedFlagged}/${summary.tries}; unchanged vs ${a.delay} push delay flagged: ${summary.slowedFlagged}/${summary.tries} (${summary.minutes} min)`);
writeFileSync('bench/results/compare-gate.json', `${JSON.stringify(summary, null, 2)}\n`);
if (!a.keep) rmSync(dir, { recursive: true, force: true });
