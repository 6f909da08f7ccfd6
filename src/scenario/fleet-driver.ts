// The scenario's agents, driven through the fleet (src/fleet): one Fleet per agent set, started
// together, steered by timeline actions (drop, restore, reconnect) through the fleet's churn
// commands, and stopped by the runner so expectations can look at a still-running fleet.
// The runner talks to the small FleetDriver interface only, so tests can put a fake behind it.
import type { ReadinessProbe, Resource, WorkloadGroup } from '../config/resources.js';
import type { ChurnSpec } from '../fleet/churn.js';
import { agentIdentity, fleetConfig, type FleetConfig, type FleetProbe } from '../fleet/config.js';
import type { ChangeWatch } from '../fleet/propagation.js';
import type { ClientTlsOptions } from '../security/tls.js';
import { Fleet, type FleetProgress } from '../fleet/fleet.js';
import { probeCommandTargets } from '../fleet/runner.js';
import { formatIpv4, parseAgentLocality, parseIpv4 } from '../fleet/parse.js';
import { mergeSummaries, type FleetSummary } from '../fleet/summary.js';
import type { AgentSelector, AgentSetSpec, FleetSpec } from './model.js';
import { totalAgents } from './model.js';

export interface FleetDriverProgress {
  target: number;
  started: number;
  connected: number;
  /** Agents whose own IP is in EDS. */
  visible: number;
  failed: number;
  errors: number;
}

/** What a timeline step asks of the agents: `unhealthy` / `healthy` make their probes fail / pass. */
export type FleetAction = 'drop' | 'restore' | 'reconnect' | 'unhealthy' | 'healthy';

export interface FleetDriver {
  /** Starts every agent set; resolves with the fleet's t=0 (epoch ms) once all are running. */
  start(): Promise<number>;
  progress(): FleetDriverProgress;
  /** A timeline action on the agents; resolves with what it did, in words. */
  act(kind: FleetAction, selector: AgentSelector): Promise<string>;
  /** Config changed at `at` (epoch ms): agents time their next response from it (client-side convergence). */
  configChanged(at: number, label: string): void;
  /** Stops every agent; resolves with the merged summary (undefined if nothing ran). */
  stop(): Promise<FleetSummary | undefined>;
  /** Calls `cb` once, at once, if the fleet dies on its own (its process exits before stop()). */
  onDeath?(cb: (why: string) => void): void;
}

/**
 * Agents measured as subscribers per set; beyond this a seeded sample. Each one scans every CLA
 * it gets for each watched address (a 5,000-endpoint CLA is ~400 KB), so the sample bounds what
 * measuring costs the fleet; the slowest of 200 random agents estimates the slowest of all well.
 */
export const PROPAGATION_SUBSCRIBERS = 200;
/** Registrations watched per set, spread over its agents. */
const REGISTRATION_WATCHES = 12;
/** Probe flips watched per timeline step and set. */
const HEALTH_WATCHES = 8;

/** Up to n of the items, evenly spread (all when there are no more). */
function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, k) => items[Math.floor((k * items.length) / n)]!);
}

/** Agent addresses start here: clear of the topology generator's 10.0.x.x entries. */
const IP_BASE = '10.128.0.0';
/** How long past the scenario's duration the fleets may run on their own (the runner stops them first). */
const DEADLINE_MARGIN_MS = 30_000;

interface SetFleet {
  set: AgentSetSpec;
  fleet: Fleet;
  /** Share of the set's agents the runner wants running (scale level). */
  level: number;
  run?: Promise<FleetSummary>;
  last?: FleetProgress;
}

/** The group's readiness probe as the fleet's probe timing (SPEC §7 agent defaults), or null for none. */
export function fleetProbe(probe: ReadinessProbe | undefined): FleetProbe | null {
  if (!probe) return null;
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds || 10) * 1000,
    timeoutMs: (probe.timeoutSeconds || 1) * 1000,
    successThreshold: probe.successThreshold || 1,
    // The agent's failure threshold defaults to 1, not Kubernetes' 3.
    failureThreshold: probe.failureThreshold || 1,
  };
}

/** Most IP generations a set can go through (IP changes, scale-ups), to keep sets' address ranges apart. */
function generationsNeeded(f: FleetSpec, restores: number): number {
  let g = 1 + restores;
  for (const c of f.churn) {
    if (c.kind === 'ip-change') g += c.times ?? Math.ceil(Math.max(0, f.durationMs - c.startMs) / c.everyMs) + 1;
    if (c.kind === 'scale') g += 1;
  }
  return g + 1;
}

export interface FleetDriverOptions {
  xds: string;
  fleet: FleetSpec;
  /** Resources that define the groups (the initial mesh and timeline applies). */
  groups: readonly Resource[];
  /** Timeline restores (each may bring agents back as new VMs). */
  restores: number;
  /** Worker threads in total (default: scenario's, else 1); each set gets at least one. */
  workers?: number;
  /** Bearer tokens by `namespace/serviceAccount` (the embedded control plane mints them: setServiceAccount). */
  tokens?: Record<string, string>;
  /** TLS to the control plane's xDS port (a remote target's); plaintext without. */
  tls?: ClientTlsOptions;
  /** Emulated links (src/network): agents a link selects connect to its relay's address instead of `xds`. */
  links?: { group?: string; locality?: string; xds: string }[];
}

/**
 * The service account a set's agents are: the set's own, else the group template's, else the
 * namespace's `default` (the token istioctl would ask for; the entry then names none).
 */
export function setServiceAccount(set: Pick<AgentSetSpec, 'serviceAccount'>, group: WorkloadGroup | undefined): string {
  return set.serviceAccount ?? group?.spec.template?.serviceAccount ?? 'default';
}

export class ScenarioFleet implements FleetDriver {
  private readonly sets: SetFleet[] = [];

  constructor(private readonly o: FleetDriverOptions) {
    const f = o.fleet;
    const total = totalAgents(f);
    const workers = o.workers ?? f.workers ?? 1;
    const groups = new Map<string, WorkloadGroup>();
    for (const r of o.groups) if (r.kind === 'WorkloadGroup') groups.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
    const gens = generationsNeeded(f, o.restores);
    let ipNext = parseIpv4(IP_BASE);
    f.agents.forEach((set, i) => {
      const group = groups.get(`${set.namespace}/${set.group}`);
      const churn: ChurnSpec[] = [...f.churn];
      let unhealthyFraction = 0;
      if (set.probe?.model.kind === 'unhealthy') unhealthyFraction = set.probe.fraction;
      if (set.probe?.model.kind === 'flapping') churn.push({ kind: 'flap', fraction: set.probe.fraction, periodMs: set.probe.model.periodMs, atMs: 0 });
      // What istioctl gives the VMs of the group: the template's service account and ports in
      // cluster.env, the group's probe in mesh.yaml, a token for the service account.
      const sa = setServiceAccount(set, group);
      const namedSa = set.serviceAccount ?? group?.spec.template?.serviceAccount;
      const token = o.tokens?.[`${set.namespace}/${sa}`];
      // The set's agents behind a link reach the control plane through its relay (the loader
      // refused overlapping links, so order does not matter).
      const xdsByLocality = (o.links ?? [])
        .filter((l) => !l.group || l.group === `${set.namespace}/${set.group}`)
        .map((l) => ({ locality: l.locality ?? '*', xds: l.xds }));
      const config: FleetConfig = fleetConfig({
        xds: o.xds,
        ...(xdsByLocality.length ? { xdsByLocality } : {}),
        count: set.count,
        namespace: set.namespace,
        group: set.group,
        durationMs: f.durationMs + DEADLINE_MARGIN_MS,
        rampPerSec: f.rampPerSecond ? (f.rampPerSecond * set.count) / total : 0,
        unhealthyFraction,
        churn,
        localities: set.localities.map(([l, weight]) => ({ locality: parseAgentLocality(l), weight })),
        ipBase: formatIpv4(ipNext),
        workers: Math.max(1, Math.round((workers * set.count) / total)),
        mode: f.mode,
        // Agents that watch only some clusters may not see their own: one observer stream per worker does.
        subscription: f.clusters ? { cds: false, eds: f.clusters } : { cds: true },
        watch: f.clusters ? 'observer' : 'self',
        probe: fleetProbe(group?.spec.probe),
        ...(group?.spec.probe ? { readinessProbe: group.spec.probe } : {}),
        ...(namedSa ? { serviceAccount: namedSa } : {}),
        ...(group?.spec.template?.ports ? { podPorts: group.spec.template.ports } : {}),
        ...(token ? { token } : {}),
        ...(o.tls ? { tls: o.tls } : {}),
        labels: set.labels,
        network: set.network,
        // Distinct instance names per set even when two sets share a group.
        namePrefix: `${set.group}-s${i}`,
        seed: f.seed + i,
        // Generous: on a busy box a slow first response should show in the connect latency,
        // not turn into timeouts whose retries pile more connects on the box.
        connectTimeoutMs: 30_000,
        progressIntervalMs: 250,
      });
      ipNext += set.count * gens + 256;
      this.sets.push({ set, fleet: new Fleet(config), level: 1 });
    });
    // Every set watches every set's registrations: a VM joining must reach all the fleet.
    const watches: ChangeWatch[] = this.sets.flatMap((s, i) =>
      spread(
        Array.from({ length: s.set.count }, (_, k) => k),
        REGISTRATION_WATCHES,
      ).map((k) => ({ id: `registration:${i}:${k}`, kind: 'registration' as const, ip: agentIdentity(s.fleet.config, k, 0).ip, present: true })),
    );
    for (const s of this.sets) s.fleet.config.propagation = { watches, maxSubscribers: PROPAGATION_SUBSCRIBERS };
  }

  configChanged(at: number, label: string): void {
    const w: ChangeWatch = { id: `config:${label}:${at}`, kind: 'config', at };
    for (const s of this.sets) s.fleet.watch([w]);
  }

  async start(): Promise<number> {
    const starts = this.sets.map(
      (s) =>
        new Promise<number>((resolve, reject) => {
          let resolved = false;
          s.run = s.fleet.run({
            // A flip one set's agents made is watched by every other set's agents too.
            onWatch: (watches) => {
              for (const x of this.sets) if (x !== s) x.fleet.watch(watches);
            },
            onProgress: (p) => {
              s.last = p;
              if (!resolved) {
                resolved = true;
                // The fleet's clock starts once its threads are ready; this recovers it.
                resolve(Date.now() - p.elapsedMs);
              }
            },
          });
          s.run.then(
            () => !resolved && reject(new Error('fleet finished before it started')),
            (err: unknown) => !resolved && reject(err instanceof Error ? err : new Error(String(err))),
          );
        }),
    );
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('fleet did not start within 60s')), 60_000).unref());
    const t0s = await Promise.race([Promise.all(starts), timeout]);
    return Math.min(...t0s);
  }

  progress(): FleetDriverProgress {
    const out: FleetDriverProgress = { target: 0, started: 0, connected: 0, visible: 0, failed: 0, errors: 0 };
    for (const s of this.sets) {
      const p = s.last;
      out.target += p?.target ?? s.set.count;
      if (!p) continue;
      out.started += p.started;
      out.connected += p.connected;
      out.visible += p.visible;
      out.failed += p.failed;
      out.errors += p.errors;
    }
    return out;
  }

  private probeSeq = 0;

  async act(kind: FleetAction, sel: AgentSelector): Promise<string> {
    const chosen = this.sets.filter((s) => !sel.group || `${s.set.namespace}/${s.set.group}` === sel.group);
    if (chosen.length === 0) return 'no agents selected';
    const parts: string[] = [];
    if (kind === 'unhealthy' || kind === 'healthy') {
      const seq = ++this.probeSeq;
      for (const s of chosen) {
        const name = `${s.set.namespace}/${s.set.group}`;
        const cmd = {
          type: 'probe' as const,
          healthy: kind === 'healthy',
          seq,
          ...(sel.locality !== undefined ? { locality: sel.locality } : {}),
          ...(sel.count !== undefined ? { count: sel.count } : {}),
          ...(sel.fraction !== undefined ? { fraction: sel.fraction } : {}),
        };
        const targets = probeCommandTargets(s.fleet.config, cmd);
        const n = targets.length;
        if (n === 0) continue;
        if (!s.fleet.config.probe || s.fleet.config.probe.target) {
          parts.push(`${name}: ${n} agent(s) selected, but their group has no simulated probe to ${kind === 'healthy' ? 'pass' : 'fail'}`);
          continue;
        }
        // Watched before the probes flip, by every set: each flip must reach the whole fleet.
        const si = this.sets.indexOf(s);
        const watches: ChangeWatch[] = spread(targets, HEALTH_WATCHES).map((k) => ({
          id: `health:${seq}:${si}:${k}`,
          kind: 'health',
          ip: agentIdentity(s.fleet.config, k, 0).ip,
          present: kind === 'healthy',
        }));
        for (const x of this.sets) x.fleet.watch(watches);
        s.fleet.probe(cmd);
        parts.push(`${name}: ${n} agent(s)' probes ${kind === 'healthy' ? 'pass' : 'fail'} from their next period`);
      }
      return parts.length ? parts.join('; ') : 'no agents selected';
    }
    for (const s of chosen) {
      const n = s.set.count;
      const share = sel.count !== undefined ? Math.min(1, sel.count / n) : (sel.fraction ?? 1);
      const name = `${s.set.namespace}/${s.set.group}`;
      if (kind === 'drop') {
        s.level = Math.max(0, s.level - share);
        s.fleet.churn({ kind: 'scale', atMs: 0, to: s.level });
        parts.push(`${name}: ${Math.round(n * s.level)} of ${n} agents left running`);
      } else if (kind === 'restore') {
        const back = Math.round(n * (1 - s.level));
        s.level = 1;
        s.fleet.churn({ kind: 'scale', atMs: 0, to: 1 });
        parts.push(`${name}: ${back} agent(s) back`);
      } else if (sel.spreadMs) {
        // The fleet's disconnect model jitters each agent's time away by +-50%.
        s.fleet.churn({ kind: 'disconnect', fraction: share, everyMs: 1, downMs: sel.spreadMs, startMs: 0, times: 1 });
        parts.push(`${name}: ~${Math.round(n * s.level * share)} agent(s) reconnecting over ~${sel.spreadMs / 1000}s`);
      } else {
        s.fleet.churn({ kind: 'storm', atMs: 0, fraction: share, downMs: 0 });
        parts.push(`${name}: ~${Math.round(n * s.level * share)} agent(s) reconnecting at once`);
      }
    }
    return parts.join('; ');
  }

  async stop(): Promise<FleetSummary | undefined> {
    for (const s of this.sets) s.fleet.stop();
    const summaries = (await Promise.all(this.sets.map((s) => s.run?.catch(() => undefined)))).filter((x): x is FleetSummary => !!x);
    return summaries.length ? mergeSummaries(summaries) : undefined;
  }
}
