// The fleet summary: counts, latency percentiles and memory for one shard, with the histograms
// serialized so shards (and runs of `xdsim report merge`) can be combined exactly: counts add,
// histograms merge, percentiles are recomputed from the merged histograms.
import type { FleetConfig } from './config.js';
import { decodeHistogram, mergeEncoded, summarize, type LatencySummary } from './histogram.js';
import type { RunnerResult } from './runner.js';
import { mergePropagation, type PropagationRecord } from './propagation.js';
import { safeRss } from '../util/memory.js';
import { addCounters, emptyCounters, LATENCY_METRICS, totalErrors, type Counters, type ErrorSample, type LatencyMetric } from './stats.js';

export const SUMMARY_KIND = 'xdsim.fleet.summary';
export const SUMMARY_VERSION = 1;

export interface WorkerMemory {
  shard: number;
  worker: number;
  agents: number;
  /** V8 heap of the worker's isolate (per-thread; RSS is per process). */
  heapUsedBytes: number;
  externalBytes: number;
}

export interface FleetSummary {
  kind: typeof SUMMARY_KIND;
  version: typeof SUMMARY_VERSION;
  /** Shards included: one entry per shard summary merged in. */
  shards: { index: number; count: number }[];
  startedAt: string;
  durationMs: number;
  config: {
    xds: string;
    namespace: string;
    group: string;
    count: number;
    rampPerSec: number;
    unhealthyFraction: number;
    mode: FleetConfig['mode'];
    watch: FleetConfig['watch'];
    workers: number;
    churn: FleetConfig['churn'];
  };
  agents: {
    /** Agents this summary covers (the shard's share of --count, or all shards merged). */
    target: number;
    started: number;
    /** Connected when the run ended. */
    connected: number;
    /** IP visible in EDS when the run ended (0 when watch is none). */
    registered: number;
    /** Agents that stopped retrying (backoff attempts exhausted). */
    failed: number;
    /** Error events (every failed attempt counts). */
    errors: number;
    /** Agents of worker threads that died (crashed, killed) or never reported: out of the run. */
    lost: number;
  };
  latency: Record<LatencyMetric, LatencySummary>;
  /** HdrHistogram compressed base64, microseconds. */
  histograms: Record<LatencyMetric, string>;
  counters: Counters;
  bytes: { received: number; sent: number };
  memory: { processRssBytes: number; perAgentRssBytes: number; workers: WorkerMemory[] };
  errorSamples: ErrorSample[];
  /** Client-side convergence notes (propagation.ts), when measured. */
  propagation?: PropagationRecord;
}

/** Builds one shard's summary from its runners' results. */
export function buildSummary(
  config: FleetConfig,
  results: readonly RunnerResult[],
  startedAt: number,
  opts: { rssBefore?: number } = {},
): FleetSummary {
  const counters = emptyCounters();
  for (const r of results) addCounters(counters, r.counters);
  const histograms = {} as Record<LatencyMetric, string>;
  for (const m of LATENCY_METRICS) histograms[m] = mergeEncoded(results.map((r) => r.histograms[m]));
  const sum = (f: (r: RunnerResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  const rss = Math.max(safeRss(), ...results.map((r) => r.memory.rssBytes));
  const started = sum((r) => r.progress.started);
  return finish({
    kind: SUMMARY_KIND,
    version: SUMMARY_VERSION,
    shards: [{ index: config.shardIndex, count: config.shardCount }],
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Math.max(0, ...results.map((r) => r.elapsedMs)),
    config: {
      xds: config.xds,
      namespace: config.namespace,
      group: config.group,
      count: config.count,
      rampPerSec: config.rampPerSec,
      unhealthyFraction: config.unhealthyFraction,
      mode: config.mode,
      watch: config.watch,
      workers: config.workers,
      churn: config.churn,
    },
    agents: {
      target: sum((r) => r.progress.target),
      started,
      connected: sum((r) => r.progress.connected),
      registered: sum((r) => r.progress.visible),
      failed: sum((r) => r.progress.failed),
      errors: totalErrors(counters),
      lost: sum((r) => (r.lost ? r.progress.target : 0)),
    },
    latency: {} as Record<LatencyMetric, LatencySummary>,
    histograms,
    counters,
    bytes: { received: counters.bytesReceived, sent: sum((r) => r.bytesSent) },
    memory: {
      processRssBytes: rss,
      perAgentRssBytes: started > 0 ? Math.round(Math.max(0, rss - (opts.rssBefore ?? 0)) / started) : 0,
      workers: results.map((r) => ({
        shard: config.shardIndex,
        worker: r.worker,
        agents: r.progress.target,
        heapUsedBytes: r.memory.heapUsedBytes,
        externalBytes: r.memory.externalBytes,
      })),
    },
    errorSamples: results.flatMap((r) => r.errorSamples).slice(0, 10),
    ...(results.some((r) => r.propagation) ? { propagation: mergePropagation(results.map((r) => r.propagation)) } : {}),
  });
}

function finish(s: FleetSummary): FleetSummary {
  for (const m of LATENCY_METRICS) s.latency[m] = summarize(decodeHistogram(s.histograms[m]));
  return s;
}

export function isFleetSummary(x: unknown): x is FleetSummary {
  return !!x && typeof x === 'object' && (x as { kind?: unknown }).kind === SUMMARY_KIND;
}

/**
 * Merges shard summaries (or already merged ones): counts and bytes add, histograms merge and
 * percentiles are recomputed from them; duration is the longest; memory lists every worker and
 * sums process RSS (shards are separate processes, usually separate machines).
 */
export function mergeSummaries(summaries: readonly FleetSummary[]): FleetSummary {
  if (summaries.length === 0) throw new Error('mergeSummaries: nothing to merge');
  for (const s of summaries) {
    if (!isFleetSummary(s)) throw new Error('mergeSummaries: not an xdsim fleet summary');
    if (s.version !== SUMMARY_VERSION) throw new Error(`mergeSummaries: unsupported summary version ${String(s.version)}`);
  }
  const first = summaries[0]!;
  const counters = emptyCounters();
  for (const s of summaries) addCounters(counters, s.counters);
  const histograms = {} as Record<LatencyMetric, string>;
  for (const m of LATENCY_METRICS) histograms[m] = mergeEncoded(summaries.map((s) => s.histograms[m] ?? ''));
  const sum = (f: (s: FleetSummary) => number): number => summaries.reduce((acc, s) => acc + f(s), 0);
  const started = sum((s) => s.agents.started);
  const rss = sum((s) => s.memory.processRssBytes);
  const shards = summaries.flatMap((s) => s.shards).sort((a, b) => a.index - b.index);
  return finish({
    kind: SUMMARY_KIND,
    version: SUMMARY_VERSION,
    shards,
    startedAt: summaries.map((s) => s.startedAt).sort()[0]!,
    durationMs: Math.max(...summaries.map((s) => s.durationMs)),
    config: { ...first.config, workers: sum((s) => s.config.workers) },
    agents: {
      target: sum((s) => s.agents.target),
      started,
      connected: sum((s) => s.agents.connected),
      registered: sum((s) => s.agents.registered),
      failed: sum((s) => s.agents.failed),
      errors: totalErrors(counters),
      // Summaries written before `lost` existed count as none lost.
      lost: sum((s) => s.agents.lost ?? 0),
    },
    latency: {} as Record<LatencyMetric, LatencySummary>,
    histograms,
    counters,
    bytes: { received: sum((s) => s.bytes.received), sent: sum((s) => s.bytes.sent) },
    memory: {
      processRssBytes: rss,
      perAgentRssBytes: started > 0 ? Math.round(sum((s) => s.memory.perAgentRssBytes * s.agents.started) / started) : 0,
      workers: summaries.flatMap((s) => s.memory.workers),
    },
    errorSamples: summaries.flatMap((s) => s.errorSamples).slice(0, 10),
    ...(summaries.some((s) => s.propagation) ? { propagation: mergePropagation(summaries.map((s) => s.propagation)) } : {}),
  });
}
