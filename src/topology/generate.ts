// Deterministic synthetic meshes: WorkloadEntries spread over a region/zone/subzone grid, the
// Services (or ServiceEntries) that select them and DestinationRules with the locality policies
// of SPEC §4. The same options and seed always give the same resources, in the same order, so a
// benchmark or scenario can be reproduced from its options alone.
import type {
  DestinationRule,
  KubeService,
  LocalityLbSetting,
  Namespace,
  Resource,
  ServiceEntry,
  Subset,
  TrafficPolicy,
  WorkloadEntry,
} from '../config/resources.js';
import { mulberry32 } from '../util/random.js';
import { ANNOTATION_HEALTH_CHECKS, LABEL_NETWORK, LABEL_REGION, LABEL_SUBZONE, LABEL_ZONE } from '../model/labels.js';

export type DestinationRulePolicy = 'none' | 'failover' | 'distribute' | 'failoverPriority' | 'mixed';

export interface MeshOptions {
  /** Localities form a grid: `region-<r>/zone-<r><letter>/sz-<s>`, e.g. `region-1/zone-1a/sz-1`. */
  regions: number;
  zonesPerRegion: number;
  subzonesPerZone: number;
  /** Services `svc-<n>`, each selecting WorkloadEntries labelled `app: svc-<n>`. */
  services: number;
  /** Namespaces `ns-<n>`; service n lives in namespace n mod `namespaces`. */
  namespaces: number;
  /** Entries of each service in each locality (total = services x localities x this). */
  entriesPerLocality?: number;
  /** Total entries instead, spread round-robin over services, then localities. Wins if both given. */
  totalEntries?: number;
  /** `none`: every entry weight unset (= 1); `random`: uniform in 1..maxWeight. Default none. */
  weights?: 'none' | 'random';
  /** Upper bound of random weights (default 100; up to 2^32-1 to reach weight saturation). */
  maxWeight?: number;
  /** Fraction of entries with the health-checks annotation (default 0). */
  healthChecked?: number;
  /** Fraction of the health-checked entries whose Healthy condition is False (default 0). */
  unhealthy?: number;
  /** Locality policy of each service's DestinationRule (default none); `mixed` picks per service. */
  destinationRules?: DestinationRulePolicy;
  /** Subsets `v1..vN` per service; entries get `version: v<k>` round-robin (default 0). */
  subsets?: number;
  /** Networks `network-<n>` assigned at random (default 0: no network). */
  networks?: number;
  /** `rack: rack-<n>` labels assigned at random, for failoverPriority (default 0: no label). */
  racks?: number;
  /** Extra services whose selector matches no entry: clusters with no endpoints (default 0). */
  emptyServices?: number;
  /** Kubernetes Services, selector ServiceEntries, or a random mix (default Service). */
  serviceKind?: 'Service' | 'ServiceEntry' | 'mixed';
  seed?: number;
}

/** Service port in cluster names, and the port entries serve it on. */
export const SERVICE_PORT = 80;
export const TARGET_PORT = 8080;

export { mulberry32 };

/** Small helpers over a uniform [0, 1) source. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [lo, hi], inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** One of `weighted`'s items, each with a chance proportional to its weight; `fallback` if all weigh 0. */
  weighted<T>(weighted: readonly (readonly [T, number])[], fallback: T): T {
    let total = 0;
    for (const [, w] of weighted) total += w;
    let x = this.next() * total;
    for (const [k, w] of weighted) {
      x -= w;
      if (x < 0) return k;
    }
    return fallback;
  }
  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/** `a`, `b`, ..., `z`, `aa`, ...: zone suffixes. */
function letters(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(97 + ((n - 1) % 26)) + s;
  return s;
}

export function regionName(r: number): string {
  return `region-${r + 1}`;
}

export function zoneName(r: number, z: number): string {
  return `zone-${r + 1}${letters(z)}`;
}

/** Every locality of the grid as `region/zone/subzone`, in sorted-by-construction order. */
export function meshLocalities(o: Pick<MeshOptions, 'regions' | 'zonesPerRegion' | 'subzonesPerZone'>): string[] {
  const out: string[] = [];
  for (let r = 0; r < o.regions; r++) {
    for (let z = 0; z < o.zonesPerRegion; z++) {
      for (let s = 0; s < o.subzonesPerZone; s++) out.push(`${regionName(r)}/${zoneName(r, z)}/sz-${s + 1}`);
    }
  }
  return out;
}

export function serviceName(s: number): string {
  return `svc-${s + 1}`;
}

export function namespaceName(n: number): string {
  return `ns-${n + 1}`;
}

/** The host a generated service is reached at (and its clusters are named after). */
export function serviceHost(kind: 'Service' | 'ServiceEntry', s: number, namespace: string): string {
  return kind === 'Service' ? `${serviceName(s)}.${namespace}.svc.cluster.local` : `${serviceName(s)}.${namespace}.mesh.internal`;
}

const OUTLIER_DETECTION = Object.freeze({ consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' });

type ConcretePolicy = Exclude<DestinationRulePolicy, 'mixed'> | 'disabled' | 'noOutlierDetection';
const MIXED_POLICIES: readonly ConcretePolicy[] = [
  'none',
  'failover',
  'distribute',
  'failoverPriority',
  'disabled',
  'noOutlierDetection',
];

/**
 * The resources of a mesh, in apply order: Namespaces, Services/ServiceEntries,
 * DestinationRules, then WorkloadEntries.
 */
export function generateMesh(o: MeshOptions): Resource[] {
  const rng = new Rng(o.seed ?? 1);
  const localities = meshLocalities(o);
  const regions = Array.from({ length: o.regions }, (_, r) => regionName(r));
  const nsCount = Math.max(1, o.namespaces);
  const subsets = o.subsets ?? 0;
  const out: Resource[] = [];

  for (let n = 0; n < nsCount; n++) {
    out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespaceName(n), namespace: '' } } satisfies Namespace);
  }

  // Services first (their kind decides hosts), then one DestinationRule per service that needs one.
  const kinds: ('Service' | 'ServiceEntry')[] = [];
  const totalServices = o.services + (o.emptyServices ?? 0);
  for (let s = 0; s < totalServices; s++) {
    const kind = o.serviceKind === 'mixed' ? rng.pick(['Service', 'ServiceEntry'] as const) : (o.serviceKind ?? 'Service');
    kinds.push(kind);
    // Empty services select a label no entry has.
    const app = s < o.services ? serviceName(s) : `${serviceName(s)}-nobody`;
    out.push(serviceResource(kind, s, namespaceName(s % nsCount), app));
  }
  for (let s = 0; s < totalServices; s++) {
    const ns = namespaceName(s % nsCount);
    const policy: ConcretePolicy = o.destinationRules === 'mixed' ? rng.pick(MIXED_POLICIES) : (o.destinationRules ?? 'none');
    const dr = destinationRule(rng, o, regions, policy, kinds[s]!, s, ns, subsets);
    if (dr) out.push(dr);
  }

  const L = localities.length;
  const total = o.totalEntries ?? (o.entriesPerLocality ?? 1) * L * o.services;
  const hc = o.healthChecked ?? 0;
  const unhealthy = o.unhealthy ?? 0;
  for (let i = 0; i < total && o.services > 0 && L > 0; i++) {
    // Round-robin over services, then over localities: every service covers every locality.
    const s = i % o.services;
    const k = Math.floor(i / o.services);
    const ns = namespaceName(s % nsCount);
    const labels: Record<string, string> = { app: serviceName(s) };
    if (subsets > 0) labels.version = `v${(k % subsets) + 1}`;
    if (o.racks) labels.rack = `rack-${rng.int(1, o.racks)}`;
    const we: WorkloadEntry = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: { name: `${serviceName(s)}-${k + 1}`, namespace: ns },
      spec: { address: ipv4(i), labels, locality: localities[k % L]! },
    };
    if (o.weights === 'random') we.spec.weight = rng.int(1, o.maxWeight ?? 100);
    if (o.networks) we.spec.network = `network-${rng.int(1, o.networks)}`;
    if (hc > 0 && rng.chance(hc)) {
      we.metadata.annotations = { [ANNOTATION_HEALTH_CHECKS]: 'true' };
      we.status = { conditions: [{ type: 'Healthy', status: rng.chance(unhealthy) ? 'False' : 'True' }] };
    }
    out.push(we);
  }
  return out;
}

/** `10.x.y.z` for entry i, unique for the first 2^24 - 1 entries (10.0.0.0 is skipped). */
export function ipv4(i: number): string {
  const n = i + 1;
  return `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function serviceResource(kind: 'Service' | 'ServiceEntry', s: number, ns: string, app: string): KubeService | ServiceEntry {
  const name = serviceName(s);
  if (kind === 'Service') {
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns },
      spec: { selector: { app }, ports: [{ name: 'http', port: SERVICE_PORT, targetPort: TARGET_PORT }] },
    };
  }
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name, namespace: ns },
    spec: {
      hosts: [serviceHost('ServiceEntry', s, ns)],
      ports: [{ number: SERVICE_PORT, name: 'http', protocol: 'HTTP', targetPort: TARGET_PORT }],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      workloadSelector: { labels: { app } },
    },
  };
}

function destinationRule(
  rng: Rng,
  o: MeshOptions,
  regions: readonly string[],
  policy: ConcretePolicy,
  kind: 'Service' | 'ServiceEntry',
  s: number,
  ns: string,
  subsets: number,
): DestinationRule | undefined {
  const trafficPolicy = trafficPolicyFor(rng, o, regions, policy);
  if (!trafficPolicy && subsets === 0) return undefined;
  const subsetList: Subset[] = [];
  for (let k = 1; k <= subsets; k++) {
    const subset: Subset = { name: `v${k}`, labels: { version: `v${k}` } };
    // Under `mixed`, some subsets override the service-level policy (Istio's subset merge).
    if (o.destinationRules === 'mixed' && rng.chance(0.3)) {
      const own = trafficPolicyFor(rng, o, regions, rng.pick(MIXED_POLICIES));
      if (own) subset.trafficPolicy = own;
    }
    subsetList.push(subset);
  }
  const dr: DestinationRule = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: serviceName(s), namespace: ns },
    spec: { host: kind === 'Service' ? serviceName(s) : serviceHost(kind, s, ns) },
  };
  if (trafficPolicy) dr.spec.trafficPolicy = trafficPolicy;
  if (subsetList.length > 0) dr.spec.subsets = subsetList;
  return dr;
}

function trafficPolicyFor(rng: Rng, o: MeshOptions, regions: readonly string[], policy: ConcretePolicy): TrafficPolicy | undefined {
  const lb = (localityLbSetting: LocalityLbSetting, outlier = true): TrafficPolicy => ({
    ...(outlier ? { outlierDetection: { ...OUTLIER_DETECTION } } : {}),
    loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting },
  });
  switch (policy) {
    case 'none':
      return undefined;
    case 'disabled':
      return lb({ enabled: false });
    case 'failover':
      return lb({ enabled: true, failover: failoverRing(regions) });
    case 'noOutlierDetection':
      // Failover configured but inert: istiod sets no priorities without outlier detection.
      return lb({ enabled: true, failover: failoverRing(regions) }, false);
    case 'distribute':
      return lb({ enabled: true, distribute: distributeRules(rng, o, regions) });
    case 'failoverPriority': {
      const withFailover = regions.length > 1 && (o.networks || o.racks || o.subsets) ? rng.chance(0.5) : false;
      const setting: LocalityLbSetting = { enabled: true, failoverPriority: failoverPriorityLabels(rng, o, withFailover) };
      if (withFailover) setting.failover = failoverRing(regions);
      return lb(setting);
    }
  }
}

/** Each region fails over to the next one. */
function failoverRing(regions: readonly string[]): { from: string; to: string }[] {
  if (regions.length < 2) return [];
  return regions.map((from, i) => ({ from, to: regions[(i + 1) % regions.length]! }));
}

/**
 * One rule per region: most traffic to one zone of the proxy's region, some to its other zones,
 * the rest to the next region. Valid as istiod validates it: every percentage 1..100, no two
 * patterns of a rule (and no two `from`s) overlapping. Patterns with missing parts and with
 * wildcards are both used.
 */
function distributeRules(rng: Rng, o: MeshOptions, regions: readonly string[]): NonNullable<LocalityLbSetting['distribute']> {
  const rules: NonNullable<LocalityLbSetting['distribute']> = [];
  for (let r = 0; r < regions.length; r++) {
    const zones = Array.from({ length: Math.max(1, o.zonesPerRegion) }, (_, z) => zoneName(r, z));
    const own = rng.pick(zones);
    const patterns = [`${regions[r]}/${own}/*`];
    for (const z of zones) if (z !== own && rng.chance(0.5)) patterns.push(rng.chance(0.5) ? `${regions[r]}/${z}/*` : `${regions[r]}/${z}`);
    if (regions.length > 1) patterns.push(regions[(r + 1) % regions.length]!);
    const to: Record<string, number> = {};
    let left = 100;
    patterns.forEach((p, i) => {
      const others = patterns.length - 1 - i;
      const w = others === 0 ? left : rng.int(1, left - others);
      to[p] = w;
      left -= w;
    });
    rules.push({ from: rng.chance(0.5) ? `${regions[r]}/*` : regions[r]!, to });
  }
  return rules;
}

/** With `failover` too, istiod refuses the locality labels: failover already orders by locality. */
function failoverPriorityLabels(rng: Rng, o: MeshOptions, withFailover: boolean): string[] {
  const pool = withFailover ? [] : [LABEL_REGION, LABEL_ZONE, LABEL_SUBZONE];
  if (o.networks) pool.push(LABEL_NETWORK);
  if (o.racks) pool.push('rack');
  if (o.subsets) pool.push(`version=v${rng.int(1, o.subsets)}`);
  return rng.shuffle(pool).slice(0, rng.int(1, Math.min(3, pool.length)));
}
