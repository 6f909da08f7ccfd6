import type { ChangeWatch } from './propagation.js';
import type { ClientTlsOptions } from '../security/tls.js';
// A fleet run, declared: where to connect, how many agents and what they look like, how fast
// they arrive, how they churn, and how long it all lasts. Plain data (structured-clone safe) so
// it can be posted to worker threads and written into the summary as is.
import { sharedNode, type AgentIdentity, type AgentLocality, type SharedNode } from '../agent/identity.js';
import type { ReadinessProbe } from '../config/resources.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from '../agent/backoff.js';
import type { NackPolicy, Subscription } from '../agent/agent.js';
import { DEFAULT_PROBE, readinessProbeFor, type ProbeCheck, type ProbeModel, type ProbeSettings } from '../agent/probe.js';
import { hashUnit } from '../util/random.js';
import type { ChurnSpec } from './churn.js';
import { agentIp, FleetConfigError, localityFor, parseIpv4, type WeightedLocality } from './parse.js';
import { localityMatches } from '../model/locality.js';

export interface FleetProbe {
  /** Real target (http/tcp) or undefined for the outcome model. */
  target?: Exclude<ProbeCheck, { kind: 'model' }>;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export interface FleetConfig {
  /**
   * xDS server `host:port`, or several separated by commas (the same server on several
   * addresses, e.g. 127.0.0.1:15010,127.0.0.2:15010): agent i connects to the (i mod n)-th. A
   * destination address and port pair has one ephemeral port range of source ports (about 28k on
   * Linux by default), so a fleet larger than that needs more than one destination.
   */
  xds: string;
  /**
   * Per-locality xDS addresses (an emulated link's relay, src/network): an agent whose locality
   * matches a `locality` pattern (first match; `*` matches every agent) connects there instead
   * of `xds`. The fleet's observer streams always use `xds`.
   */
  xdsByLocality?: { locality: string; xds: string }[];
  namespace: string;
  /** WorkloadGroup for AUTO_REGISTER_GROUP; '' = agents do not auto-register. */
  group: string;
  /** Agents in the whole fleet (all shards). */
  count: number;
  durationMs: number;
  /** New agents per second across the fleet; 0 = all at once. */
  rampPerSec: number;
  unhealthyFraction: number;
  churn: ChurnSpec[];
  /** Empty: no locality in the Node. */
  localities: WeightedLocality[];
  ipBase: string;
  /** Worker threads; 0 runs the agents on the calling thread. */
  workers: number;
  shardIndex: number;
  shardCount: number;
  mode: 'sotw' | 'delta';
  subscription: Subscription;
  /** null: agents report no health (their group has no probe). */
  probe: FleetProbe | null;
  /**
   * The group's probe as the VMs' mesh config carries it (PROXY_CONFIG.readinessProbe), when
   * known (scenarios pass the WorkloadGroup's); otherwise made from `probe` (readinessProbeOf).
   * Only sent when `probe` is set: an agent without a probe has none in its config.
   */
  readinessProbe?: ReadinessProbe;
  /** SERVICE_ACCOUNT metadata: the group template's service account. */
  serviceAccount?: string;
  /** The group template's ports (POD_PORTS metadata), when known. */
  podPorts?: Record<string, number>;
  labels: Record<string, string>;
  network: string;
  clusterId: string;
  /** Instance names are `<namePrefix>-<index>` (default: the group, else "vm"). */
  namePrefix: string;
  seed: number;
  /**
   * Client-side convergence (propagation.ts): changes watched from the start (agents
   * registering) and how many agents of the fleet are measured as subscribers (a seeded sample
   * beyond that). Absent: not measured.
   */
  propagation?: { watches: ChangeWatch[]; maxSubscribers: number };
  connectTimeoutMs: number;
  /** HTTP/2 keepalive ping interval of every agent's connection (ms); 0: no pings. */
  keepaliveMs: number;
  /** Unanswered ping -> connection dropped after this long (ms). */
  keepaliveTimeoutMs: number;
  backoff: BackoffOptions;
  nack: NackPolicy | null;
  /**
   * How EDS visibility is measured: `self` - every agent scans its own EDS responses;
   * `observer` - one extra stream per worker watches EDS for all of that worker's agents (use
   * with subscriptions that leave agents' own clusters out); `none` - not measured.
   */
  watch: 'self' | 'observer' | 'none';
  progressIntervalMs: number;
  /**
   * Build every agent before the run's clock starts, as the agents of VMs that already exist
   * (Agent.prepare(): gRPC channel objects, idle; first simulated probe result, reported on the
   * first stream): the ramp then only connects them. For reconnect storms; default false.
   */
  prepare: boolean;
  /** Transport security, as file paths (the config crosses into worker threads). */
  tls?: ClientTlsOptions;
  /** File holding a bearer token (JWT) sent as `authorization` on every stream, as istio-agent does. */
  tokenFile?: string;
  /** Or the token itself (the embedded control plane of `xdsim run` mints one per service account). */
  token?: string;
}

export const DEFAULT_FLEET: Readonly<Omit<FleetConfig, 'xds' | 'count'>> = Object.freeze({
  namespace: 'default',
  group: '',
  durationMs: 30_000,
  rampPerSec: 0,
  unhealthyFraction: 0,
  churn: [],
  localities: [],
  ipBase: '10.200.0.0',
  workers: 0,
  shardIndex: 0,
  shardCount: 1,
  mode: 'sotw',
  subscription: { cds: true },
  probe: {
    initialDelayMs: DEFAULT_PROBE.initialDelayMs,
    periodMs: DEFAULT_PROBE.periodMs,
    timeoutMs: DEFAULT_PROBE.timeoutMs,
    successThreshold: DEFAULT_PROBE.successThreshold,
    failureThreshold: DEFAULT_PROBE.failureThreshold,
  },
  labels: {},
  network: '',
  clusterId: 'Kubernetes',
  namePrefix: '',
  seed: 1,
  connectTimeoutMs: 10_000,
  // Off by default: pings change what a loaded server sees; fault runs and real istiods opt in.
  keepaliveMs: 0,
  keepaliveTimeoutMs: 10_000,
  backoff: { ...DEFAULT_BACKOFF },
  nack: null,
  watch: 'self',
  progressIntervalMs: 1000,
  prepare: false,
});

/** Fills defaults and checks ranges; throws FleetConfigError. */
export function fleetConfig(partial: Partial<FleetConfig> & Pick<FleetConfig, 'xds' | 'count'>): FleetConfig {
  const c: FleetConfig = { ...DEFAULT_FLEET, ...partial } as FleetConfig;
  for (const x of [c, ...(c.xdsByLocality ?? [])]) {
    for (const a of xdsTargets(x)) {
      if (!/^[^:\s,]+:\d+$/.test(a) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(a)) throw new FleetConfigError(`xds: expected host:port[,host:port...]; got "${x.xds}"`);
    }
  }
  if (!Number.isSafeInteger(c.count) || c.count < 1) throw new FleetConfigError(`count: must be an integer >= 1; got ${c.count}`);
  if (!(c.durationMs > 0)) throw new FleetConfigError('duration: must be > 0');
  if (!(c.rampPerSec >= 0)) throw new FleetConfigError('ramp: must be >= 0');
  if (!(c.unhealthyFraction >= 0 && c.unhealthyFraction <= 1)) throw new FleetConfigError('unhealthy-fraction: must be within 0..1');
  if (!Number.isSafeInteger(c.workers) || c.workers < 0 || c.workers > 64) throw new FleetConfigError('workers: must be an integer in 0..64');
  if (!Number.isSafeInteger(c.shardCount) || c.shardCount < 1) throw new FleetConfigError('shard-count: must be an integer >= 1');
  if (!Number.isSafeInteger(c.shardIndex) || c.shardIndex < 0 || c.shardIndex >= c.shardCount) {
    throw new FleetConfigError(`shard-index: must be in 0..${c.shardCount - 1}; got ${c.shardIndex}`);
  }
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(c.namespace)) throw new FleetConfigError(`namespace: not a valid name: "${c.namespace}"`);
  if (c.group && !/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(c.group)) throw new FleetConfigError(`group: not a valid name: "${c.group}"`);
  // Later IP generations (ip-change, scale up) are checked when they happen.
  if (parseIpv4(c.ipBase) + c.count > 0xffffffff) throw new FleetConfigError('ip-base: too high for this many agents');
  if (!c.subscription.cds && !(c.subscription.eds && c.subscription.eds.length > 0) && c.watch === 'self') {
    // Nothing to watch: agents only report health. Not an error, but nothing can be seen in EDS.
    c.watch = 'none';
  }
  if (!(c.keepaliveMs >= 0)) throw new FleetConfigError('keepalive: must be >= 0');
  if (!(c.keepaliveTimeoutMs > 0)) throw new FleetConfigError('keepalive-timeout: must be > 0');
  if (c.probe) {
    for (const k of ['periodMs', 'timeoutMs'] as const) if (!(c.probe[k] > 0)) throw new FleetConfigError(`probe ${k}: must be > 0`);
  }
  return c;
}

/** The xDS addresses of `c.xds` (one, or several separated by commas). */
export function xdsTargets(c: Pick<FleetConfig, 'xds'>): string[] {
  return c.xds.split(',').map((a) => a.trim());
}

/**
 * The address agent `index` connects to: its locality's override (xdsByLocality) if one
 * matches, else round-robin over the fleet's xDS addresses.
 */
export function agentTarget(c: Pick<FleetConfig, 'xds'> & Partial<Pick<FleetConfig, 'xdsByLocality' | 'localities' | 'count'>>, index: number): string {
  let xds = c.xds;
  if (c.xdsByLocality?.length) {
    const l = c.localities && c.count ? localityFor(c.localities, index, c.count) : undefined;
    const o = c.xdsByLocality.find((x) => localityMatches(l ?? { region: '', zone: '', subZone: '' }, x.locality));
    if (o) xds = o.xds;
  }
  const all = xdsTargets({ xds });
  return all[index % all.length]!;
}

/** Where the fleet's observer streams connect: the fleet's own address, never a link's relay. */
export function observerTarget(c: Pick<FleetConfig, 'xds'>): string {
  return xdsTargets(c)[0]!;
}

/** Agent indexes [start, end) of a shard: contiguous and balanced (sizes differ by at most one). */
export function shardRange(count: number, shardIndex: number, shardCount: number): { start: number; end: number } {
  const base = Math.floor(count / shardCount);
  const extra = count % shardCount;
  const start = shardIndex * base + Math.min(shardIndex, extra);
  return { start, end: start + base + (shardIndex < extra ? 1 : 0) };
}

/**
 * Agent indexes of one worker within a shard, in ramp order. Round-robin, so every worker ramps
 * at the same rate and the load is spread over threads from the first second.
 */
export function workerIndexes(range: { start: number; end: number }, workers: number, worker: number): number[] {
  const out: number[] = [];
  for (let i = range.start + worker; i < range.end; i += Math.max(1, workers)) out.push(i);
  return out;
}

/** When agent `index` starts, relative to the shard's start: shards ramp in parallel. */
export function startOffsetMs(c: FleetConfig, index: number): number {
  if (!(c.rampPerSec > 0)) return 0;
  const range = shardRange(c.count, c.shardIndex, c.shardCount);
  const shardRate = (c.rampPerSec * (range.end - range.start)) / c.count;
  return ((index - range.start) / shardRate) * 1000;
}

export function namePrefix(c: FleetConfig): string {
  return c.namePrefix || c.group || 'vm';
}

export function agentLocality(c: FleetConfig, index: number): AgentLocality | undefined {
  return localityFor(c.localities, index, c.count);
}

/**
 * PROXY_CONFIG's readinessProbe for a fleet probe without the group's own: the timing, and the
 * real target's handler (httpGet / tcpSocket) when there is one. A simulated probe has no handler.
 */
export function readinessProbeOf(p: FleetProbe): ReadinessProbe {
  const { target, ...timing } = p;
  return readinessProbeFor({ ...timing, ...(target ? { check: target } : {}) });
}

/** One shared Node part per fleet config (in each worker: the config object it was given). */
const sharedNodes = new WeakMap<FleetConfig, SharedNode>();

function sharedNodeOf(c: FleetConfig): SharedNode {
  let s = sharedNodes.get(c);
  if (!s) {
    const probe = c.probe ? (c.readinessProbe ?? readinessProbeOf(c.probe)) : undefined;
    s = sharedNode({
      namespace: c.namespace,
      ...(c.group ? { group: c.group } : {}),
      ...(c.network ? { network: c.network } : {}),
      labels: c.labels,
      clusterId: c.clusterId,
      ...(c.serviceAccount ? { serviceAccount: c.serviceAccount } : {}),
      ...(probe ? { readinessProbe: probe } : {}),
      ...(c.podPorts ? { podPorts: c.podPorts } : {}),
    });
    sharedNodes.set(c, s);
  }
  return s;
}

/** The identity of agent `index` in IP generation `generation`. */
export function agentIdentity(c: FleetConfig, index: number, generation: number): AgentIdentity {
  const ip = agentIp(parseIpv4(c.ipBase), c.count, index, generation);
  const locality = agentLocality(c, index);
  return {
    // A new IP is a new VM: the instance name follows the generation too.
    name: generation === 0 ? `${namePrefix(c)}-${index}` : `${namePrefix(c)}-${index}-g${generation}`,
    namespace: c.namespace,
    ip,
    ...(c.group ? { group: c.group } : {}),
    ...(c.network ? { network: c.network } : {}),
    labels: c.labels,
    ...(locality ? { locality } : {}),
    clusterId: c.clusterId,
    ...(c.serviceAccount ? { serviceAccount: c.serviceAccount } : {}),
    shared: sharedNodeOf(c),
  };
}

/**
 * Exactly round(fraction x count) of the indexes 0..count-1, chosen by the seed: the indexes with
 * the lowest seeded hashes. Any shard or worker computes the same set from the same inputs, so a
 * fleet split over processes still marks exactly that many in total. Returns a membership test.
 */
export function seededSubset(seed: number, key: string, count: number, fraction: number): (index: number) => boolean {
  const k = Math.round(Math.min(1, Math.max(0, fraction)) * count);
  if (k <= 0) return () => false;
  if (k >= count) return (i) => i >= 0 && i < count;
  // Ordered by (hash, index): 32-bit hashes may collide, the index breaks the tie.
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  const h = Float64Array.from({ length: count }, (_, i) => hashUnit(seed, key, i));
  order.sort((a, b) => h[a]! - h[b]! || a - b);
  const chosen = new Uint8Array(count);
  for (let j = 0; j < k; j++) chosen[order[j]!] = 1;
  return (i) => chosen[i] === 1;
}

/** Per fleet config: which agents' probes fail (computed once per worker). */
const unhealthySets = new WeakMap<FleetConfig, (index: number) => boolean>();

/**
 * The probe outcome model of agent `index`: exactly round(unhealthyFraction x count) agents of
 * the whole fleet fail, a seeded choice (the same on every shard and worker).
 */
export function probeModelFor(c: FleetConfig, index: number): ProbeModel {
  if (c.unhealthyFraction <= 0) return { kind: 'healthy' };
  let isUnhealthy = unhealthySets.get(c);
  if (!isUnhealthy) {
    isUnhealthy = seededSubset(c.seed, 'unhealthy', c.count, c.unhealthyFraction);
    unhealthySets.set(c, isUnhealthy);
  }
  return isUnhealthy(index) ? { kind: 'unhealthy' } : { kind: 'healthy' };
}

export function probeSettingsFor(c: FleetConfig, index: number): ProbeSettings | undefined {
  if (!c.probe) return undefined;
  const { target, ...timing } = c.probe;
  return { ...timing, check: target ?? { kind: 'model', model: probeModelFor(c, index) } };
}
