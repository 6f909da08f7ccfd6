// A remote control plane's own figures, from its Prometheus /metrics (`xdsim run --metrics-url`,
// istiod's names, which xdsim's admin API also uses): scraped at the start, optionally every few
// seconds, and at the end. Counters are summed scrape to scrape (a counter that went down means
// the target restarted: its new value counts from zero), so the figures cover the run only.
import { parsePromText, type PromSample } from './prom-text.js';

const CONVERGENCE = 'pilot_proxy_convergence_time';
const PUSHES = 'pilot_xds_pushes';
const CPU = 'process_cpu_seconds_total';
const RSS = 'process_resident_memory_bytes';
const CONNECTED = 'pilot_xds';
/** The counters whose run-time increase is reported. */
const COUNTERS = new Set([`${CONVERGENCE}_bucket`, `${CONVERGENCE}_count`, `${CONVERGENCE}_sum`, PUSHES, CPU]);

export interface TargetMetricsOptions {
  /** Scrape every this many ms between start() and finish() (default: start and end only). */
  intervalMs?: number;
  /** Per scrape (default 5 s). */
  timeoutMs?: number;
}

/** One scrape's figures, for live progress and charts. */
export interface TargetMetricsPoint {
  atMs: number;
  connectedProxies: number | null;
  rssBytes: number | null;
  /** Since the previous scrape, % of one core; null on the first. */
  cpuPercent: number | null;
}

export interface TargetMetricsSummary {
  url: string;
  /** First to last successful scrape. */
  windowMs: number;
  scrapes: number;
  failedScrapes: number;
  /** The last failure, when there was one. */
  lastError?: string;
  /** `pilot_proxy_convergence_time` over the window: percentiles estimated from its buckets. */
  convergence: {
    count: number;
    sumMs: number;
    /** Linear inside the bucket, as PromQL's histogram_quantile; at most the largest finite bound. */
    p50Ms: number | null;
    p90Ms: number | null;
    p99Ms: number | null;
    /** Cumulative counts per upper bound (seconds, as exposed), over the window. */
    buckets: { le: string; count: number }[];
  } | null;
  /** `pilot_xds_pushes` increase per `type`. */
  pushesByType: Record<string, number> | null;
  /** `process_cpu_seconds_total`: increase, its average over the window and the busiest interval (% of one core). */
  cpu: { seconds: number; avgPercent: number; peakPercent: number | null } | null;
  /** `process_resident_memory_bytes`: highest scraped, and the last. */
  rssBytes: { peak: number; end: number } | null;
  /** `pilot_xds` (proxies connected), summed over its labels. */
  connectedProxies: { start: number; end: number; peak: number } | null;
  /** Names of the metrics above the target did not expose (the figure is then null). */
  missing: string[];
}

function seriesKey(s: PromSample): string {
  const keys = Object.keys(s.labels).sort();
  return keys.length ? `${s.name}{${keys.map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(',')}}` : s.name;
}

const sum = (xs: readonly PromSample[]): number => xs.reduce((a, s) => a + s.value, 0);

/** The q-quantile from cumulative buckets, as PromQL's histogram_quantile (null when empty). */
export function bucketQuantile(q: number, buckets: readonly { le: number; count: number }[]): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0 || sorted.at(-1)!.le !== Infinity) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      // Past the last finite bound nothing is known but "more than it".
      if (b.le === Infinity) return prevLe;
      if (b.count === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

export class TargetMetrics {
  private prev = new Map<string, number>();
  /** Counter series -> increase since the first scrape. */
  private readonly increase = new Map<string, { sample: PromSample; delta: number }>();
  private first: { at: number; connected: number | null } | undefined;
  private last: { at: number; cpu: number | null; connected: number | null; rss: number | null } | undefined;
  private scrapes = 0;
  private failed = 0;
  private lastError: string | undefined;
  private rssPeak: number | null = null;
  private connectedPeak: number | null = null;
  private cpuPeak: number | null = null;
  private lastCpuPercent: number | null = null;
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<TargetMetricsPoint | undefined> | undefined;
  private readonly timeoutMs: number;

  constructor(
    readonly url: string,
    private readonly opts: TargetMetricsOptions = {},
  ) {
    new URL(url);
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** The baseline scrape (a failure is kept for the summary, not thrown: the run goes on). */
  async start(): Promise<TargetMetricsPoint | undefined> {
    const p = await this.sample();
    if (this.opts.intervalMs && this.opts.intervalMs > 0) {
      this.timer = setInterval(() => void this.sample(), this.opts.intervalMs);
      this.timer.unref();
    }
    return p;
  }

  /** Scrapes now (a scrape already under way is shared, not doubled). */
  sample(): Promise<TargetMetricsPoint | undefined> {
    this.inFlight ??= this.scrape().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** The last scrape, then the figures over the window. */
  async finish(): Promise<TargetMetricsSummary> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    await this.sample();
    return this.summary();
  }

  private async scrape(): Promise<TargetMetricsPoint | undefined> {
    let samples: PromSample[];
    const at = Date.now();
    try {
      const res = await fetch(this.url, { headers: { accept: 'text/plain;version=0.0.4' }, signal: AbortSignal.timeout(this.timeoutMs) });
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.trim().slice(0, 200)}`);
      samples = parsePromText(text);
    } catch (err) {
      this.failed++;
      this.lastError = `${this.url}: ${(err as Error).message}`;
      return undefined;
    }
    this.ingest(samples, at);
    const l = this.last!;
    return { atMs: at, connectedProxies: l.connected, rssBytes: l.rss, cpuPercent: this.lastCpuPercent };
  }

  /** One scrape's samples taken at `at` (epoch ms); public for tests on captured text. */
  ingest(samples: readonly PromSample[], at: number): void {
    const next = new Map<string, number>();
    const byName = new Map<string, PromSample[]>();
    for (const s of samples) {
      this.seen.add(s.name);
      let l = byName.get(s.name);
      if (!l) byName.set(s.name, (l = []));
      l.push(s);
      if (!COUNTERS.has(s.name)) continue;
      const k = seriesKey(s);
      next.set(k, s.value);
      if (!this.first) continue;
      // A series absent before started at zero; a drop is a restart, counted from zero again.
      const before = this.prev.get(k) ?? 0;
      const d = s.value >= before ? s.value - before : s.value;
      const acc = this.increase.get(k);
      if (acc) acc.delta += d;
      else this.increase.set(k, { sample: s, delta: d });
    }
    if (this.first) {
      // Counter series gone from this scrape keep their previous value as the baseline.
      for (const [k, v] of this.prev) if (!next.has(k)) next.set(k, v);
    }
    this.prev = next;
    const connected = byName.has(CONNECTED) ? sum(byName.get(CONNECTED)!) : null;
    const rss = byName.has(RSS) ? sum(byName.get(RSS)!) : null;
    const cpu = byName.has(CPU) ? sum(byName.get(CPU)!) : null;
    this.lastCpuPercent = null;
    if (this.last && this.last.cpu !== null && cpu !== null && at > this.last.at) {
      const d = cpu >= this.last.cpu ? cpu - this.last.cpu : cpu;
      this.lastCpuPercent = (d / ((at - this.last.at) / 1000)) * 100;
      this.cpuPeak = Math.max(this.cpuPeak ?? 0, this.lastCpuPercent);
    }
    if (rss !== null) this.rssPeak = Math.max(this.rssPeak ?? 0, rss);
    if (connected !== null) this.connectedPeak = Math.max(this.connectedPeak ?? 0, connected);
    this.first ??= { at, connected };
    this.last = { at, cpu, connected, rss };
    this.scrapes++;
  }

  private increases(name: string): { sample: PromSample; delta: number }[] {
    return [...this.increase.values()].filter((x) => x.sample.name === name);
  }

  summary(): TargetMetricsSummary {
    const missing = [`${CONVERGENCE}_bucket`, PUSHES, CPU, RSS, CONNECTED].filter((n) => !this.seen.has(n));
    const windowMs = this.first && this.last ? this.last.at - this.first.at : 0;
    const out: TargetMetricsSummary = {
      url: this.url,
      windowMs,
      scrapes: this.scrapes,
      failedScrapes: this.failed,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      convergence: null,
      pushesByType: null,
      cpu: null,
      rssBytes: null,
      connectedProxies: null,
      missing: missing.map((n) => n.replace(/_bucket$/, '')),
    };
    if (this.scrapes === 0) return out;
    if (this.seen.has(`${CONVERGENCE}_bucket`)) {
      // Summed over any labels, per bound.
      const perLe = new Map<string, number>();
      for (const x of this.increases(`${CONVERGENCE}_bucket`)) {
        const le = x.sample.labels['le'] ?? '+Inf';
        perLe.set(le, (perLe.get(le) ?? 0) + x.delta);
      }
      // Bounds that never moved still belong in the table.
      for (const k of this.prev.keys()) {
        const m = /^pilot_proxy_convergence_time_bucket\{.*le="([^"]*)"/.exec(k);
        if (m && !perLe.has(m[1]!)) perLe.set(m[1]!, 0);
      }
      const buckets = [...perLe].map(([le, count]) => ({ le, bound: le === '+Inf' ? Infinity : Number(le), count })).sort((a, b) => a.bound - b.bound);
      const q = (p: number) => {
        const v = bucketQuantile(p, buckets.map((b) => ({ le: b.bound, count: b.count })));
        return v === null ? null : +(v * 1000).toFixed(3);
      };
      const count = this.increases(`${CONVERGENCE}_count`).reduce((a, x) => a + x.delta, 0);
      const sumS = this.increases(`${CONVERGENCE}_sum`).reduce((a, x) => a + x.delta, 0);
      out.convergence = { count, sumMs: +(sumS * 1000).toFixed(3), p50Ms: q(0.5), p90Ms: q(0.9), p99Ms: q(0.99), buckets: buckets.map(({ le, count: c }) => ({ le, count: c })) };
    }
    if (this.seen.has(PUSHES)) {
      const byType: Record<string, number> = {};
      for (const x of this.increases(PUSHES)) {
        const t = x.sample.labels['type'] ?? '';
        byType[t] = (byType[t] ?? 0) + x.delta;
      }
      out.pushesByType = byType;
    }
    if (this.seen.has(CPU)) {
      const seconds = this.increases(CPU).reduce((a, x) => a + x.delta, 0);
      out.cpu = {
        seconds: +seconds.toFixed(3),
        avgPercent: windowMs > 0 ? +((seconds / (windowMs / 1000)) * 100).toFixed(1) : 0,
        peakPercent: this.cpuPeak === null ? null : +this.cpuPeak.toFixed(1),
      };
    }
    if (this.rssPeak !== null) out.rssBytes = { peak: this.rssPeak, end: this.last?.rss ?? this.rssPeak };
    if (this.connectedPeak !== null && this.first) {
      out.connectedProxies = { start: this.first.connected ?? 0, end: this.last?.connected ?? 0, peak: this.connectedPeak };
    }
    return out;
  }
}
