// Config changes -> debounce -> one push: every connected stream is offered the changed names and
// writes only what changed for it (shared bytes, see wire.ts / response-cache.ts). Each push is
// tracked until all streams that got a response ACK or NACK it.
import type { Logger } from 'pino';
import type { ResourceChange, XdsCache } from '../cache/xds-cache.js';
import { Debouncer, type Debounced, type DebounceOptions } from './debounce.js';
import type { XdsMetrics } from '../metrics/xds-metrics.js';
import { Push, type PushSink, type PushSummary } from './push.js';
import type { XdsType } from '../types.js';

type Changes = Map<XdsType, Set<string>>;

/**
 * Test hook for `xdsim report compare` (docs/ci.md): XDSIM_INJECT_PUSH_DELAY=30% holds every
 * push back by 30% of the time from its first change to the end of its debounce, so a run's
 * convergence gets about that much slower. Read once; unset, the debouncer calls push directly.
 */
export function parsePushDelay(v: string | undefined): number {
  if (!v) return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(v);
  if (!m) return 0;
  return Math.max(0, m[2] ? Number(m[1]) / 100 : Number(m[1]));
}
const INJECTED_PUSH_DELAY = parsePushDelay(process.env['XDSIM_INJECT_PUSH_DELAY']);

export interface PushTarget {
  onPush(push: Push): void;
}

export interface PushEngineOptions {
  debounce: DebounceOptions;
  /** Pushes still open after this long stop waiting for the streams that never answered. */
  pushTrackTimeoutMs?: number;
  /** Completed pushes kept for /debug/syncz and benches. */
  keepRecent?: number;
}

export type PushListener = (summary: PushSummary) => void;
/** One stream settled (ACK/NACK) a push `seconds` after the push's first change. */
export type StreamSettledListener = (pushId: number, pushStart: number, seconds: number) => void;

export class PushEngine implements PushSink {
  private readonly debouncer: Debouncer<Changes>;
  private readonly open = new Set<Push>();
  private readonly recent: PushSummary[] = [];
  private readonly listeners = new Set<PushListener>();
  private readonly settledListeners = new Set<StreamSettledListener>();
  private readonly unsubscribe: () => void;
  private readonly sweeper: NodeJS.Timeout;
  private seq = 0;
  private closed = false;

  constructor(
    cache: XdsCache,
    private readonly targets: () => Iterable<PushTarget>,
    private readonly metrics: XdsMetrics,
    private readonly log: Logger,
    private readonly opts: PushEngineOptions,
  ) {
    this.debouncer = new Debouncer<Changes>(opts.debounce, mergeChanges, INJECTED_PUSH_DELAY > 0 ? (d) => this.delayedPush(d) : (d) => this.push(d));
    this.unsubscribe = cache.onChange((c) => this.onChange(c));
    const timeout = opts.pushTrackTimeoutMs ?? 60_000;
    this.sweeper = setInterval(() => this.expire(timeout), Math.min(timeout, 5_000));
    this.sweeper.unref();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.debouncer.close();
    clearInterval(this.sweeper);
    for (const p of this.open) p.expire();
    this.listeners.clear();
    this.settledListeners.clear();
  }

  /** Called with each push once it has converged (or given up waiting). */
  onPushDone(l: PushListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Per-stream convergence, for benches that want exact percentiles rather than buckets. */
  onStreamSettled(l: StreamSettledListener): () => void {
    this.settledListeners.add(l);
    return () => this.settledListeners.delete(l);
  }

  recentPushes(): readonly PushSummary[] {
    return this.recent;
  }

  openPushes(): PushSummary[] {
    return [...this.open].map((p) => p.summary());
  }

  /** Pushes what the debouncer holds right away. */
  flush(): void {
    this.debouncer.flushNow();
  }

  private onChange(c: ResourceChange): void {
    const changes: Changes = new Map();
    for (const [t, names] of c.types) {
      changes.set(t, new Set(names));
      this.metrics.pushTriggers.inc({ type: t === 'eds' ? 'endpoint' : 'config' });
    }
    const edsOnly = changes.size === 1 && changes.has('eds');
    this.debouncer.add(changes, c.at, edsOnly);
  }

  /** Test hook (XDSIM_INJECT_PUSH_DELAY): the fan-out waits a share of the time its changes already waited. */
  private delayedPush(d: Debounced<Changes>): void {
    const waited = performance.now() - d.firstAt;
    setTimeout(() => {
      if (!this.closed) this.push(d);
    }, waited * INJECTED_PUSH_DELAY);
  }

  private push(d: Debounced<Changes>): void {
    this.metrics.debounceTime.observe((performance.now() - d.firstAt) / 1000);
    const push = new Push(++this.seq, d.firstAt, d.value, this);
    this.open.add(push);
    let streams = 0;
    for (const t of this.targets()) {
      t.onPush(push);
      streams++;
    }
    push.seal();
    this.log.debug({ push: push.id, streams, changes: push.summary().changes, merged: d.merged }, 'push fanned out');
  }

  proxyConverged(seconds: number, push: Push): void {
    this.metrics.proxyConvergence.observe(seconds);
    for (const l of this.settledListeners) l(push.id, push.start, seconds);
  }

  pushDone(push: Push): void {
    this.open.delete(push);
    const s = push.summary();
    if (s.convergedMs !== undefined) this.metrics.pushConvergence.observe(s.convergedMs / 1000);
    this.recent.push(s);
    if (this.recent.length > (this.opts.keepRecent ?? 100)) this.recent.shift();
    for (const l of this.listeners) l(s);
  }

  private expire(timeoutMs: number): void {
    const now = performance.now();
    for (const p of [...this.open]) {
      if (now - p.start > timeoutMs) {
        this.log.warn({ push: p.id, outstanding: p.outstandingStreams }, 'push never converged; giving up on streams that did not answer');
        p.expire();
      }
    }
  }
}

function mergeChanges(a: Changes, b: Changes): Changes {
  const out: Changes = new Map();
  for (const [t, names] of a) out.set(t, new Set(names));
  for (const [t, names] of b) {
    const s = out.get(t);
    if (s) for (const n of names) s.add(n);
    else out.set(t, new Set(names));
  }
  return out;
}
