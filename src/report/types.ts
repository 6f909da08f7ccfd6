// report.json: what `xdsim run` writes. Everything a CI job or a later merge needs is here;
// report.html is rendered from this alone.
import type { LatencySummary } from './histogram.js';
import type { TargetMetricsSummary } from '../scenario/target-metrics.js';
import type { LinkStats } from '../network/link-relay.js';

export const REPORT_KIND = 'xdsim-run-report';
export const REPORT_VERSION = 1;

export interface ExpectationResult {
  name: string;
  kind: string;
  pass: boolean;
  /** One readable line: what was expected, what was seen. */
  detail: string;
  /** When it was checked (ms from t=0). */
  atMs?: number;
  /** Line of the expectation in the scenario file. */
  line?: number;
  /** Not checked against this target (the scenario's onlyAgainst); counts as passed. */
  skipped?: boolean;
}

export interface TimelineRecord {
  atMs: number;
  label: string;
  /** When it actually ran (ms from t=0). */
  ranAtMs: number;
  /** What it did ("dropped 20 agents"), or why it failed. */
  result: string;
  ok: boolean;
}

export interface Series {
  intervalMs: number;
  /** Sample times, ms from t=0. */
  t: number[];
  /** Agents connected (fleet view). */
  connected: number[];
  /** xDS streams open on the server (agents, plus any watcher streams). */
  streams: number[];
  registered: number[];
  pushesPerSec: number[];
  /** Push convergence percentiles of pushes that converged in each interval (null: none did). */
  convergenceP50Ms: (number | null)[];
  convergenceP90Ms: (number | null)[];
  convergenceP99Ms: (number | null)[];
  /** Server CPU, percent of one core, over each interval. */
  cpuPercent: number[];
  rssBytes: number[];
  heapUsedBytes: number[];
}

/** One emulated link of the scenario's network block, with its relay's figures over the run. */
export type NetworkLinkReport = Omit<LinkStats, 'open' | 'cut'> & {
  select: { group?: string; locality?: string };
  /** The shape in words ("30ms±5ms 1% loss"). */
  shape: string;
};

export interface RunReport {
  kind: typeof REPORT_KIND;
  version: typeof REPORT_VERSION;
  scenario: { name: string; file: string; description: string };
  /** The control plane the scenario ran against (absent in reports from before targets). */
  target?: { kind: 'embedded' | 'remote'; name: string; xds: string };
  startedAt: string;
  /** Whole run, from control-plane start to shutdown. */
  wallMs: number;
  /** The fleet's configured duration. */
  durationMs: number;
  host: { node: string; platform: string; arch: string; cpus: number };
  /** Number of runs merged into this report (1 for a plain run). */
  shards: number;
  pass: boolean;
  agents: {
    total: number;
    /** Auto-registered WorkloadEntries present at the end of the fleet's duration. */
    registered: number;
    registeredPeak: number;
    /** Peak of agents connected (fleet view). */
    connectedPeak: number;
    /** Agents whose own address was in EDS when the fleet stopped (fleet view). */
    visibleInEds?: number;
    /** Connect time (stream open -> first response), from the fleet. */
    connect?: LatencySummary & { histogram?: string };
    /** First connect -> own IP seen in EDS, from the fleet. */
    edsVisible?: LatencySummary & { histogram?: string };
    /** Health reports the agents sent over xDS (each probe transition and each new stream's re-report). */
    healthReports?: { healthy: number; unhealthy: number };
  };
  /** Per push: first config change -> the last affected stream ACKed or NACKed (the embedded control plane's pushes; empty for other targets). */
  convergence: LatencySummary & { histogram: string };
  /**
   * Seen from the agents: per change (a VM registering, a probe flipping, a config step), the
   * change -> every agent subscribed to it holding it. Absent when the fleet did not measure it.
   */
  clientConvergence?: ClientConvergence;
  /** The target's own metrics (--metrics-url), scraped over the run: istiod's names. */
  targetMetrics?: TargetMetricsSummary;
  pushes: number;
  pushesByType: Record<string, number>;
  nacks: number;
  errors: number;
  errorsByKind: Record<string, number>;
  /** Auto-registered entries left after the agents stopped and the grace period passed; null if not checked. */
  leakedEntries: number | null;
  server: {
    cpu: {
      seconds: number;
      avgPercent: number;
      peakPercent: number;
      /**
       * `process`: the control plane's process (the fleet runs in a child process);
       * `main-thread`: its main thread only, when fleet threads share the process.
       */
      scope: 'main-thread' | 'process';
    };
    /** Peak resident set size of the control plane's process (of the fleet's too when they share it). */
    rssBytes: number;
    rssBytesEnd: number;
    /** Peak V8 heap of the control plane's thread. */
    heapUsedBytes: number;
  };
  timeline: TimelineRecord[];
  /** The scenario's emulated links (src/network), when it has a network block. */
  network?: { links: NetworkLinkReport[] };
  series: Series;
  /** Per proxy an `lbShares` expectation names: its shares and endpoints, sampled over the run (src/scenario/share-sampler.ts). */
  traffic?: TrafficSeries[];
  /** `xdsim run --repeat N`: every run's figures (src/report/figures.ts), the body above being the last run's. */
  runs?: RunFigures[];
  expectations: ExpectationResult[];
  /** Non-fatal problems (warnings from the scenario, a timeline action that could not run). */
  notes: string[];
}

export function isRunReport(v: unknown): v is RunReport {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === REPORT_KIND;
}

/** Client-side convergence (src/fleet/propagation.ts) over the changes a run watched. */
export interface ClientConvergence {
  all: LatencySummary & { histogram: string };
  byKind: Partial<Record<'registration' | 'health' | 'config', LatencySummary & { histogram: string }>>;
  /** Changes measured, and those some subscriber never got before the run ended. */
  changes: number;
  incomplete: number;
  /** Agents measured as subscribers per agent set, at most (a seeded sample beyond). */
  subscribersPerSet: number;
}

/**
 * What one proxy received for one cluster, sampled with the report's series: the client model's
 * share per locality and per priority, and the endpoints per locality in the assignment.
 */
export interface TrafficSeries {
  cluster: string;
  proxy: { locality: string; network: string; labels: Record<string, string> };
  client: 'envoy' | 'grpc';
  /** Sample times, ms from t=0. */
  t: number[];
  /** Every locality seen in the run ("region/zone/subzone"); arrays are per sample. */
  localities: {
    locality: string;
    /** Share of requests (0..1); null where the observer had no answer. */
    share: (number | null)[];
    /** Endpoints in the assignment (unhealthy ones are only sent with sendUnhealthyEndpoints). */
    healthy: number[];
    unhealthy: number[];
  }[];
  priorities: { priority: number; share: (number | null)[] }[];
}

/** One run's figures as `xdsim report compare` reads them. */
export interface RunFigures {
  /** Figure name -> value; null where the run did not measure it. */
  figures: Record<string, number | null>;
  /** Expectation name -> passed. */
  expectations: Record<string, boolean>;
}
