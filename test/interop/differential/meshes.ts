// Random meshes for the differential, many per server: each mesh comes from the topology generator
// with random options, then gets namespaces and addresses of its own (so a batch of meshes can be
// loaded into one xdsim and one istiod without touching each other) and some variety the
// generator does not make (service accounts, tlsMode labels, named ports on entries).
import type { DestinationRule, Resource, TrafficPolicy, WorkloadEntry } from '../../../src/config/resources.js';
import { varyServices } from './service-variety.js';
import { Rng, generateMesh, meshLocalities, type MeshOptions } from '../../../src/topology/generate.js';
import { randomPeerAuthentications } from './peer-authentication.js';

export interface ProxySpec {
  /** Short name, unique in the mesh; part of the node id. */
  name: string;
  namespace: string;
  ip: string;
  locality: string;
  network: string;
  labels: Record<string, string>;
  /** `grpc`: a proxyless node (GENERATOR grpc); `sidecar`: an Envoy sidecar. */
  kind: 'sidecar' | 'grpc';
  /** SERVICE_ACCOUNT metadata, when the server authenticates streams against it. */
  serviceAccount?: string;
  /** REQUESTED_NETWORK_VIEW metadata (comma-separated on the wire). */
  networkView?: string[];
}

export interface Mesh {
  index: number;
  /** The generator's options; none for a mesh read from files. */
  options?: MeshOptions;
  resources: Resource[];
  namespaces: string[];
  localities: string[];
  proxies: ProxySpec[];
  /** Which outbound clusters belong to this mesh (a server may hold several). */
  owns(cluster: string): boolean;
}

const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

function meshOptions(rng: Rng, seed: number): MeshOptions {
  const regions = rng.int(1, 3);
  const zonesPerRegion = rng.int(1, 2);
  const subzonesPerZone = rng.int(1, 2);
  const services = rng.int(1, 3);
  return {
    regions,
    zonesPerRegion,
    subzonesPerZone,
    services,
    namespaces: rng.int(1, 2),
    entriesPerLocality: rng.int(1, 2),
    weights: rng.chance(0.5) ? 'random' : 'none',
    maxWeight: 20,
    healthChecked: rng.pick([0, 0, 0.5]),
    unhealthy: 0.4,
    destinationRules: 'mixed',
    subsets: rng.int(0, 2),
    networks: rng.int(0, 2),
    racks: rng.int(0, 2),
    emptyServices: rng.int(0, 1),
    serviceKind: 'mixed',
    seed,
  };
}

/** Renames `ns-<n>` to `m<mesh>-ns-<n>` wherever a namespace shows: metadata, hosts. */
function renameNamespaces(value: unknown, prefix: string): unknown {
  if (typeof value === 'string') return value.replace(/(^|\.)ns-(\d+)(?=$|\.)/g, `$1${prefix}ns-$2`);
  if (Array.isArray(value)) return value.map((v) => renameNamespaces(v, prefix));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renameNamespaces(v, prefix);
    return out;
  }
  return value;
}

/** 10.<hi>.<lo>.<n>: one /24 per mesh (meshes < 65,536 and < 254 entries each). */
function meshAddress(mesh: number, n: number): string {
  return `10.${100 + ((mesh >> 8) & 127)}.${mesh & 255}.${n + 1}`;
}

/**
 * What the generator's rules leave alone, varied as users write it: the load-balancing algorithm
 * (or none: istiod's default), consistent hashing, slow start, connection pools, minHealthPercent
 * and TLS modes, at the top of the policy and on subsets (all shape CDS, TLS shapes EDS metadata).
 */
function varyPolicy(rng: Rng, dr: DestinationRule): void {
  const policies: TrafficPolicy[] = [];
  if (dr.spec.trafficPolicy) policies.push(dr.spec.trafficPolicy);
  else if (rng.chance(0.3)) policies.push((dr.spec.trafficPolicy = {}));
  for (const s of dr.spec.subsets ?? []) if (s.trafficPolicy) policies.push(s.trafficPolicy);
  for (const tp of policies) {
    if (rng.chance(0.5)) {
      const lb = (tp.loadBalancer ??= {});
      const simple = rng.pick([undefined, 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN', 'RANDOM', 'hash'] as const);
      delete lb.simple;
      if (simple === 'hash') lb.consistentHash = rng.chance(0.5) ? { httpHeaderName: 'x-user', ringHash: { minimumRingSize: 2048 } } : { useSourceIp: true, maglev: { tableSize: 65537 } };
      else if (simple) lb.simple = simple;
      if (simple !== 'hash' && rng.chance(0.2)) lb.warmup = { duration: '30s', ...(rng.chance(0.5) ? { minimumPercent: 20, aggression: 2 } : {}) };
    }
    if (rng.chance(0.3)) {
      tp.connectionPool = {
        ...(rng.chance(0.5) ? { tcp: { maxConnections: rng.int(1, 500), ...(rng.chance(0.5) ? { connectTimeout: '3s' } : {}) } } : {}),
        http: { http2MaxRequests: rng.int(1, 1000), ...(rng.chance(0.5) ? { http1MaxPendingRequests: rng.int(1, 100), maxRetries: rng.int(1, 5) } : {}) },
      };
    }
    if (tp.outlierDetection && rng.chance(0.3)) tp.outlierDetection.minHealthPercent = rng.pick([0, 30, 50]);
    if (rng.chance(0.15)) tp.tls = { mode: rng.pick(['ISTIO_MUTUAL', 'DISABLE', 'SIMPLE']) };
  }
  // istiod refuses an empty policy (both servers do; the refusal is not what this compares).
  if (dr.spec.trafficPolicy && Object.keys(dr.spec.trafficPolicy).length === 0) delete dr.spec.trafficPolicy;
}

/**
 * `networks`: a multi-network mesh (split horizon): entries on network-1..n (a few on none),
 * proxies on every network and on none, some asking for a network view.
 */
export function randomMesh(index: number, seed: number, multi?: { networks: number }): Mesh {
  const rng = new Rng(seed * 7_919 + 13);
  const options = meshOptions(rng, seed);
  if (multi) options.networks = multi.networks;
  const prefix = `m${index}-`;
  const resources = (generateMesh(options).map((r) => renameNamespaces(r, prefix)) as Resource[]).slice();
  let n = 0;
  for (const r of resources) {
    if (r.kind !== 'WorkloadEntry') continue;
    const we = r as WorkloadEntry;
    we.spec.address = meshAddress(index, n++);
    if (rng.chance(0.5)) we.spec.serviceAccount = rng.pick(['default', 'vm-sa']);
    if (rng.chance(0.15)) we.metadata.labels = { ...(we.metadata.labels ?? {}), [TLS_MODE_LABEL]: rng.pick(['istio', 'disabled']) };
    // Named ports override the service's target port for that port name (SPEC §3).
    if (rng.chance(0.2)) we.spec.ports = { http: 9000 + rng.int(0, 9) };
    if (multi && rng.chance(0.1)) delete we.spec.network;
  }
  if (n > 253) throw new Error(`mesh ${index}: ${n} entries do not fit its /24`);
  for (const r of resources) if (r.kind === 'DestinationRule') varyPolicy(rng, r as DestinationRule);
  varyServices(rng, resources, meshLocalities(options), (k) => meshAddress(index, k));
  const namespaces = resources.filter((r) => r.kind === 'Namespace').map((r) => r.metadata.name);
  const localities = meshLocalities(options);
  const proxies: ProxySpec[] = [];
  const count = rng.int(3, 5);
  for (let p = 0; p < count; p++) {
    const locality = rng.weighted<string>(
      [
        [rng.pick(localities), 6],
        ['', 1],
        ['region-9/zone-9a/sz-1', 1],
        [localities[0]!.split('/').slice(0, 2).join('/'), 1],
      ],
      '',
    );
    const labels: Record<string, string> = {};
    if (options.racks && rng.chance(0.8)) labels['rack'] = `rack-${rng.int(1, options.racks)}`;
    if (options.subsets && rng.chance(0.5)) labels['version'] = `v${rng.int(1, options.subsets)}`;
    proxies.push({
      name: `proxy-${p}`,
      namespace: rng.pick(namespaces),
      ip: `10.99.${index & 255}.${p + 1}`,
      locality,
      network: options.networks && rng.chance(0.7) ? `network-${rng.int(1, options.networks)}` : '',
      labels,
      kind: p === count - 1 ? 'grpc' : 'sidecar',
    });
  }
  if (multi) {
    // Every network (and none) has a proxy; a proxy's network view may leave some out.
    proxies.forEach((p, k) => {
      p.network = k % (multi.networks + 1) === 0 ? '' : `network-${k % (multi.networks + 1)}`;
      if (rng.chance(0.2)) p.networkView = [`network-${rng.int(1, multi.networks)}`];
    });
    for (let k = proxies.length; k <= multi.networks; k++) {
      proxies.push({ ...proxies[0]!, name: `proxy-${k}`, ip: `10.99.${index & 255}.${k + 1}`, network: `network-${k}`, kind: 'sidecar' });
    }
  }
  resources.push(...randomPeerAuthentications(rng, index, namespaces, resources));
  const own = new RegExp(`\\.${prefix}ns-\\d+\\.`);
  return { index, options, resources, namespaces, localities, proxies, owns: (c) => own.test(c) };
}

/**
 * A mesh read from files (examples/, the seeds' manifests): every outbound cluster is its own,
 * and its proxies sit in the localities and namespaces its entries use, plus one with none.
 */
export function staticMesh(index: number, resources: Resource[], seed: number): Mesh {
  const rng = new Rng(seed);
  const namespaces = [...new Set(resources.map((r) => r.metadata.namespace).filter(Boolean))].sort();
  const entries = resources.filter((r): r is WorkloadEntry => r.kind === 'WorkloadEntry');
  const localities = [...new Set(entries.map((e) => e.spec.locality ?? '').filter(Boolean))].sort();
  const labelPool = entries.flatMap((e) => Object.entries({ ...(e.spec.labels ?? {}), ...(e.metadata.labels ?? {}) }));
  const proxies: ProxySpec[] = [];
  for (let p = 0; p < Math.max(3, localities.length + 1); p++) {
    const labels: Record<string, string> = {};
    for (let k = 0; k < 2 && labelPool.length; k++) {
      const [key, value] = rng.pick(labelPool);
      labels[key] = value;
    }
    proxies.push({
      name: `proxy-${p}`,
      namespace: namespaces.length ? rng.pick(namespaces) : 'default',
      ip: `10.98.${index & 255}.${p + 1}`,
      locality: p < localities.length ? localities[p]! : '',
      network: '',
      labels,
      kind: p === 0 ? 'grpc' : 'sidecar',
    });
  }
  return { index, resources, namespaces, localities, proxies, owns: () => true };
}
