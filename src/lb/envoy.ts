/**
 * Envoy's load spreading over an EDS cluster: priority load from per-priority health with the
 * overprovisioning factor, panic mode, then locality-weighted (or plain) balancing inside a
 * priority. Shares are the long-run expectation of a weighted picker, not a request simulation.
 */
import type { Endpoint, LocalityGroup, NormalizedCla } from './cla.js';
import { assembleShares, spread, type PriorityShare, type Shares } from './shares.js';

export interface EnvoyOptions {
  /** Addresses ("ip:port", canonical form) the client sees as failing (health check / outlier). */
  unhealthy: ReadonlySet<string>;
  /** Percent, e.g. 140; overrides policy.overprovisioningFactor. */
  overprovisioningFactor?: number;
  /** Percent, default 50; 0 disables panic. */
  panicThreshold?: number;
  /**
   * Whether the cluster has locality-weighted LB on (common_lb_config.locality_weighted_lb_config).
   * Default true; with false Envoy ignores locality weights entirely.
   */
  localityWeighted?: boolean;
  /**
   * The cluster's outlier detection, which is how an Istio sidecar stops using failing hosts (istiod
   * configures no active health checks): its ejection cap, or false when the cluster has none.
   * Unset: not known, and the `unhealthy` hosts are taken as out without comment.
   */
  outlierDetection?: { maxEjectionPercent: number } | false;
  /**
   * The cluster's lb_policy (Envoy's enum name; default ROUND_ROBIN). Shares are long-run
   * expectations, so the policies differ only where noted: LEAST_REQUEST is taken with every host
   * equally loaded, where Envoy's pick spreads by endpoint weight like weighted round robin (it
   * leans away from busy hosts otherwise); RANDOM picks hosts uniformly, ignoring endpoint weights;
   * RING_HASH and MAGLEV spread by weight when hash keys are spread evenly. Locality and priority
   * choice is the same for all of them.
   */
  lbPolicy?: string;
}

/** Envoy's max_ejection_percent when outlier detection leaves it unset. */
export const DEFAULT_MAX_EJECTION_PERCENT = 10;

export const DEFAULT_OVERPROVISIONING_FACTOR = 140;
export const DEFAULT_PANIC_THRESHOLD = 50;

type HostState = 'healthy' | 'degraded' | 'unhealthy';

interface Level {
  priority: number;
  groups: LocalityGroup[];
  hosts: Endpoint[];
  healthy: Endpoint[];
  /** Integer percent, overprovisioning applied, capped at 100. */
  health: number;
  load: number;
  panic: boolean;
}

function validPercent(name: string, v: number, integer: boolean, example: number): number {
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new RangeError(`${name} must be a non-negative ${integer ? 'integer ' : ''}percentage (e.g. ${example}), got ${v}`);
  }
  return v;
}

export function envoyShares(cla: NormalizedCla, opts: EnvoyOptions): Shares {
  const notes = [...cla.notes];
  // Envoy carries the factor as an integer percent (uint32), so 1.4 is not a valid input here.
  const of = validPercent(
    'overprovisioningFactor',
    opts.overprovisioningFactor ?? cla.overprovisioningFactor ?? DEFAULT_OVERPROVISIONING_FACTOR,
    true,
    140,
  );
  // Envoy rounds the configured Percent to an integer and caps it at 100.
  const threshold = Math.min(100, Math.round(validPercent('panicThreshold', opts.panicThreshold ?? DEFAULT_PANIC_THRESHOLD, false, 50)));
  const localityWeighted = opts.localityWeighted ?? true;

  const state = new Map<number, HostState>();
  let degraded = 0;
  const failedByStatus = new Map<string, number>();
  const seen = new Set<string>();
  for (const g of cla.groups) {
    for (const e of g.endpoints) {
      seen.add(e.address);
      let s: HostState = 'healthy';
      if (e.status === 'UNHEALTHY' || e.status === 'DRAINING' || e.status === 'TIMEOUT') {
        s = 'unhealthy';
        failedByStatus.set(e.status, (failedByStatus.get(e.status) ?? 0) + 1);
      } else if (opts.unhealthy.has(e.address)) {
        s = 'unhealthy';
      } else if (e.status === 'DEGRADED') {
        s = 'degraded';
        degraded++;
      }
      state.set(e.index, s);
    }
  }
  for (const [status, n] of failedByStatus) notes.push(`${n} endpoint(s) marked ${status} in the CLA: not used unless in panic`);
  if (degraded > 0) {
    notes.push(
      `${degraded} DEGRADED endpoint(s) counted as unhealthy; Envoy would send them the load that healthy hosts cannot take before panic applies`,
    );
  }
  for (const a of opts.unhealthy) if (!seen.has(a)) notes.push(`unhealthy address ${a} is not in the CLA`);
  ejectionNotes(opts, cla, notes);
  const lbPolicy = opts.lbPolicy ?? 'ROUND_ROBIN';
  // Envoy's random balancer picks any host of the chosen locality with equal odds.
  const hostWeight = lbPolicy === 'RANDOM' ? () => 1 : (e: Endpoint) => e.weight;
  policyNotes(lbPolicy, notes);

  const endpointShare = new Map<number, number>();
  const priorityInfo = new Map<number, Omit<PriorityShare, 'priority' | 'share'>>();
  const finish = (): Shares => assembleShares('envoy', cla, endpointShare, priorityInfo, notes);

  if (cla.groups.every((g) => g.endpoints.length === 0)) {
    notes.push('no endpoints: nothing can receive traffic');
    return finish();
  }

  // Envoy creates a host set for every priority up to the highest one, so gaps are empty levels.
  const maxPriority = cla.priorities[cla.priorities.length - 1] ?? 0;
  const levels: Level[] = [];
  for (let p = 0; p <= maxPriority; p++) {
    const groups = cla.groups.filter((g) => g.priority === p);
    const hosts = groups.flatMap((g) => g.endpoints);
    const healthy = hosts.filter((e) => state.get(e.index) === 'healthy');
    // Integer division as in Envoy: a priority's health is floor(OF% x healthy / total), capped at 100.
    const health = hosts.length === 0 ? 0 : Math.min(100, Math.floor((of * healthy.length) / hosts.length));
    levels.push({ priority: p, groups, hosts, healthy, health, load: 0, panic: false });
    if (hosts.length === 0 && p < maxPriority) notes.push(`priority ${p} has no endpoints (gap in priorities)`);
  }

  const nta = Math.min(100, levels.reduce((s, l) => s + l.health, 0));
  if (nta > 0) {
    // Each level takes floor(health x 100 / NTA) of what is left; the integer rounding remainder
    // goes to the first level with non-zero health, exactly as Envoy does.
    let remaining = 100;
    let first = -1;
    for (const [i, l] of levels.entries()) {
      if (first < 0 && l.health > 0) first = i;
      l.load = Math.min(remaining, Math.floor((l.health * 100) / nta));
      remaining -= l.load;
    }
    const f = levels[first];
    if (remaining > 0 && f) f.load += remaining;
  }

  if (threshold === 0 && nta === 0) {
    // Envoy points all load at P0 but, with panic disabled, finds no healthy host there.
    notes.push('no healthy endpoint and panic is disabled (threshold 0): requests fail with no healthy upstream');
    for (const l of levels) priorityInfo.set(l.priority, { health: 0, panic: false });
    return finish();
  }

  for (const l of levels) {
    // Panic only when the priorities together cannot carry 100%; the test uses the plain healthy
    // fraction (no overprovisioning), in floating point like Envoy.
    const pct = l.hosts.length === 0 ? 0 : (100 * l.healthy.length) / l.hosts.length;
    l.panic = nta === 100 ? false : pct < threshold;
  }

  if (levels.every((l) => l.panic)) {
    // Total panic: load by host count per priority (health ignored); remainder to the first
    // non-empty level. This is also what happens when every host is down.
    const total = levels.reduce((s, l) => s + l.hosts.length, 0);
    let remaining = 100;
    let first = -1;
    for (const [i, l] of levels.entries()) {
      if (first < 0 && l.hosts.length > 0) first = i;
      l.load = Math.floor((100 * l.hosts.length) / total);
      remaining -= l.load;
    }
    const f = levels[first];
    if (f) f.load += remaining;
    notes.push(
      nta === 0
        ? 'no healthy endpoint anywhere: total panic, load split across priorities by host count and over all hosts'
        : 'every priority is in panic: load split across priorities by host count, not health',
    );
  }

  for (const l of levels) {
    if (l.panic && l.hosts.length > 0) {
      notes.push(
        `priority ${l.priority} in panic (${round1((100 * l.healthy.length) / l.hosts.length)}% healthy < ${threshold}%): its ${l.load}% goes to all its hosts, healthy or not`,
      );
    }
    priorityInfo.set(l.priority, { health: l.health, panic: l.panic });
    if (l.load > 0) spreadWithinLevel(l, l.load / 100, of, localityWeighted, state, hostWeight, endpointShare, notes);
  }
  return finish();
}

/** What the cluster's lb_policy means for the shares. */
function policyNotes(lbPolicy: string, notes: string[]): void {
  switch (lbPolicy) {
    case 'LEAST_REQUEST':
      notes.push('LEAST_REQUEST: shares assume every host is equally loaded, where Envoy spreads by endpoint weight; it favours hosts with fewer active requests otherwise');
      break;
    case 'RANDOM':
      notes.push('RANDOM: Envoy picks hosts with equal odds within a locality; endpoint weights are ignored');
      break;
    case 'RING_HASH':
    case 'MAGLEV':
      notes.push(`${lbPolicy}: shares assume hash keys spread evenly; a single key always goes to one host`);
      break;
    case 'CLUSTER_PROVIDED':
      notes.push('CLUSTER_PROVIDED (ORIGINAL_DST, simple: PASSTHROUGH): the client connects to the address it was asked for; these shares do not apply');
      break;
  }
}

/** What outlier detection means for the hosts the caller marked failing: the shares assume all are out. */
function ejectionNotes(opts: EnvoyOptions, cla: NormalizedCla, notes: string[]): void {
  if (opts.outlierDetection === undefined || opts.unhealthy.size === 0) return;
  let total = 0;
  let failing = 0;
  for (const g of cla.groups) {
    for (const e of g.endpoints) {
      total++;
      if (opts.unhealthy.has(e.address)) failing++;
    }
  }
  if (failing === 0) return;
  if (opts.outlierDetection === false) {
    notes.push(
      'the cluster has no outlier detection and istiod sets up no active health checks: Envoy keeps sending to failing endpoints until the control plane removes them from EDS',
    );
    return;
  }
  const cap = opts.outlierDetection.maxEjectionPercent;
  if (100 * failing > cap * total) {
    notes.push(
      `${failing} of ${total} endpoints marked failing (${round1((100 * failing) / total)}%), more than outlier detection may eject (max_ejection_percent ${cap}%): Envoy stops ejecting at about that share, so some would stay in rotation`,
    );
  }
}

function spreadWithinLevel(
  l: Level,
  total: number,
  of: number,
  localityWeighted: boolean,
  state: ReadonlyMap<number, HostState>,
  hostWeight: (e: Endpoint) => number,
  out: Map<number, number>,
  notes: string[],
): void {
  const put = (e: Endpoint, s: number): void => void out.set(e.index, (out.get(e.index) ?? 0) + s);
  // In panic Envoy picks from all hosts of the priority and skips locality weighting.
  if (l.panic) {
    spread(l.hosts, hostWeight, total, put);
    return;
  }
  const isHealthy = (e: Endpoint): boolean => state.get(e.index) === 'healthy';
  if (localityWeighted && l.groups.some((g) => g.weight > 0)) {
    const effective = (g: LocalityGroup): number => {
      if (g.endpoints.length === 0) return 0;
      const ratio = g.endpoints.filter(isHealthy).length / g.endpoints.length;
      return g.weight * Math.min(1, (of / 100) * ratio);
    };
    if (l.groups.some((g) => effective(g) > 0)) {
      for (const g of l.groups) {
        if (g.weight === 0 && g.endpoints.some(isHealthy)) {
          notes.push(`locality ${g.locality} (priority ${l.priority}) has no weight: gets no traffic under locality-weighted LB`);
        }
      }
      spread(l.groups, effective, total, (g, gs) => spread(g.endpoints.filter(isHealthy), hostWeight, gs, put));
      return;
    }
    // No weighted locality has a healthy host: Envoy's locality pick comes back empty and it
    // falls back to every healthy host of the priority.
    notes.push(`priority ${l.priority}: no weighted locality has a healthy host; spread over all its healthy hosts`);
  }
  spread(l.healthy, hostWeight, total, put);
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
