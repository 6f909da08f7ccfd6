// The final table `xdsim run` prints, and the one-line reasons for failed expectations.
import Table from 'cli-table3';
import type { RunReport } from './types.js';

const MB = 1024 * 1024;
const fmtMs = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(v < 10 ? 2 : 0)}ms`);

/** No colours: the table goes to CI logs as often as to a terminal. */
const plain = () => ({ style: { head: [] as string[], border: [] as string[], compact: true } });

export function formatSummary(r: RunReport): string {
  const t = new Table({ ...plain(), head: ['metric', 'value'], colAligns: ['left', 'right'] });
  const c = r.convergence;
  t.push(
    ['agents registered (end / total)', `${r.agents.registered} / ${r.agents.total}`],
    ['peak connected', String(r.agents.connectedPeak)],
    ['pushes', String(r.pushes)],
    ['push convergence p50 / p90 / p99', c.count ? `${fmtMs(c.p50Ms)} / ${fmtMs(c.p90Ms)} / ${fmtMs(c.p99Ms)}` : 'n/a'],
    ['push convergence max', c.count ? fmtMs(c.maxMs) : 'n/a'],
  );
  const cc = r.clientConvergence;
  if (cc?.all.count) {
    t.push(['change -> every agent p50 / p90 / p99', `${fmtMs(cc.all.p50Ms)} / ${fmtMs(cc.all.p90Ms)} / ${fmtMs(cc.all.p99Ms)}`]);
    for (const [k, v] of Object.entries(cc.byKind)) if (v?.count) t.push([`  ${k} (${v.count}) p50 / max`, `${fmtMs(v.p50Ms)} / ${fmtMs(v.maxMs)}`]);
  }
  if (r.agents.connect?.count) t.push(['agent connect p50 / p99', `${fmtMs(r.agents.connect.p50Ms)} / ${fmtMs(r.agents.connect.p99Ms)}`]);
  if (r.agents.healthReports) t.push(['health reports healthy / unhealthy', `${r.agents.healthReports.healthy} / ${r.agents.healthReports.unhealthy}`]);
  if (r.agents.edsVisible?.count) t.push(['entry visible in EDS p50 / p99', `${fmtMs(r.agents.edsVisible.p50Ms)} / ${fmtMs(r.agents.edsVisible.p99Ms)}`]);
  const tm = r.targetMetrics;
  if (tm) {
    const c = tm.convergence;
    t.push(['target: pilot_proxy_convergence_time p50 / p99', c?.count ? `${c.p50Ms === null ? 'n/a' : fmtMs(c.p50Ms)} / ${c.p99Ms === null ? 'n/a' : fmtMs(c.p99Ms)} (${c.count})` : 'n/a']);
    if (tm.pushesByType) t.push(['target: pilot_xds_pushes', Object.entries(tm.pushesByType).map(([k, v]) => `${k} ${v}`).join(', ') || '0']);
    if (tm.cpu) t.push(['target: CPU avg / peak', `${tm.cpu.avgPercent.toFixed(0)}% / ${tm.cpu.peakPercent === null ? 'n/a' : `${tm.cpu.peakPercent.toFixed(0)}%`}`]);
    if (tm.rssBytes) t.push(['target: peak RSS', `${(tm.rssBytes.peak / MB).toFixed(0)} MiB`]);
  }
  for (const l of r.network?.links ?? []) {
    const cut = l.partitions ? `, ${l.partitions} partition(s), ${l.resetAtHeal} reset at heal` : '';
    t.push([`link ${l.name} (${l.shape})`, `${l.connections} conn${cut}`]);
  }
  t.push(
    ['NACKs', String(r.nacks)],
    ['errors', String(r.errors)],
    ['leaked entries', r.leakedEntries === null ? 'n/a' : String(r.leakedEntries)],
    ['server CPU avg / peak', `${r.server.cpu.avgPercent.toFixed(0)}% / ${r.server.cpu.peakPercent.toFixed(0)}%`],
    ['peak RSS (process)', `${(r.server.rssBytes / MB).toFixed(0)} MiB`],
    ['wall time', `${(r.wallMs / 1000).toFixed(1)}s`],
  );
  const e = new Table({ ...plain(), head: ['', 'expectation', 'detail'], colWidths: [6, 44, 70], wordWrap: true });
  for (const x of r.expectations) e.push([x.skipped ? 'SKIP' : x.pass ? 'PASS' : 'FAIL', x.name, x.detail]);
  const skipped = r.expectations.filter((x) => x.skipped).length;
  const passed = r.expectations.filter((x) => x.pass && !x.skipped).length;
  const against = r.target?.kind === 'remote' ? ` against ${r.target.name}` : '';
  const lines = [`scenario ${r.scenario.name}${against}: ${r.pass ? 'PASS' : 'FAIL'}`, t.toString()];
  if (r.expectations.length) lines.push(`expectations: ${passed}/${r.expectations.length - skipped} passed${skipped ? `, ${skipped} skipped` : ''}`, e.toString());
  return lines.join('\n');
}

/** One line per failed expectation, for stderr: `scenario.yaml:42: expectation "x" failed: detail`. */
export function failureLines(r: RunReport): string[] {
  return r.expectations
    .filter((x) => !x.pass)
    .map((x) => `${r.scenario.file}${x.line ? `:${x.line}` : ''}: expectation "${x.name}" failed${x.atMs !== undefined ? ` at ${(x.atMs / 1000).toFixed(1)}s` : ''}: ${x.detail}`);
}
