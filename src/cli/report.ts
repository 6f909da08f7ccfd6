// `xdsim report merge` (shard reports or fleet summaries -> one, histograms merged exactly) and
// `xdsim report html` (re-render report.html from a report.json), and `xdsim report compare`
// (two reports' figures side by side, gated on regressions beyond noise).
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { isFleetSummary, mergeSummaries, type FleetSummary } from '../fleet/summary.js';
import { compareReports, DEFAULT_COMPARE } from '../report/compare.js';
import { formatComparison } from '../report/compare-table.js';
import { renderHtml } from '../report/html.js';
import { MergeError, mergeRunReports } from '../report/merge.js';
import { isRunReport, type RunReport } from '../report/types.js';
import { CliError, EXIT_FAILED } from './errors.js';

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file}: not JSON: ${(err as Error).message}`);
  }
}

/** Merges run reports or fleet summaries (all of one kind). */
export function mergeDocuments(docs: readonly unknown[], files: readonly string[]): RunReport | FleetSummary {
  const kinds = docs.map((d, i) => {
    if (isRunReport(d)) return 'run';
    if (isFleetSummary(d)) return 'fleet';
    throw new CliError(`${files[i]}: neither an xdsim run report (report.json) nor a fleet summary (xdsim agents --json)`);
  });
  if (new Set(kinds).size > 1) throw new CliError('cannot merge run reports with fleet summaries: give one kind');
  try {
    if (kinds[0] === 'run') return mergeRunReports(docs as RunReport[], files);
    return mergeSummaries(docs as FleetSummary[]);
  } catch (err) {
    if (err instanceof MergeError || err instanceof Error) throw new CliError(err.message);
    throw err;
  }
}

export function registerReportCommand(program: Command): Command {
  const report = program.command('report').description('work with run reports and fleet summaries');
  report
    .command('merge')
    .description('merge shard reports (report.json) or fleet summaries (xdsim agents --json): counts add, histograms merge')
    .argument('<files...>', 'JSON files to merge')
    .option('-o, --output <file>', 'write the merged JSON here instead of stdout')
    .action(async (files: string[], flags: { output?: string }) => {
      const docs = await Promise.all(files.map(readJson));
      const merged = mergeDocuments(docs, files);
      const text = `${JSON.stringify(merged, null, 2)}\n`;
      if (flags.output) {
        await writeFile(flags.output, text);
        process.stderr.write(`merged ${files.length} file(s) into ${flags.output}\n`);
      } else process.stdout.write(text);
    });
  report
    .command('html')
    .description('render report.html from a run report')
    .argument('<report.json>')
    .option('-o, --output <file>', 'output file (default: stdout)')
    .action(async (file: string, flags: { output?: string }) => {
      const doc = await readJson(file);
      if (!isRunReport(doc)) throw new CliError(`${file}: not an xdsim run report`);
      const html = renderHtml(doc);
      if (flags.output) await writeFile(flags.output, html);
      else process.stdout.write(html);
    });
  report
    .command('compare')
    .description('compare two run reports figure by figure; exit 1 when one regressed beyond the threshold and beyond noise')
    .argument('<baseline.json>')
    .argument('<current.json>')
    .option('--max-regression <pct>', 'allowed worsening per figure, e.g. 10%', '10%')
    .option('--alpha <p>', 'significance of the one-sided rank test over per-run values (xdsim run --repeat)', String(DEFAULT_COMPARE.alpha))
    .option('--json', 'print the comparison as JSON')
    .addHelpText('after', '\nRecord both sides with `xdsim run <scenario> --repeat 5 --out dir`: with one run per side noise cannot be judged. See docs/ci.md.')
    .action(async (baseFile: string, curFile: string, flags: { maxRegression: string; alpha: string; json?: boolean }) => {
      const m = /^(\d+(?:\.\d+)?)%?$/.exec(flags.maxRegression.trim());
      if (!m) throw new CliError(`--max-regression: expected a percentage like 10%, got "${flags.maxRegression}"`);
      const alpha = Number(flags.alpha);
      if (!(alpha > 0 && alpha < 1)) throw new CliError(`--alpha: expected a number between 0 and 1, got "${flags.alpha}"`);
      const [base, cur] = await Promise.all([readJson(baseFile), readJson(curFile)]);
      for (const [f, d] of [[baseFile, base], [curFile, cur]] as const) if (!isRunReport(d)) throw new CliError(`${f}: not an xdsim run report`);
      const c = compareReports(base as RunReport, cur as RunReport, { maxRegression: Number(m[1]) / 100, alpha });
      process.stdout.write(flags.json ? `${JSON.stringify(c, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n` : `${formatComparison(c)}\n`);
      if (!c.pass) throw new CliError(`${c.regressions.length} regression(s)`, EXIT_FAILED);
    });
  for (const c of report.commands) c.exitOverride();
  return report;
}
