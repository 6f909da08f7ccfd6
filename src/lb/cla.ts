/**
 * ClusterLoadAssignment input for the load-balancing model, as the proto3 canonical JSON mapping
 * of envoy.config.endpoint.v3.ClusterLoadAssignment (only the fields that affect load spreading),
 * so CLAs captured from other control planes can be fed in unchanged.
 */

export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export interface LocalityJson {
  region?: string;
  zone?: string;
  subZone?: string;
}

export interface LbEndpointJson {
  endpoint?: { address?: { socketAddress?: { address?: string; portValue?: number } } };
  healthStatus?: HealthStatus;
  loadBalancingWeight?: number;
}

export interface LocalityLbEndpointsJson {
  locality?: LocalityJson;
  lbEndpoints?: LbEndpointJson[];
  loadBalancingWeight?: number;
  priority?: number;
}

export interface ClaJson {
  clusterName: string;
  endpoints?: LocalityLbEndpointsJson[];
  policy?: { overprovisioningFactor?: number };
}

/** One LbEndpoint after normalisation. */
export interface Endpoint {
  /** Position in the CLA (group-major), used to keep CLA order within a locality. */
  index: number;
  address: string;
  locality: string;
  priority: number;
  /** Endpoint weight, defaulted to 1. */
  weight: number;
  status: HealthStatus;
}

/** All endpoints of one (locality, priority). */
export interface LocalityGroup {
  locality: string;
  localityParts: [string, string, string];
  priority: number;
  /** Locality weight; 0 when missing or 0 in the CLA (both mean "no weight" to the model). */
  weight: number;
  /** Whether the CLA carried a locality message at all (gRPC rejects groups without one). */
  hasLocality: boolean;
  endpoints: Endpoint[];
}

export interface NormalizedCla {
  clusterName: string;
  /** Sorted by priority, then locality (region, zone, subzone). */
  groups: LocalityGroup[];
  /** Distinct priorities present, ascending. */
  priorities: number[];
  /** policy.overprovisioningFactor (percent) if the CLA set it. */
  overprovisioningFactor: number | undefined;
  notes: string[];
}

// Enum numbers are what a JSON mapping emits when enums are not rendered as names.
const STATUS_BY_NUMBER: readonly HealthStatus[] = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'];

function toStatus(v: unknown, where: string): HealthStatus {
  if (v === undefined || v === null) return 'UNKNOWN';
  if (typeof v === 'number') {
    const s = STATUS_BY_NUMBER[v];
    if (s !== undefined) return s;
  } else if (typeof v === 'string' && (STATUS_BY_NUMBER as readonly string[]).includes(v)) {
    return v as HealthStatus;
  }
  throw new TypeError(`${where}.healthStatus: unknown health status ${JSON.stringify(v)}`);
}

// proto3 JSON allows uint32 as a number or a decimal string; wrappers may also be null.
function toUint(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new TypeError(`${where}: expected an unsigned 32-bit integer, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function localityKey(l: LocalityJson | undefined): string {
  return `${l?.region ?? ''}/${l?.zone ?? ''}/${l?.subZone ?? ''}`;
}

/** "ip:port", with IPv6 literals bracketed so the port stays unambiguous. */
export function formatAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Canonical form of a user-supplied "ip:port" (accepts a bare IPv6 "a::b:port" too). */
export function canonicalAddress(s: string): string {
  const t = s.trim();
  if (t.startsWith('[')) return t;
  const last = t.lastIndexOf(':');
  if (last > 0 && t.indexOf(':') !== last) {
    const port = Number(t.slice(last + 1));
    if (Number.isInteger(port)) return formatAddress(t.slice(0, last), port);
  }
  return t;
}

function compareParts(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Flattens a CLA into locality groups. A (locality, priority) listed twice is merged: Envoy keys
 * hosts and weights by locality (the later weight wins), while gRPC rejects the CLA; a note says so.
 */
export function normalizeCla(cla: ClaJson): NormalizedCla {
  const notes: string[] = [];
  const byKey = new Map<string, LocalityGroup>();
  let index = 0;
  (cla.endpoints ?? []).forEach((g, gi) => {
    const where = `endpoints[${gi}]`;
    const priority = toUint(g.priority, `${where}.priority`) ?? 0;
    const rawWeight = toUint(g.loadBalancingWeight, `${where}.loadBalancingWeight`);
    const parts: [string, string, string] = [g.locality?.region ?? '', g.locality?.zone ?? '', g.locality?.subZone ?? ''];
    const locality = localityKey(g.locality);
    if (rawWeight === 0) {
      notes.push(`locality ${locality} (priority ${priority}) has weight 0: Envoy's validation wants >= 1; modelled as no weight`);
    }
    const key = `${priority}\u0000${locality}`;
    let group = byKey.get(key);
    if (group) {
      notes.push(`locality ${locality} appears twice in priority ${priority}: merged (Envoy keeps the last weight; gRPC rejects such a CLA)`);
      if (rawWeight !== undefined) group.weight = rawWeight;
      group.hasLocality &&= g.locality !== undefined;
    } else {
      group = { locality, localityParts: parts, priority, weight: rawWeight ?? 0, hasLocality: g.locality !== undefined, endpoints: [] };
      byKey.set(key, group);
    }
    (g.lbEndpoints ?? []).forEach((e, ei) => {
      const ew = `${where}.lbEndpoints[${ei}]`;
      const sa = e.endpoint?.address?.socketAddress;
      const ip = sa?.address ?? '';
      const port = toUint(sa?.portValue, `${ew}.endpoint.address.socketAddress.portValue`) ?? 0;
      if (ip === '') notes.push(`${ew} has no socket address`);
      const w = toUint(e.loadBalancingWeight, `${ew}.loadBalancingWeight`);
      if (w === 0) notes.push(`${ew} has weight 0: invalid for Envoy (must be >= 1); counted as 1`);
      group!.endpoints.push({
        index: index++,
        address: formatAddress(ip, port),
        locality,
        priority,
        weight: w === undefined || w === 0 ? 1 : w,
        status: toStatus(e.healthStatus, ew),
      });
    });
  });
  const groups = [...byKey.values()].sort(
    (a, b) => a.priority - b.priority || compareParts(a.localityParts, b.localityParts),
  );
  const priorities = [...new Set(groups.map((g) => g.priority))];
  const of = toUint(cla.policy?.overprovisioningFactor, 'policy.overprovisioningFactor');
  return { clusterName: cla.clusterName, groups, priorities, overprovisioningFactor: of, notes };
}
