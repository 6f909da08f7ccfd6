import { readFileSync } from 'node:fs';
import { channelCredentials, tlsChannelOptions } from '../security/tls.js';
// Runs one slice of a fleet on the current thread: creates and starts agents on the ramp
// schedule, applies the churn schedule, optionally watches EDS through one observer stream, and
// stops everything at the deadline or on request. A piscina worker runs one of these; tests and
// `--workers 0` run it in-process.
import { Agent, type AgentOptions } from '../agent/agent.js';
import { mulberry32, type Rng } from '../util/random.js';
import { memorySample } from '../util/memory.js';
import { claEndpoints } from '../agent/wire.js';
import { pickFraction, scheduleChurn, type ChurnSpec } from './churn.js';
import { agentIdentity, agentLocality, agentTarget, observerTarget, probeSettingsFor, seededSubset, shardRange, startOffsetMs, type FleetConfig } from './config.js';
import { localityMatches } from '../model/locality.js';
import type { ProbeModel } from '../agent/probe.js';
import { PropagationTracker, type ChangeWatch, type PropagationRecord } from './propagation.js';
import { FleetStats, totalErrors, type Counters, type ErrorSample, type LatencyMetric } from './stats.js';

export interface RunnerProgress {
  worker: number;
  target: number;
  started: number;
  connected: number;
  /** Connected agents whose IP is currently in EDS. */
  visible: number;
  failed: number;
  errors: number;
  bytesReceived: number;
}

export interface RunnerResult {
  worker: number;
  progress: RunnerProgress;
  counters: Counters;
  histograms: Record<LatencyMetric, string>;
  errorSamples: ErrorSample[];
  bytesSent: number;
  memory: { rssBytes: number; heapUsedBytes: number; externalBytes: number };
  /** Wall time from the fleet start until this runner stopped. */
  elapsedMs: number;
  /** Client-side convergence notes, when the fleet measures it. */
  propagation?: PropagationRecord;
  /** Stand-in for a worker that died or never reported: its agents are lost. */
  lost?: boolean;
}

/**
 * Probe outcomes set from outside (a scenario's `unhealthy` / `healthy` steps): of the fleet's
 * agents in `locality` (a pattern; absent = all), exactly `count` or round(fraction x matching)
 * (absent both = all), a seeded choice keyed by `seq` so every worker picks the same agents.
 */
export interface ProbeCommand {
  type: 'probe';
  healthy: boolean;
  seq: number;
  locality?: string;
  count?: number;
  fraction?: number;
}

export type RunnerCommand =
  | { type: 'churn'; spec: ChurnSpec }
  | ProbeCommand
  | { type: 'watch'; watches: ChangeWatch[] }
  | { type: 'stop' };

/** The agent indexes (of the whole fleet) a probe command selects. */
export function probeCommandTargets(c: FleetConfig, cmd: Omit<ProbeCommand, 'type' | 'healthy'>): number[] {
  const matching: number[] = [];
  for (let i = 0; i < c.count; i++) {
    if (cmd.locality === undefined) {
      matching.push(i);
      continue;
    }
    const l = agentLocality(c, i);
    if (localityMatches(l ?? { region: '', zone: '', subZone: '' }, cmd.locality)) matching.push(i);
  }
  if (matching.length === 0) return [];
  const n = cmd.count !== undefined ? Math.min(cmd.count, matching.length) : Math.round((cmd.fraction ?? 1) * matching.length);
  const inSet = seededSubset(c.seed, `probe:${cmd.seq}`, matching.length, n / matching.length);
  return matching.filter((_, j) => inSet(j));
}

interface Slot {
  index: number;
  offsetMs: number;
  agent?: Agent;
  /** start() was called (an agent may exist before: prepared). */
  started: boolean;
  generation: number;
  /** Above the scale limit: not running (never started, or suspended by a scale-down). */
  parked: boolean;
}

/** Tick of the ramp loop: starts every agent that is due, so one timer serves thousands. */
const RAMP_TICK_MS = 20;
/**
 * Most agents started in one go. A thread that fell behind (a storm, a starved CPU) would
 * otherwise start everything overdue in one synchronous burst - seconds during which none of its
 * connections' handshakes are serviced, so they time out and retry, and the fleet collapses
 * under its own load. In chunks, in-flight I/O runs between them and the ramp just falls behind.
 */
const RAMP_CHUNK = 50;

/**
 * How many of a worker's agents (`indexes`) keep running when the shard scales to `to`:
 * round(to x shard size) agents of the shard keep running, the first ones in start order (start
 * offsets grow with the index), so the workers' limits add up to exactly that.
 */
export function workerScaleLimit(c: FleetConfig, indexes: readonly number[], to: number): number {
  const range = shardRange(c.count, c.shardIndex, c.shardCount);
  const keep = range.start + Math.round(Math.min(1, Math.max(0, to)) * (range.end - range.start));
  return indexes.filter((i) => i < keep).length;
}

/** Probe flips watched at once per worker, and for how long each (flapping probes flip often). */
const FLIP_WATCHES_PER_WORKER = 4;
const FLIP_WATCH_MS = 5_000;

export class AgentRunner {
  readonly stats = new FleetStats();
  private readonly slots: Slot[];
  private readonly rng: Rng;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly byIp = new Map<string, Agent>();
  private observer: Agent | undefined;
  /** Per cluster: IPs of this runner's agents the observer last saw in it. */
  private readonly observed = new Map<string, Set<string>>();
  /** Flap models chosen for agents the ramp has not started yet. */
  private readonly pendingModels = new Map<number, ProbeModel>();
  private nextToStart = 0;
  private activeLimit: number;
  private stopped = false;
  private stopResolve: ((r: RunnerResult) => void) | undefined;
  private readonly done: Promise<RunnerResult>;
  private startedAt = 0;
  /** Client-side convergence: the tracker, and the agents measured as subscribers. */
  private readonly propagation: PropagationTracker | undefined;
  private readonly subscribers = new WeakSet<Agent>();
  private readonly measured: (index: number) => boolean;
  /** Watches this worker started (flips) go to every other worker through this. */
  onWatch: ((watches: ChangeWatch[]) => void) | undefined;
  /** Built once per worker: every agent of the worker shares the credentials object. */
  private readonly transport: Pick<AgentOptions, 'credentials' | 'channelOptions' | 'callMetadata'>;

  constructor(
    private readonly config: FleetConfig,
    readonly indexes: readonly number[],
    private readonly worker = 0,
  ) {
    this.slots = indexes.map((index) => ({ index, offsetMs: startOffsetMs(config, index), generation: 0, parked: false, started: false }));
    this.slots.sort((a, b) => a.offsetMs - b.offsetMs || a.index - b.index);
    this.activeLimit = this.slots.length;
    this.rng = mulberry32((config.seed * 7919) ^ (worker + 1));
    this.done = new Promise((resolve) => (this.stopResolve = resolve));
    this.transport = transportFor(config);
    const p = config.propagation;
    this.measured = p ? (p.maxSubscribers >= config.count ? () => true : seededSubset(config.seed, 'propagation', config.count, p.maxSubscribers / config.count)) : () => false;
    if (p) {
      this.propagation = new PropagationTracker((a) => this.subscribers.has(a as Agent));
      this.propagation.watch(p.watches, []);
    }
  }

  /**
   * `config.prepare`: builds every agent of this slice now, before the run's clock starts, with
   * what the agent of a VM that is already running has (Agent.prepare(): its gRPC channel object,
   * idle; its first simulated probe result). start() then only connects them on the ramp. Returns
   * how many were prepared.
   */
  prepare(): number {
    if (this.stopped) return 0;
    let n = 0;
    for (const slot of this.slots) {
      if (slot.agent) continue;
      slot.agent = this.newAgent(slot);
      slot.agent.prepare();
      n++;
    }
    return n;
  }

  /** Starts the run; `fleetStartedAt` (epoch ms) lines ramps and churn up across workers. */
  start(fleetStartedAt = Date.now()): Promise<RunnerResult> {
    this.startedAt = fleetStartedAt;
    const deadline = fleetStartedAt + this.config.durationMs;
    if (this.config.watch === 'observer') this.startObserver(deadline);
    this.rampTick();
    for (const ev of scheduleChurn(this.config.churn, this.config.durationMs)) {
      const spec = this.config.churn[ev.spec]!;
      this.at(ev.atMs, () => this.applyChurn(spec, ev.spec));
    }
    // The run's own deadline, so a lost stop message can never leave agents running.
    this.at(this.config.durationMs, () => this.stop());
    return this.done;
  }

  /** Resolves when stopped, with the final statistics. */
  get result(): Promise<RunnerResult> {
    return this.done;
  }

  command(cmd: RunnerCommand): void {
    if (cmd.type === 'stop') this.stop();
    else if (cmd.type === 'probe') this.setProbes(cmd);
    else if (cmd.type === 'watch') this.propagation?.watch(cmd.watches, this.runningAgents());
    else this.applyChurn(cmd.spec);
  }

  progress(): RunnerProgress {
    let started = 0;
    let connected = 0;
    let visible = 0;
    let failed = 0;
    for (const s of this.slots) {
      const a = s.agent;
      if (!a || !s.started) continue;
      started++;
      if (a.connected) connected++;
      // Only live agents: a stopped stream no longer tells whether its entry is still there.
      if (a.visible && a.connected) visible++;
      if (a.state === 'failed') failed++;
    }
    return {
      worker: this.worker,
      target: this.slots.length,
      started,
      connected,
      visible,
      failed,
      errors: totalErrors(this.stats.counters),
      bytesReceived: this.stats.counters.bytesReceived,
    };
  }

  /** Stops every agent, the observer and all timers; idempotent. */
  stop(): Promise<RunnerResult> {
    if (this.stopped) return this.done;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // Progress as it was while running, before the agents are torn down.
    const progress = this.progress();
    // Held clusters are read before the agents go: stopping clears them.
    const propagation = this.propagation?.record(this.runningAgents());
    let bytesSent = 0;
    for (const s of this.slots) {
      if (s.agent) {
        bytesSent += s.agent.bytesSent;
        s.agent.stop();
      }
    }
    this.observer?.stop();
    const mem = memorySample();
    this.stopResolve!({
      worker: this.worker,
      progress,
      counters: this.stats.counters,
      histograms: this.stats.encoded(),
      errorSamples: this.stats.errorSamples,
      bytesSent,
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, externalBytes: mem.external },
      elapsedMs: Date.now() - this.startedAt,
      ...(propagation ? { propagation } : {}),
    });
    return this.done;
  }

  /** Agents started and not parked (their streams may be up or coming back). */
  private runningAgents(): Agent[] {
    const out: Agent[] = [];
    for (const s of this.slots) if (s.agent && s.started && !s.parked) out.push(s.agent);
    return out;
  }

  private at(offsetMs: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, Math.max(0, this.startedAt + offsetMs - Date.now()));
    this.timers.add(t);
  }

  private rampTick(): void {
    if (this.stopped) return;
    const elapsed = Date.now() - this.startedAt;
    let started = 0;
    while (this.nextToStart < this.slots.length && this.slots[this.nextToStart]!.offsetMs <= elapsed && started < RAMP_CHUNK) {
      const pos = this.nextToStart++;
      const slot = this.slots[pos]!;
      if (pos >= this.activeLimit) slot.parked = true;
      else {
        this.startSlot(slot);
        started++;
      }
    }
    if (this.nextToStart < this.slots.length) {
      // More already due: continue after pending I/O (a 0 ms timer), not in this turn.
      const due = this.slots[this.nextToStart]!.offsetMs <= elapsed;
      const wait = due ? 0 : Math.max(RAMP_TICK_MS, this.slots[this.nextToStart]!.offsetMs - elapsed);
      this.at(elapsed + wait, () => this.rampTick());
    }
  }

  private startSlot(slot: Slot): void {
    const agent = slot.agent && !slot.started ? slot.agent : this.newAgent(slot);
    slot.agent = agent;
    slot.started = true;
    slot.parked = false;
    this.byIp.set(agent.identity.ip, agent);
    // Prepared agents were built before the run's clock started, so before its deadline was known.
    this.propagation?.started(agent, Date.now());
    agent.start(this.startedAt + this.config.durationMs);
    this.replayObserved(agent);
  }

  private newAgent(slot: Slot): Agent {
    const c = this.config;
    const probe = probeSettingsFor(c, slot.index);
    return new Agent({
      target: agentTarget(c, slot.index),
      ...this.transport,
      identity: agentIdentity(c, slot.index, slot.generation),
      index: slot.index,
      mode: c.mode,
      subscription: c.subscription,
      ...(c.nack ? { nack: c.nack } : {}),
      ...(probe ? { probe, probeOffsetMs: Math.floor(this.rng() * probe.periodMs) } : {}),
      backoff: c.backoff,
      connectTimeoutMs: c.connectTimeoutMs,
      keepaliveMs: c.keepaliveMs,
      keepaliveTimeoutMs: c.keepaliveTimeoutMs,
      deadline: this.startedAt + c.durationMs,
      watchSelf: c.watch === 'self',
      seed: c.seed,
      events: this.stats,
      ...(this.propagation ? { tap: this.tapFor(slot.index) } : {}),
    });
  }

  /** Every agent tells the tracker of its own changes; the sampled ones also what they receive. */
  private tapFor(index: number): NonNullable<AgentOptions['tap']> {
    const tracker = this.propagation!;
    const measured = this.measured(index);
    return {
      endpoints: (agent, cluster, cla, at, first) => {
        if (!measured) return;
        this.subscribers.add(agent);
        tracker.endpoints(agent, cluster, cla, at, first);
      },
      response: (agent, at) => {
        if (!measured) return;
        this.subscribers.add(agent);
        tracker.response(agent, at);
      },
      healthReported: (agent, healthy, at) => {
        // A flip of an agent already in EDS (not its first report): watched, a few at a time.
        if (agent.everVisible && tracker.activeFlips(at) < FLIP_WATCHES_PER_WORKER) {
          const w = tracker.watchFlip(agent, healthy, at, FLIP_WATCH_MS);
          if (w) this.onWatch?.([w]);
        }
        tracker.healthReported(agent, healthy, at);
      },
    };
  }

  // ---- churn --------------------------------------------------------------------------------

  private running(): Slot[] {
    return this.slots.filter((s) => s.agent && !s.parked && (s.agent.state === 'connected' || s.agent.state === 'connecting'));
  }

  /** `specIndex`: the spec's place in the config's churn list (absent for commands sent at run time). */
  private applyChurn(spec: ChurnSpec, specIndex?: number): void {
    if (this.stopped) return;
    switch (spec.kind) {
      case 'disconnect':
        for (const s of pickFraction(this.running(), spec.fraction, this.rng)) {
          // +-50% around `down`, so a periodic disconnect is not also a synchronized reconnect.
          s.agent!.disconnect(Math.round(spec.downMs * (0.5 + this.rng())));
          this.stats.counters.churn.disconnect++;
        }
        break;
      case 'storm':
        for (const s of pickFraction(this.running(), spec.fraction, this.rng)) {
          s.agent!.disconnect(spec.downMs);
          this.stats.counters.churn.storm++;
        }
        break;
      case 'ip-change':
        for (const s of pickFraction(this.running(), spec.fraction, this.rng)) {
          this.renew(s, spec.downMs);
          this.stats.counters.churn.ipChange++;
        }
        break;
      case 'flap':
        // Exactly round(fraction x count) of the whole fleet, the same choice in every worker.
        const flaps = seededSubset(this.config.seed, `flap:${specIndex ?? `${spec.atMs}:${spec.periodMs}:${spec.fraction}`}`, this.config.count, spec.fraction);
        for (const s of this.slots.filter((x) => flaps(x.index))) {
          // Agents not started yet get the model when they start: set it on the slot's agent later.
          const model = { kind: 'flapping' as const, periodMs: spec.periodMs, phaseMs: Math.floor(this.rng() * spec.periodMs) };
          if (s.agent) s.agent.setProbeModel(model);
          else this.pendingModels.set(s.index, model);
          this.stats.counters.churn.flap++;
        }
        break;
      case 'scale': {
        this.scaleTo(workerScaleLimit(this.config, this.indexes, spec.to));
        break;
      }
    }
  }

  /** New IP, new identity (the old entry is left to the server's grace period). */
  private renew(s: Slot, downMs: number): void {
    const agent = s.agent!;
    s.generation++;
    let next;
    try {
      next = agentIdentity(this.config, s.index, s.generation);
    } catch (err) {
      this.stats.error(s.index, 'gave-up', (err as Error).message);
      agent.stop();
      return;
    }
    this.byIp.delete(agent.identity.ip);
    this.byIp.set(next.ip, agent);
    agent.changeIdentity(next, downMs);
    this.replayObserved(agent);
  }

  private scaleTo(limit: number): void {
    const prev = this.activeLimit;
    this.activeLimit = limit;
    // Down: the newest agents go away (suspended; their entries expire after the grace period).
    for (let pos = limit; pos < Math.min(prev, this.slots.length); pos++) {
      const s = this.slots[pos]!;
      if (s.agent && s.started && !s.parked) {
        s.agent.suspend();
        s.parked = true;
        this.stats.counters.churn.scaleDown++;
      }
    }
    // Up: parked agents come back as new VMs (new IP), as an autoscaling group would create them.
    for (let pos = prev; pos < Math.min(limit, this.nextToStart); pos++) {
      const s = this.slots[pos]!;
      if (!s.parked) continue;
      this.stats.counters.churn.scaleUp++;
      if (!s.agent || !s.started) {
        this.startSlot(s);
        continue;
      }
      s.parked = false;
      this.renew(s, 0);
    }
  }

  // ---- observer -----------------------------------------------------------------------------

  private startObserver(deadline: number): void {
    const c = this.config;
    this.observer = new Agent({
      target: observerTarget(c),
      ...this.transport,
      // No group: the observer does not register; its IP is outside any agent generation.
      identity: { name: `xdsim-observer-${c.shardIndex}-${this.worker}`, namespace: c.namespace, ip: '127.0.0.1', clusterId: c.clusterId },
      index: -1 - this.worker,
      mode: c.mode,
      subscription: { cds: true },
      backoff: c.backoff,
      connectTimeoutMs: c.connectTimeoutMs,
      keepaliveMs: c.keepaliveMs,
      keepaliveTimeoutMs: c.keepaliveTimeoutMs,
      deadline,
      watchSelf: false,
      seed: c.seed,
      onEndpoints: (cluster, cla, at) => this.observe(cluster, cla, at),
    });
    this.observer.start();
  }

  private observe(cluster: string, cla: Uint8Array | undefined, at: number): void {
    const now = new Set<string>();
    if (cla) for (const ep of claEndpoints(cla)) if (this.byIp.has(ep.address)) now.add(ep.address);
    const before = this.observed.get(cluster) ?? new Set<string>();
    for (const ip of now) if (!before.has(ip)) this.byIp.get(ip)?.setPresence(cluster, true, at);
    for (const ip of before) if (!now.has(ip)) this.byIp.get(ip)?.setPresence(cluster, false, at);
    if (now.size > 0) this.observed.set(cluster, now);
    else this.observed.delete(cluster);
  }

  /** Makes the selected agents' simulated probes pass or fail from their next probe on. */
  private setProbes(cmd: ProbeCommand): void {
    if (this.stopped) return;
    const chosen = new Set(probeCommandTargets(this.config, cmd));
    const model: ProbeModel = cmd.healthy ? { kind: 'healthy' } : { kind: 'unhealthy' };
    for (const s of this.slots) {
      if (!chosen.has(s.index)) continue;
      if (s.agent) s.agent.setProbeModel(model);
      else this.pendingModels.set(s.index, model);
    }
  }

  /** An agent that starts (or changes IP) after the observer already saw its IP. */
  private replayObserved(agent: Agent): void {
    const pending = this.pendingModels.get(agent.index);
    if (pending) {
      agent.setProbeModel(pending);
      this.pendingModels.delete(agent.index);
    }
    if (!this.observer) return;
    for (const [cluster, ips] of this.observed) if (ips.has(agent.identity.ip)) agent.setPresence(cluster, true);
  }
}

/** Credentials, SNI and the bearer token for a fleet's agents, from the paths in its config. */
function transportFor(c: FleetConfig): Pick<AgentOptions, 'credentials' | 'channelOptions' | 'callMetadata'> {
  const out: Pick<AgentOptions, 'credentials' | 'channelOptions' | 'callMetadata'> = {};
  if (c.tls) {
    out.credentials = channelCredentials(c.tls);
    out.channelOptions = tlsChannelOptions(c.tls);
  }
  const token = c.token ?? (c.tokenFile ? readFileSync(c.tokenFile, 'utf8').trim() : undefined);
  if (token) out.callMetadata = { authorization: `Bearer ${token}` };
  return out;
}
