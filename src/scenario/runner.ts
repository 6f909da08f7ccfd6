// Runs a scenario end to end: the embedded control plane (loopback, any free port) with
// auto-registration, the fleet, the timeline, sampling for the report's charts, and the
// expectations at their times. Everything is bounded: the fleet by its duration, the grace-period
// wait by a deadline, shutdown by the server's own close grace.
import { memorySample, safeRss } from '../util/memory.js';
import { cpus } from 'node:os';
import { pino, type Logger } from 'pino';
import { keyOf, type WorkloadGroup } from '../config/resources.js';
import type { ControlPlane } from '../server/control-plane.js';
import { stdioSink } from '../server/log-sink.js';
import type { FleetSummary } from '../fleet/summary.js';
import { ANNOTATION_AUTO_REGISTRATION_GROUP } from '../registration/annotations.js';
import { CLEANUP_PER_SECOND } from '../registration/cleanup-queue.js';
import { encodeHistogram, newHistogram, recordMs, summarize, type LatencySummary } from '../report/histogram.js';
import { REPORT_KIND, REPORT_VERSION, type ClientConvergence, type ExpectationResult, type RunReport, type Series, type TimelineRecord, type TrafficSeries } from '../report/types.js';
import { channelCredentials, tlsChannelOptions } from '../security/tls.js';
import { cpuClock } from './cpu.js';
import { evaluatePoint, evaluateTotals, isPointExpectation, type PointObservation, type RunTotals } from './expectations.js';
import { PROPAGATION_SUBSCRIBERS, setServiceAccount, type FleetDriver } from './fleet-driver.js';
import { changeConvergence, type ChangeKind } from '../fleet/propagation.js';
import { ChildProcessFleet } from './fleet-process.js';
import { markHealth } from './health-marks.js';
import { endpointsProxy, lbSharesProxy, Observers, type ClusterObserver } from './observer.js';
import { ShareSampler } from './share-sampler.js';
import type { Expectation, Scenario, TimelineEvent } from './model.js';
import { totalAgents } from './model.js';
import { EmbeddedTarget } from './embedded-target.js';
import { RemoteTarget, type ControlPlaneTarget, type RemoteTargetSpec } from './target.js';
import { TargetMetrics, type TargetMetricsSummary } from './target-metrics.js';
import { RelayHost } from '../network/relay-host.js';
import { emptyLinkStats, type LinkStats } from '../network/link-relay.js';
import { xdsTargets } from '../fleet/config.js';
import { describeShape } from '../network/link-shape.js';
import type { NetworkLinkReport } from '../report/types.js';

export interface LiveSample {
  tMs: number;
  durationMs: number;
  phase: 'starting' | 'running' | 'stopping' | 'grace';
  target: number;
  connected: number;
  registered: number;
  pushes: number;
  convergenceP99Ms: number | null;
  cpuPercent: number;
  rssBytes: number;
  errors: number;
}

export interface RunOptions {
  sampleIntervalMs?: number;
  onSample?: (s: LiveSample) => void;
  /** Timeline events and expectation results as they happen. */
  onEvent?: (line: string) => void;
  /** After each sample: every lbShares proxy's traffic so far (the live report view). */
  onTraffic?: (t: readonly TrafficSeries[]) => void;
  /** Called with the running control plane before any agent connects (tests break things here). */
  onControlPlane?: (cp: ControlPlane) => void | Promise<void>;
  /** Replaces the real fleet, which runs in a child process (tests). */
  fleetFactory?: (xds: string, s: Scenario) => FleetDriver;
  /** Total fleet worker threads (default: the scenario's, else 1). */
  workers?: number;
  logLevel?: string;
  /** Aborting ends the run early (Ctrl-C); the report covers what ran. */
  signal?: AbortSignal;
  /** Run against this control plane instead of the scenario's (`--target`); default: embedded. */
  target?: RemoteTargetSpec;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

async function counterTotal(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values.reduce((s, v) => s + v.value, 0);
}

export async function runScenario(s: Scenario, opts: RunOptions = {}): Promise<RunReport> {
  // A fleet process that dies mid-run ends the run at once (its agents are gone), as an
  // interruption does, instead of the timeline running on against a frozen fleet.
  const fleetDied = new AbortController();
  opts = { ...opts, signal: opts.signal ? AbortSignal.any([opts.signal, fleetDied.signal]) : fleetDied.signal };
  const interval = opts.sampleIntervalMs ?? 1000;
  const emit = opts.onEvent ?? (() => {});
  const startedAt = new Date();
  const wallStart = performance.now();
  const notes: string[] = [];
  // Logs go to stderr: stdout carries the table or the JSON report. Not pino.destination({ sync: true }):
  // it sleeps and retries inside the log call while stderr's reader is not reading (log-sink.ts).
  const log: Logger = pino({ name: 'xdsim', level: opts.logLevel ?? 'warn', base: undefined }, stdioSink(2));

  const remoteSpec = opts.target ?? s.controlPlane.target;
  let target: ControlPlaneTarget;
  if (remoteSpec) {
    target = new RemoteTarget(remoteSpec);
    // The mesh and the groups reach a remote control plane the way timeline config does.
    if (target.configRoute) {
      const r = await target.apply(s.resources.map((l) => l.resource));
      notes.push(`target ${target.name}: the scenario's mesh and groups (${target.configRoute}): ${r}`);
    } else {
      notes.push(`target ${target.name}: no apply URL or command, so the scenario's mesh and groups must be there already`);
    }
  } else {
    target = await EmbeddedTarget.start(
      s.resources.map((l) => l.resource),
      s.controlPlane,
      log,
    );
  }
  // Only an in-process control plane shows its store, pushes and metrics; any other is seen
  // through the agents and observers.
  const cp: ControlPlane | undefined = target instanceof EmbeddedTarget ? target.cp : undefined;
  // Pending controller writes are flushed before anything looks at the store.
  const controller = { flush: () => cp?.workloadEntries?.flush() };

  // Auto-registered entries, counted from store events rather than listing thousands each sample.
  const registeredKeys = new Set<string>();
  // Manifests may already hold auto-registered entries (a restored state, a copied manifest).
  for (const we of cp?.store.list('WorkloadEntry') ?? []) if (we.metadata.annotations?.[ANNOTATION_AUTO_REGISTRATION_GROUP]) registeredKeys.add(keyOf(we));
  let registeredPeak = registeredKeys.size;
  const unsubscribeStore = cp?.store.subscribe((batch) => {
    for (const ev of batch) {
      if (ev.resource.kind !== 'WorkloadEntry') continue;
      if (ev.type !== 'deleted' && ev.resource.metadata.annotations?.[ANNOTATION_AUTO_REGISTRATION_GROUP]) registeredKeys.add(ev.key);
      else registeredKeys.delete(ev.key);
    }
    registeredPeak = Math.max(registeredPeak, registeredKeys.size);
  });

  // Registered entries: the embedded store's, else the agents that see themselves in EDS.
  const registeredNow = (visible: number): number => {
    if (cp) return registeredKeys.size;
    registeredPeak = Math.max(registeredPeak, visible);
    return visible;
  };

  // Per push: first change -> last affected stream ACKed. Pushes nobody needed are not latency.
  const convergence = newHistogram();
  let intervalHist = newHistogram();
  let pushes = 0;
  let pushNacks = 0;
  let pushesInInterval = 0;
  /** Per converged push: when its first change came (epoch ms) and how long it took. */
  const pushLog: { startedAt: number; ms: number }[] = [];
  /** When the agents were told to stop: pushes that begin later (the cleanup's) are not the run's. */
  let stopRequestedAt = Infinity;
  const unsubscribePush = cp?.xds.engine.onPushDone((p) => {
    if (p.streamsSent === 0) return;
    // The grace period's deletions after the run keep the debouncer merging for up to
    // debounceMax: those pushes reach only observers and measure the cleanup, not the run.
    if (Date.now() - (p.convergedMs ?? 0) >= stopRequestedAt) return;
    pushes++;
    pushesInInterval++;
    pushNacks += p.nacks;
    if (p.convergedMs !== undefined) {
      recordMs(convergence, p.convergedMs);
      recordMs(intervalHist, p.convergedMs);
      pushLog.push({ startedAt: Date.now() - p.convergedMs, ms: p.convergedMs });
    }
  });

  if (cp) await opts.onControlPlane?.(cp);
  const xds = target.xds;
  const groupsEver = [...s.resources.map((l) => l.resource), ...s.timeline.flatMap((t) => (t.action.kind === 'apply' ? t.action.resources.map((l) => l.resource) : []))];
  const tokens: Record<string, string> = {};
  const groups = new Map<string, WorkloadGroup>();
  for (const r of groupsEver) if (r.kind === 'WorkloadGroup') groups.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
  /** Whether every agent set a selector picks probes (its group has a probe): health then goes through the agents. */
  const agentsProbe = (group: string | undefined): boolean => {
    const sets = s.fleet.agents.filter((a) => !group || `${a.namespace}/${a.group}` === group);
    return sets.length > 0 && sets.every((a) => !!groups.get(`${a.namespace}/${a.group}`)?.spec.probe);
  };
  {
    for (const set of s.fleet.agents) {
      const sa = setServiceAccount(set, groups.get(`${set.namespace}/${set.group}`));
      const token = tokens[`${set.namespace}/${sa}`] ?? (await target.token(set.namespace, sa));
      if (token) tokens[`${set.namespace}/${sa}`] = token;
    }
  }
  // The network block's links: one relay each, all in one worker thread off this event loop,
  // forwarding to whatever address the target has (TLS passes through: it is plain TCP).
  let relays: RelayHost | undefined;
  let relayAddresses: Record<string, string> = {};
  if (s.network) {
    try {
      const started = await RelayHost.start(
        xdsTargets({ xds })[0]!,
        s.network.links.map((l, i) => ({ name: l.name, shape: l.shape, seed: s.fleet.seed + 1000 + i })),
      );
      relays = started.host;
      relayAddresses = started.addresses;
    } catch (err) {
      unsubscribePush?.();
      unsubscribeStore?.();
      await target.close();
      throw err;
    }
  }
  const fleetOptions = {
    xds,
    ...(s.network ? { links: s.network.links.map((l) => ({ ...l.select, xds: relayAddresses[l.name]! })) } : {}),
    ...(target.transport ? { tls: target.transport } : {}),
    fleet: s.fleet,
    groups: groupsEver,
    tokens,
    restores: s.timeline.filter((t) => t.action.kind === 'restore').length,
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
  };
  const fleet = opts.fleetFactory?.(xds, s) ?? new ChildProcessFleet(fleetOptions);
  fleet.onDeath?.((why) => {
    notes.push(`${why}: the run stopped there, its agents gone`);
    emit(`${why}: stopping the run`);
    fleetDied.abort();
  });

  // Expectations the scenario keeps to the other kind of target are reported as skipped.
  const expectations = s.expectations.filter((x) => !x.onlyAgainst || x.onlyAgainst === target.kind);
  const skipped = s.expectations.filter((x) => !expectations.includes(x));
  // What a proxy receives: lbShares / endpoints expectations read their observer's stream, not
  // the server's state. A token per namespace when the control plane verifies them.
  const observers = new Observers({
    xds,
    token: (ns: string) => target.token(ns, 'default'),
    ...(target.transport ? { credentials: channelCredentials(target.transport), channelOptions: tlsChannelOptions(target.transport) } : {}),
  });
  const observerOf = new Map<Expectation, ClusterObserver>();
  for (const x of expectations) {
    if (x.spec.kind === 'lbShares') observerOf.set(x, observers.add(x.spec.cluster, lbSharesProxy(x.spec)));
    else if (x.spec.kind === 'endpoints') observerOf.set(x, observers.add(x.spec.cluster, endpointsProxy(x.spec.cluster)));
  }
  const traffic = new ShareSampler(s.expectations, observerOf, opts.onTraffic);
  // After a timeline action, observed checks wait for the push: the debounce, then a quiet stream.
  const settleAfterActionMs = Math.min(s.controlPlane.debounceMaxMs, 2 * s.controlPlane.debounceAfterMs) + 300;
  let lastActionAt = 0;

  const cpu = cpuClock(!(fleet instanceof ChildProcessFleet));
  const series: Series = {
    intervalMs: interval,
    t: [],
    connected: [],
    streams: [],
    registered: [],
    pushesPerSec: [],
    convergenceP50Ms: [],
    convergenceP90Ms: [],
    convergenceP99Ms: [],
    cpuPercent: [],
    rssBytes: [],
    heapUsedBytes: [],
  };
  const timeline: TimelineRecord[] = [];
  const results: ExpectationResult[] = [];
  let t0 = Date.now();
  let phase: LiveSample['phase'] = 'starting';
  let cpuPrev = cpu.read();
  let cpuPrevAt = performance.now();
  let cpuSeconds0 = cpuPrev;
  let cpuPeak = 0;
  let rssPeak = 0;
  let heapPeak = 0;
  let extraErrors = 0;
  let connectedPeak = 0;
  let fleetStopped = false;
  let lastSampleAt = performance.now();

  const sample = (): void => {
    try {
      takeSample();
    } catch (err) {
      // A failed sample (e.g. out of file descriptors) must not take the run down.
      notes.push(`sampling failed at ${((Date.now() - t0) / 1000).toFixed(1)}s: ${(err as Error).message}`);
    }
  };
  const takeSample = (): void => {
    const now = performance.now();
    const dt = Math.max(1, now - lastSampleAt);
    lastSampleAt = now;
    const c = cpu.read();
    // The t=0 sample has no interval behind it: no rate to report yet.
    const cpuPct = now - cpuPrevAt < 50 ? 0 : ((c - cpuPrev) / ((now - cpuPrevAt) / 1000)) * 100;
    cpuPrev = c;
    cpuPrevAt = now;
    const mem = memorySample();
    const h = intervalHist.totalCount ? summarize(intervalHist) : undefined;
    intervalHist = newHistogram();
    const fp = fleet.progress();
    // Once stopped, the fleet's progress is frozen at its last running state.
    const connected = fleetStopped ? 0 : fp.connected;
    connectedPeak = Math.max(connectedPeak, connected);
    cpuPeak = Math.max(cpuPeak, cpuPct);
    rssPeak = Math.max(rssPeak, mem.rss);
    heapPeak = Math.max(heapPeak, mem.heapUsed);
    series.t.push(Date.now() - t0);
    series.connected.push(connected);
    series.streams.push(cp ? cp.xds.connections.size : connected + observers.size);
    series.registered.push(registeredNow(fp.visible));
    series.pushesPerSec.push(dt < 50 ? 0 : +((pushesInInterval * 1000) / dt).toFixed(2));
    pushesInInterval = 0;
    series.convergenceP50Ms.push(h ? h.p50Ms : null);
    series.convergenceP90Ms.push(h ? h.p90Ms : null);
    series.convergenceP99Ms.push(h ? h.p99Ms : null);
    series.cpuPercent.push(+cpuPct.toFixed(1));
    series.rssBytes.push(mem.rss);
    series.heapUsedBytes.push(mem.heapUsed);
    traffic.sample(series.t[series.t.length - 1]!);
    opts.onSample?.({
      tMs: Date.now() - t0,
      durationMs: s.fleet.durationMs,
      phase,
      target: fp.target,
      connected,
      registered: registeredNow(fp.visible),
      pushes,
      convergenceP99Ms: h ? h.p99Ms : null,
      cpuPercent: cpuPct,
      rssBytes: mem.rss,
      errors: fp.errors + extraErrors,
    });
  };

  // This run's groups' auto-registered entries among a key list (the target may hold others).
  const ours = (keys: string[] | undefined) => keys?.filter((k) => s.fleet.agents.some((a) => k.startsWith(`WorkloadEntry/${a.namespace}/${a.group}-`)));
  const observe = (o: ClusterObserver | undefined, registered?: number): PointObservation => ({
    atMs: Date.now() - t0,
    connected: fleet.progress().connected,
    registered: registered ?? registeredNow(fleet.progress().visible),
    endpointCount: () => o?.endpointCount(),
    lbShares: (spec) => o?.lbShares(spec) ?? { error: 'no observer for this expectation' },
  });
  const check = async (x: Expectation): Promise<void> => {
    // Pending auto-registration writes land first, so a check sees what the controller decided.
    controller.flush();
    const o = observerOf.get(x);
    if (o && Date.now() - lastActionAt < settleAfterActionMs + 2000) {
      // Right after an action only: a busy run (agents arriving, flapping) is never quiet.
      const since = Date.now() - lastActionAt;
      if (since < settleAfterActionMs) await sleep(settleAfterActionMs - since, opts.signal);
      await observers.settle(100, 1000);
    }
    // Another control plane's entries, from its debug API when it has one: an entry that is
    // registered but not (yet) healthy is in no agent's EDS.
    let registered: number | undefined;
    if (!cp && x.spec.kind === 'registered') {
      registered = (await target.autoRegisteredEntries().then(ours, (err: Error) => (notes.push(`${target.name}'s debug API failed: ${err.message}`), undefined)))?.length;
      if (registered !== undefined) registeredPeak = Math.max(registeredPeak, registered);
    }
    const r = evaluatePoint(x, observe(o, registered));
    results.push(r);
    emit(`${(r.atMs! / 1000).toFixed(1)}s ${r.pass ? 'PASS' : 'FAIL'} ${r.name}: ${r.detail}`);
  };

  const runEvent = async (e: TimelineEvent): Promise<void> => {
    const ranAtMs = Date.now() - t0;
    lastActionAt = Date.now();
    let result = '';
    let ok = true;
    try {
      const a = e.action;
      controller.flush();
      switch (a.kind) {
        case 'apply': {
          const at = Date.now();
          result = await target.apply(a.resources.map((l) => l.resource));
          fleet.configChanged(at, e.label);
          break;
        }
        case 'delete': {
          const at = Date.now();
          const d = await target.delete(a.keys);
          fleet.configChanged(at, e.label);
          result = d.result;
          if (d.missing.length) notes.push(`timeline ${e.label}: not found: ${d.missing.join(', ')}`);
          break;
        }
        case 'unhealthy':
        case 'healthy': {
          if (!cp || agentsProbe(a.selector.group)) {
            // The control plane hears it from the agents: their probes fail or pass, and the
            // health report travels over xDS as from a real VM.
            result = await fleet.act(a.kind, a.selector);
            // Entries no agent stands behind (static WorkloadEntries of the mesh) are marked in
            // the embedded store, as a health check outside the mesh would; a whole locality only.
            if (cp && !a.selector.group && a.selector.count === undefined && a.selector.fraction === undefined) {
              const m = markHealth(cp.store, a.selector, a.kind === 'healthy', new Date(), true);
              if (m.selected) result += `; ${m.changed} of ${m.selected} static entr(ies) marked ${a.kind}`;
            }
            break;
          }
          // Agents without a probe have no health to report: the embedded store is marked instead.
          const m = markHealth(cp.store, a.selector, a.kind === 'healthy');
          result = `${m.changed} of ${m.selected} selected entr(ies) marked ${a.kind}`;
          if (m.selected === 0) notes.push(`timeline ${e.label}: selected no WorkloadEntry`);
          break;
        }
        case 'restore': {
          const parts: string[] = [];
          if (a.selector.locality === undefined) parts.push(await fleet.act('restore', a.selector));
          if (cp && !agentsProbe(a.selector.group)) {
            const m = markHealth(cp.store, a.selector, true);
            parts.push(`${m.changed} entr(ies) healthy again`);
          } else {
            parts.push(await fleet.act('healthy', a.selector));
          }
          result = parts.join('; ');
          break;
        }
        case 'drop':
        case 'reconnect':
          result = await fleet.act(a.kind, a.selector);
          break;
        case 'partition':
          if (!relays) throw new Error('no network links running');
          result = await relays.partition(a.link, a.direction);
          break;
        case 'heal':
          if (!relays) throw new Error('no network links running');
          result = await relays.heal(a.link);
          break;
      }
    } catch (err) {
      ok = false;
      extraErrors++;
      result = `failed: ${(err as Error).message}`;
      notes.push(`timeline ${e.label} failed: ${(err as Error).message}`);
    }
    timeline.push({ atMs: e.atMs, label: e.label, ranAtMs, result, ok });
    emit(`${(ranAtMs / 1000).toFixed(1)}s ${e.label}: ${result}`);
  };

  const targetMetrics = target.metricsUrl ? new TargetMetrics(target.metricsUrl, { intervalMs: 5000 }) : undefined;
  let targetFigures: TargetMetricsSummary | undefined;
  let summary: FleetSummary | undefined;
  let leakedEntries: number | null = null;
  let registeredAtEnd = 0;
  let sampler: NodeJS.Timeout | undefined;
  let linkStats: LinkStats[] = [];
  try {
    if (observers.size > 0) {
      // Bounded: a control plane that never answers shows in the expectations' details.
      const started = await observers.start(10_000);
      if (started.ready < started.total) notes.push(`${started.total - started.ready} of ${started.total} observer(s) had no answer for their cluster within 10s`);
    }
    t0 = await fleet.start();
    // The target's own figures (istiod's convergence histogram, pushes, CPU, RSS), when it shows them.
    await targetMetrics?.start();
    phase = 'running';
    cpuSeconds0 = cpu.read();
    cpuPrev = cpuSeconds0;
    cpuPrevAt = performance.now();
    lastSampleAt = performance.now();
    // Rates start at t=0: what happened while the fleet's threads started is not part of the run.
    pushesInInterval = 0;
    intervalHist = newHistogram();
    sample();
    sampler = setInterval(sample, interval);

    // Timeline and timed checks share one ordered schedule; at equal times actions run first.
    type Step = { atMs: number; order: number; run: () => void | Promise<void> };
    const steps: Step[] = [
      ...s.timeline.map((e, i) => ({ atMs: e.atMs, order: i, run: () => runEvent(e) })),
      ...expectations.filter((x) => x.atMs !== undefined && isPointExpectation(x.spec)).map((x, i) => ({ atMs: x.atMs!, order: 100_000 + i, run: () => check(x) })),
    ].sort((a, b) => a.atMs - b.atMs || a.order - b.order);
    for (const step of steps) {
      // A timer may fire a millisecond before Date.now() says it is due: wait out the rest, so
      // no step runs before its time (the report's ranAtMs >= atMs).
      do await sleep(t0 + step.atMs - Date.now(), opts.signal);
      while (Date.now() - t0 < step.atMs && !opts.signal?.aborted);
      if (opts.signal?.aborted) break;
      await step.run();
    }
    await sleep(t0 + s.fleet.durationMs - Date.now(), opts.signal);
    if (opts.signal?.aborted) notes.push('run interrupted before the end of its duration');

    // End-of-run checks look at the still-running fleet.
    controller.flush();
    registeredAtEnd = registeredNow(fleet.progress().visible);
    for (const x of expectations) if (x.atMs === undefined && isPointExpectation(x.spec)) await check(x);
    phase = 'stopping';
    stopRequestedAt = Date.now();
    summary = await fleet.stop();
    fleetStopped = true;

    const remoteEntries = cp ? undefined : ours(await target.autoRegisteredEntries().catch((err: Error) => (notes.push(`${target.name}'s debug API failed: ${err.message}`), undefined)));
    if (!cp && expectations.some((x) => x.spec.kind === 'leakedEntries') && remoteEntries === undefined) {
      notes.push(`leaked entries are not measured against ${target.name}: it shows no WorkloadEntries (give its debug API: --debug-url)`);
    } else if (!cp && expectations.some((x) => x.spec.kind === 'leakedEntries') && !opts.signal?.aborted) {
      // Another control plane's entries come from its debug API, polled until its grace period
      // (the scenario's controlPlane.gracePeriod says what the target's is) has removed them.
      phase = 'grace';
      const stoppedAt = Date.now();
      // istiod deletes 20 entries a second after the grace period (cleanup-queue.ts).
      const deadline = stoppedAt + 2 * Math.max(1000, s.controlPlane.gracePeriodMs) + ((remoteEntries?.length ?? 0) * 1000) / CLEANUP_PER_SECOND + 5000;
      emit(`${((stoppedAt - t0) / 1000).toFixed(1)}s agents stopped; polling ${target.name} up to ${((deadline - stoppedAt) / 1000).toFixed(0)}s for its grace period to remove their entries`);
      let left = remoteEntries ?? [];
      while (Date.now() < deadline && !opts.signal?.aborted && left.length > 0) {
        await sleep(500, opts.signal);
        left = ours(await target.autoRegisteredEntries().catch(() => undefined)) ?? left;
      }
      leakedEntries = left.length;
      if (left.length) notes.push(`left on ${target.name} after its grace period: ${left.slice(0, 5).join(', ')}${left.length > 5 ? `, ... (${left.length - 5} more)` : ''}`);
    } else if (expectations.some((x) => x.spec.kind === 'leakedEntries') && !opts.signal?.aborted) {
      phase = 'grace';
      const stoppedAt = Date.now();
      // Deletion is timed per entry at the grace period; the sweep (every grace period) is the backstop.
      // Deletion is rate-limited as istiod's is (cleanup-queue.ts): 20 entries a second.
      const deadline = stoppedAt + 2 * Math.max(1000, s.controlPlane.gracePeriodMs) + (registeredKeys.size * 1000) / (s.controlPlane.cleanupPerSecond ?? CLEANUP_PER_SECOND) + 2000;
      emit(`${((stoppedAt - t0) / 1000).toFixed(1)}s agents stopped; waiting up to ${((deadline - stoppedAt) / 1000).toFixed(0)}s for the grace period to remove their entries`);
      while (Date.now() < deadline && !opts.signal?.aborted) {
        controller.flush();
        if (registeredKeys.size === 0 && Date.now() - stoppedAt > 500) break;
        await sleep(250, opts.signal);
      }
      controller.flush();
      leakedEntries = registeredKeys.size;
    }
    sample();
    targetFigures = await targetMetrics?.finish();
    if (targetFigures?.failedScrapes) notes.push(`${targetFigures.failedScrapes} of ${targetFigures.scrapes + targetFigures.failedScrapes} scrape(s) of ${targetFigures.url} failed${targetFigures.lastError ? ` (last: ${targetFigures.lastError})` : ''}`);
  } finally {
    if (sampler) clearInterval(sampler);
    // A run that failed before its end still stops the scraper (one last bounded scrape).
    if (targetMetrics && !targetFigures) await targetMetrics.finish().catch(() => undefined);
    observers.stop();
    if (!summary) summary = await fleet.stop().catch(() => undefined);
    // After the fleet: the relays' connections go with their agents. Always closed, bounded.
    if (relays) linkStats = await relays.close().catch(() => []);
    unsubscribePush?.();
    unsubscribeStore?.();
    await target.close();
  }

  const rejects = cp ? await Promise.all(Object.values(cp.metrics.rejects).map((c) => counterTotal(c))) : [];
  const serverNacks = rejects.reduce((a, b) => a + b, 0);
  const rejected = cp ? await counterTotal(cp.metrics.rejectedRequests) : 0;
  const pushesByType: Record<string, number> = {};
  if (cp) for (const v of (await cp.metrics.pushes.get()).values) pushesByType[String(v.labels['type'])] = v.value;

  const errorsByKind: Record<string, number> = {};
  if (summary) for (const [k, n] of Object.entries(summary.counters.errors)) if (n > 0) errorsByKind[`agent ${k}`] = n;
  if (rejected > 0) errorsByKind['server rejected requests'] = rejected;
  if (extraErrors > 0) errorsByKind['timeline'] = extraErrors;
  const errors = Object.values(errorsByKind).reduce((a, b) => a + b, 0);
  if (summary?.errorSamples.length) {
    // A few distinct examples say more than the counts alone.
    const samples = [...new Set(summary.errorSamples.map((e) => `${e.kind}: ${e.detail}`))].slice(0, 5);
    notes.push(`agent errors, for example: ${samples.join('; ')}`);
  }
  const nacks = Math.max(serverNacks, pushNacks, summary?.counters.nacks ?? 0);

  const conv = summarize(convergence);
  // Client side: per change, the time until every agent subscribed to it held it.
  const changes = summary?.propagation ? changeConvergence(summary.propagation) : undefined;
  const clientBetween = (fromMs: number, untilMs: number, kind?: ChangeKind): ReturnType<typeof newHistogram> => {
    const h = newHistogram();
    for (const c of changes ?? []) if (c.ms !== undefined && c.at - t0 >= fromMs && c.at - t0 < untilMs && (!kind || c.kind === kind)) recordMs(h, c.ms);
    return h;
  };
  let clientConvergence: ClientConvergence | undefined;
  if (changes) {
    const all = clientBetween(-Infinity, Infinity);
    const byKind: ClientConvergence['byKind'] = {};
    for (const k of ['registration', 'health', 'config'] as const) {
      const h = clientBetween(-Infinity, Infinity, k);
      if (h.totalCount > 0) byKind[k] = { ...summarize(h), histogram: encodeHistogram(h) };
    }
    const incomplete = changes.filter((c) => c.reached < c.subscribers);
    clientConvergence = { all: { ...summarize(all), histogram: encodeHistogram(all) }, byKind, changes: changes.length, incomplete: incomplete.length, subscribersPerSet: PROPAGATION_SUBSCRIBERS };
    if (incomplete.length) {
      const ex = incomplete.slice(0, 3).map((c) => `${c.kind} at ${((c.at - t0) / 1000).toFixed(1)}s reached ${c.reached} of ${c.subscribers}`);
      notes.push(`${incomplete.length} watched change(s) had not reached every subscribed agent when the run ended (${ex.join('; ')})`);
    }
  }
  const totals: RunTotals = {
    convergence: conv,
    convergenceBetween: (fromMs, untilMs) => {
      const h = newHistogram();
      for (const p of pushLog) if (p.startedAt - t0 >= fromMs && p.startedAt - t0 < untilMs) recordMs(h, p.ms);
      return summarize(h);
    },
    nacks,
    errors,
    errorsByKind,
    leakedEntries,
    serverPushesSeen: !!cp,
    ...(changes ? { clientConvergenceBetween: (fromMs: number, untilMs: number) => summarize(clientBetween(fromMs, untilMs)) } : {}),
  };
  for (const x of expectations) if (!isPointExpectation(x.spec)) results.push(evaluateTotals(x, totals));
  for (const x of skipped) {
    results.push({ name: x.name, kind: x.spec.kind, pass: true, skipped: true, detail: `not checked against ${target.name}: the scenario keeps it to ${x.onlyAgainst === 'embedded' ? 'the embedded xdsim' : 'other control planes'}`, line: x.line });
  }
  // Report order follows the file.
  const order = new Map(s.expectations.map((x, i) => [x.name, i]));
  results.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));

  const wallMs = performance.now() - wallStart;
  const runSeconds = Math.max(0.001, (Date.now() - t0) / 1000);
  const cpuSeconds = cpu.read() - cpuSeconds0;
  const fleetLatency = (m: 'connect' | 'edsVisible'): (LatencySummary & { histogram: string }) | undefined => {
    const l = summary?.latency[m];
    return l && summary ? { count: l.count, p50Ms: l.p50Ms, p90Ms: l.p90Ms, p99Ms: l.p99Ms, maxMs: l.maxMs, meanMs: l.meanMs, histogram: summary.histograms[m] } : undefined;
  };
  const agents: RunReport['agents'] = { total: totalAgents(s.fleet), registered: registeredAtEnd, registeredPeak, connectedPeak };
  if (summary) agents.visibleInEds = summary.agents.registered;
  if (summary) agents.healthReports = { ...summary.counters.healthReports };
  const connect = fleetLatency('connect');
  if (connect) agents.connect = connect;
  const eds = fleetLatency('edsVisible');
  if (eds) agents.edsVisible = eds;
  return {
    kind: REPORT_KIND,
    version: REPORT_VERSION,
    scenario: { name: s.name, file: s.file, description: s.description },
    target: { kind: target.kind, name: target.name, xds: target.xds },
    startedAt: startedAt.toISOString(),
    wallMs: Math.round(wallMs),
    durationMs: s.fleet.durationMs,
    host: { node: process.version, platform: process.platform, arch: process.arch, cpus: cpus().length },
    shards: 1,
    pass: results.every((r) => r.pass),
    agents,
    convergence: { ...conv, histogram: encodeHistogram(convergence) },
    ...(clientConvergence ? { clientConvergence } : {}),
    ...(targetFigures ? { targetMetrics: targetFigures } : {}),
    pushes,
    pushesByType,
    nacks,
    errors,
    errorsByKind,
    leakedEntries,
    server: {
      cpu: { seconds: +cpuSeconds.toFixed(2), avgPercent: +((cpuSeconds / runSeconds) * 100).toFixed(1), peakPercent: +cpuPeak.toFixed(1), scope: cpu.scope },
      rssBytes: rssPeak || safeRss(),
      rssBytesEnd: safeRss(),
      heapUsedBytes: heapPeak,
    },
    timeline,
    ...(s.network ? { network: { links: networkReport(s, linkStats) } } : {}),
    series,
    ...(traffic.size ? { traffic: traffic.series()! } : {}),
    expectations: results,
    notes,
  };
}

/** The network block's links with their relays' figures (zeros for a relay that gave none). */
function networkReport(s: Scenario, stats: LinkStats[]): NetworkLinkReport[] {
  return (s.network?.links ?? []).map((l) => {
    const { open: _open, cut: _cut, ...figures } = stats.find((x) => x.name === l.name) ?? emptyLinkStats(l.name);
    return { ...figures, select: { ...l.select }, shape: describeShape(l.shape) };
  });
}
