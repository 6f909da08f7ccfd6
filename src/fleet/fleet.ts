// The fleet, from the main thread: splits this shard's agents over piscina workers (or runs them
// here with workers: 0), relays progress and commands, stops everything at the deadline, and
// merges the workers' statistics into one summary. Bounded: the workers stop themselves at the
// deadline, and a worker that has not answered `stopGraceMs` after it is destroyed.
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ChurnSpec } from './churn.js';
import type { ChangeWatch } from './propagation.js';
import { shardRange, workerIndexes, type FleetConfig } from './config.js';
import { AgentRunner, type ProbeCommand, type RunnerProgress, type RunnerResult } from './runner.js';
import { emptyCounters } from './stats.js';
import { safeRss } from '../util/memory.js';
import { buildSummary, type FleetSummary } from './summary.js';
import type { MainMessage, WorkerMessage, WorkerTask } from './worker.js';

export interface FleetProgress {
  elapsedMs: number;
  durationMs: number;
  target: number;
  started: number;
  connected: number;
  visible: number;
  failed: number;
  errors: number;
  bytesReceived: number;
  workers: RunnerProgress[];
}

export interface FleetRunOptions {
  onProgress?: (p: FleetProgress) => void;
  /** Aborting stops the fleet early (the summary covers what ran). */
  signal?: AbortSignal;
  /** How long stopped workers may take to report before they are torn down (default 15 s). */
  stopGraceMs?: number;
  /** Called once workers are loaded, just before the first agent starts (e.g. to take a memory baseline). */
  onReady?: () => void;
  /** Changes a worker started watching, for fleets beside this one (every worker here gets them already). */
  onWatch?: (watches: ChangeWatch[]) => void;
}

export const WORKER_ENTRY = new URL('./worker-entry.mjs', import.meta.url);

interface Slice {
  worker: number;
  indexes: number[];
  send(cmd: MainMessage): void;
  progress: RunnerProgress;
  result: Promise<RunnerResult | undefined>;
  /** The worker thread running it (from its `ready` message). */
  threadId?: number;
  /** Why the worker died, if it did (crash, exit, killed). */
  lostReason?: string;
}

export class Fleet {
  private slices: Slice[] = [];
  private pool: Piscina | undefined;
  private running = false;
  private stopRequested = false;

  constructor(readonly config: FleetConfig) {}

  /** Sets probe outcomes now, on every worker (scenario timelines use this). */
  probe(cmd: ProbeCommand): void {
    for (const s of this.slices) s.send(cmd);
  }

  /** Watches these changes for client-side convergence, on every worker (propagation.ts). */
  watch(watches: ChangeWatch[]): void {
    for (const s of this.slices) s.send({ type: 'watch', watches });
  }

  private onWatch: FleetRunOptions['onWatch'];

  /** A worker's new watches to every other worker, and to whoever runs fleets beside this one. */
  private relayWatch(from: Slice | undefined, watches: ChangeWatch[]): void {
    for (const s of this.slices) if (s !== from) s.send({ type: 'watch', watches });
    this.onWatch?.(watches);
  }

  /** Applies a churn model now, on every worker (scenario timelines use this). */
  churn(spec: ChurnSpec): void {
    for (const s of this.slices) s.send({ type: 'churn', spec });
  }

  /**
   * Fault injection: terminates the thread running worker `w` (0-based) at once, as `kill -9`
   * would a process - no stop message, no final statistics. Its agents' connections close with
   * the thread; the summary counts them as `lost`. Returns false if there is no such live thread.
   */
  async killWorker(w: number): Promise<boolean> {
    const slice = this.slices.find((s) => s.worker === w);
    const thread = slice?.threadId === undefined ? undefined : this.pool?.threads.find((t) => t.threadId === slice.threadId);
    if (!thread) return false;
    await thread.terminate();
    return true;
  }

  /** Ends the run early; `run()` then resolves with the summary. */
  stop(): void {
    this.stopRequested = true;
    for (const s of this.slices) s.send({ type: 'stop' });
  }

  async run(opts: FleetRunOptions = {}): Promise<FleetSummary> {
    if (this.running) throw new Error('fleet already running');
    this.running = true;
    this.onWatch = opts.onWatch;
    const c = this.config;
    // Baseline for memory per agent: taken once workers are loaded, so thread start-up is not counted.
    let rssBefore = safeRss();
    const range = shardRange(c.count, c.shardIndex, c.shardCount);
    const n = Math.max(1, Math.min(c.workers || 1, range.end - range.start || 1));
    const indexesOf = (w: number): number[] => workerIndexes(range, n, w);
    let startedAt: number;
    if (c.workers === 0) {
      const runner = new AgentRunner(c, indexesOf(0), 0);
      if (c.prepare) runner.prepare();
      rssBefore = safeRss();
      opts.onReady?.();
      startedAt = Date.now();
      this.slices = [this.inProcess(runner, startedAt)];
    } else {
      const { slices, ready } = this.inWorkers(n, indexesOf);
      this.slices = slices;
      // Threads load TypeScript and protos (and prepare their agents) first; the clock starts when
      // all are ready (bounded: 30 s, plus 5 ms per prepared agent).
      const readyBoundMs = 30_000 + (c.prepare ? Math.ceil(range.end - range.start) * 5 : 0);
      await Promise.race([ready, new Promise((r) => setTimeout(r, readyBoundMs).unref())]);
      rssBefore = safeRss();
      opts.onReady?.();
      startedAt = Date.now();
      for (const s of slices) s.send({ type: 'go', startedAt });
    }
    if (this.stopRequested) this.stop();

    const onAbort = (): void => this.stop();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const report = (): void => opts.onProgress?.(this.progress(startedAt));
    const ticker = setInterval(report, c.progressIntervalMs);
    // Backstop in the main thread: if a worker misses its own deadline, stop it from here.
    const grace = opts.stopGraceMs ?? 15_000;
    const deadline = setTimeout(() => this.stop(), c.durationMs + 1_000);
    let results: RunnerResult[];
    try {
      results = await Promise.all(
        this.slices.map((s) =>
          Promise.race([
            s.result,
            // Never wait forever for a worker: the deadline, then the stop grace.
            new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), c.durationMs + 1_000 + grace).unref()),
          ]).then((r) => r ?? this.lostWorker(s, startedAt)),
        ),
      );
    } finally {
      clearInterval(ticker);
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      await this.pool?.destroy();
      this.pool = undefined;
    }
    report();
    this.running = false;
    return buildSummary(c, results, startedAt, { rssBefore });
  }

  progress(startedAt: number): FleetProgress {
    const workers = this.slices.map((s) => s.progress);
    const sum = (f: (p: RunnerProgress) => number): number => workers.reduce((acc, p) => acc + f(p), 0);
    return {
      elapsedMs: Date.now() - startedAt,
      durationMs: this.config.durationMs,
      target: sum((p) => p.target),
      started: sum((p) => p.started),
      connected: sum((p) => p.connected),
      visible: sum((p) => p.visible),
      failed: sum((p) => p.failed),
      errors: sum((p) => p.errors),
      bytesReceived: sum((p) => p.bytesReceived),
      workers,
    };
  }

  private inProcess(runner: AgentRunner, startedAt: number): Slice {
    const indexes = [...runner.indexes];
    // The only worker: its watches go only to fleets beside this one.
    runner.onWatch = (watches) => this.onWatch?.(watches);
    let final: RunnerProgress | undefined;
    const result = runner.start(startedAt).then((r) => {
      final = r.progress;
      return r;
    });
    return {
      worker: 0,
      indexes,
      send: (cmd) => {
        if (cmd.type !== 'go') runner.command(cmd);
      },
      // Live while running; frozen at the last running state once stopped.
      get progress() {
        return final ?? runner.progress();
      },
      result,
    };
  }

  private inWorkers(n: number, indexesOf: (w: number) => number[]): { slices: Slice[]; ready: Promise<unknown> } {
    this.pool = new Piscina({
      filename: WORKER_ENTRY.href,
      minThreads: n,
      maxThreads: n,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      // Piscina's Atomics wait loop would block a worker's event loop between tasks; ours run one long task.
      atomics: 'disabled',
    });
    const slices: Slice[] = [];
    const readiness: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const indexes = indexesOf(w);
      const { port1, port2 } = new MessageChannel();
      const slice: Slice = {
        worker: w,
        indexes,
        send: (cmd) => {
          try {
            port1.postMessage(cmd);
          } catch {
            // port closed: the worker is done
          }
        },
        progress: { worker: w, target: indexes.length, started: 0, connected: 0, visible: 0, failed: 0, errors: 0, bytesReceived: 0 },
        result: Promise.resolve(undefined),
      };
      let onReady!: () => void;
      readiness.push(new Promise<void>((r) => (onReady = r)));
      port1.on('message', (m: WorkerMessage) => {
        if (m.type === 'progress') slice.progress = m.progress;
        else if (m.type === 'watch') this.relayWatch(slice, m.watches);
        else if (m.type === 'ready') {
          slice.threadId = m.threadId;
          onReady();
        }
      });
      port1.unref();
      const task: WorkerTask = { config: this.config, indexes, worker: w, port: port2 };
      slice.result = this.pool
        .run(task, { transferList: [port2] })
        .then((r: RunnerResult) => {
          slice.progress = r.progress;
          return r;
        })
        .catch((err: unknown) => {
          slice.lostReason = (err as Error).message ?? String(err);
          // Its agents died with the thread: live progress must stop counting them as connected.
          slice.progress = { ...slice.progress, connected: 0, visible: 0 };
          process.emitWarning(`xdsim fleet worker ${w} failed: ${slice.lostReason}`);
          return undefined;
        })
        .finally(() => {
          onReady();
          port1.close();
        });
      slices.push(slice);
    }
    return { slices, ready: Promise.all(readiness) };
  }

  /**
   * A worker that crashed, was killed or never answered: its agents are gone (or are torn down
   * with the pool right after), so none counts as connected; they are reported as lost.
   */
  private lostWorker(s: Slice, startedAt: number): RunnerResult {
    const p = { ...s.progress, connected: 0, visible: 0 };
    const why = s.lostReason ? `worker ${s.worker} died (${s.lostReason})` : `worker ${s.worker} did not report`;
    return {
      worker: s.worker,
      lost: true,
      progress: p,
      counters: { ...emptyCounters(), bytesReceived: p.bytesReceived },
      histograms: { connect: '', edsVisible: '', push: '', healthConverged: '' },
      errorSamples: [{ agent: -1, kind: 'gave-up', detail: `${why}: its ${p.target} agents are lost; counts are from its last progress` }],
      bytesSent: 0,
      memory: { rssBytes: 0, heapUsedBytes: 0, externalBytes: 0 },
      elapsedMs: Date.now() - startedAt,
    };
  }
}
