// Merging run reports of shards (the same scenario run on several machines, or several runs):
// counts add, latency histograms merge bucket by bucket and percentiles are recomputed from the
// merged histogram, peaks take the maximum. Fleet summaries (`xdsim agents --json`) merge with
// the fleet's own mergeSummaries; `xdsim report merge` accepts either kind, not a mix.
import { decodeHistogram, encodeHistogram, mergeHistograms, summarize, type LatencySummary } from './histogram.js';
import { REPORT_KIND, REPORT_VERSION, type RunReport, type Series } from './types.js';

export class MergeError extends Error {}

function mergeLatency(parts: readonly ({ histogram?: string } | undefined)[]): (LatencySummary & { histogram: string }) | undefined {
  const encoded = parts.map((p) => p?.histogram).filter((h): h is string => !!h);
  if (encoded.length === 0) return undefined;
  const h = mergeHistograms(encoded.map(decodeHistogram));
  return { ...summarize(h), histogram: encodeHistogram(h) };
}

function sumRecords(records: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Series of shards, aligned by sample index: additive ones (agents, pushes/s) add up; CPU and
 * memory add too (each shard is its own process); per-interval percentiles cannot be merged
 * without their histograms, so the worst shard's value stands.
 */
function mergeSeries(all: readonly Series[]): Series {
  const n = Math.max(...all.map((s) => s.t.length));
  const longest = all.find((s) => s.t.length === n)!;
  const add = (pick: (s: Series) => number[]) => Array.from({ length: n }, (_, i) => +all.reduce((acc, s) => acc + (pick(s)[i] ?? 0), 0).toFixed(2));
  const worst = (pick: (s: Series) => (number | null)[]) =>
    Array.from({ length: n }, (_, i) => {
      const vs = all.map((s) => pick(s)[i]).filter((v): v is number => typeof v === 'number');
      return vs.length ? Math.max(...vs) : null;
    });
  return {
    intervalMs: longest.intervalMs,
    t: [...longest.t],
    connected: add((s) => s.connected),
    streams: add((s) => s.streams ?? []),
    registered: add((s) => s.registered),
    pushesPerSec: add((s) => s.pushesPerSec),
    convergenceP50Ms: worst((s) => s.convergenceP50Ms),
    convergenceP90Ms: worst((s) => s.convergenceP90Ms),
    convergenceP99Ms: worst((s) => s.convergenceP99Ms),
    cpuPercent: add((s) => s.cpuPercent),
    rssBytes: add((s) => s.rssBytes),
    heapUsedBytes: add((s) => s.heapUsedBytes),
  };
}

export function mergeRunReports(reports: readonly RunReport[], labels: readonly string[] = []): RunReport {
  if (reports.length === 0) throw new MergeError('nothing to merge');
  for (const [i, r] of reports.entries()) {
    if (r.kind !== REPORT_KIND) throw new MergeError(`${labels[i] ?? `input ${i + 1}`}: not an xdsim run report`);
    if (r.version !== REPORT_VERSION) throw new MergeError(`${labels[i] ?? `input ${i + 1}`}: unsupported report version ${String(r.version)}`);
  }
  const first = reports[0]!;
  const names = [...new Set(reports.map((r) => r.scenario.name))];
  const sum = (f: (r: RunReport) => number) => reports.reduce((a, r) => a + f(r), 0);
  const max = (f: (r: RunReport) => number) => Math.max(...reports.map(f));
  const conv = mergeLatency(reports.map((r) => r.convergence))!;
  const agents: RunReport['agents'] = {
    total: sum((r) => r.agents.total),
    registered: sum((r) => r.agents.registered),
    registeredPeak: sum((r) => r.agents.registeredPeak),
    connectedPeak: sum((r) => r.agents.connectedPeak),
  };
  if (reports.some((r) => r.agents.visibleInEds !== undefined)) agents.visibleInEds = sum((r) => r.agents.visibleInEds ?? 0);
  if (reports.some((r) => r.agents.healthReports)) {
    agents.healthReports = { healthy: sum((r) => r.agents.healthReports?.healthy ?? 0), unhealthy: sum((r) => r.agents.healthReports?.unhealthy ?? 0) };
  }
  const connect = mergeLatency(reports.map((r) => r.agents.connect));
  if (connect) agents.connect = connect;
  const edsVisible = mergeLatency(reports.map((r) => r.agents.edsVisible));
  if (edsVisible) agents.edsVisible = edsVisible;
  const leaks = reports.map((r) => r.leakedEntries);
  let clientConvergence: RunReport['clientConvergence'];
  const withClient = reports.filter((r) => r.clientConvergence);
  const clientAll = mergeLatency(withClient.map((r) => r.clientConvergence!.all));
  if (clientAll) {
    const byKind: NonNullable<RunReport['clientConvergence']>['byKind'] = {};
    for (const k of ['registration', 'health', 'config'] as const) {
      const m = mergeLatency(withClient.map((r) => r.clientConvergence!.byKind[k]));
      if (m) byKind[k] = m;
    }
    clientConvergence = {
      all: clientAll,
      byKind,
      changes: withClient.reduce((a, r) => a + r.clientConvergence!.changes, 0),
      incomplete: withClient.reduce((a, r) => a + r.clientConvergence!.incomplete, 0),
      subscribersPerSet: Math.max(...withClient.map((r) => r.clientConvergence!.subscribersPerSet)),
    };
  }
  const cpuSeconds = sum((r) => r.server.cpu.seconds);
  const label = (i: number) => labels[i] ?? `shard ${i + 1}`;
  return {
    kind: REPORT_KIND,
    version: REPORT_VERSION,
    scenario: { name: names.join(' + '), file: [...new Set(reports.map((r) => r.scenario.file))].join(', '), description: first.scenario.description },
    startedAt: reports.map((r) => r.startedAt).sort()[0]!,
    wallMs: max((r) => r.wallMs),
    durationMs: max((r) => r.durationMs),
    host: first.host,
    shards: sum((r) => r.shards),
    pass: reports.every((r) => r.pass),
    agents,
    convergence: conv,
    ...(clientConvergence ? { clientConvergence } : {}),
    pushes: sum((r) => r.pushes),
    pushesByType: sumRecords(reports.map((r) => r.pushesByType)),
    nacks: sum((r) => r.nacks),
    errors: sum((r) => r.errors),
    errorsByKind: sumRecords(reports.map((r) => r.errorsByKind)),
    leakedEntries: leaks.every((l) => l === null) ? null : leaks.reduce<number>((a, l) => a + (l ?? 0), 0),
    server: {
      cpu: {
        seconds: +cpuSeconds.toFixed(2),
        avgPercent: +sum((r) => r.server.cpu.avgPercent).toFixed(1),
        peakPercent: max((r) => r.server.cpu.peakPercent),
        scope: reports.every((r) => r.server.cpu.scope === 'main-thread') ? 'main-thread' : 'process',
      },
      rssBytes: max((r) => r.server.rssBytes),
      rssBytesEnd: max((r) => r.server.rssBytesEnd),
      heapUsedBytes: max((r) => r.server.heapUsedBytes),
    },
    timeline: reports.flatMap((r, i) => (reports.length > 1 ? r.timeline.map((e) => ({ ...e, label: `[${label(i)}] ${e.label}` })) : r.timeline)),
    series: mergeSeries(reports.map((r) => r.series)),
    expectations: reports.flatMap((r, i) => (reports.length > 1 ? r.expectations.map((e) => ({ ...e, name: `[${label(i)}] ${e.name}` })) : r.expectations)),
    notes: reports.flatMap((r, i) => r.notes.map((n) => (reports.length > 1 ? `[${label(i)}] ${n}` : n))),
  };
}
