// One mesh, every proxy of it, both control planes: what each proxy receives from xdsim is
// compared with what it receives from istiod. Sidecar nodes: the outbound cluster set, the
// Cluster fields that shape load balancing, and EDS for every cluster (plus an unknown name and
// an undefined subset).
// Proxyless nodes: the Listener, RouteConfiguration, Cluster and ClusterLoadAssignment chain a
// gRPC client walks, compared whole.
import type { Node } from '../../../src/proto/messages.js';
import { toStruct } from '../../../src/proto/index.js';
import { compareClusterLoadAssignment, compareFields, compareNames, type Difference } from './compare.js';
import type { Mesh, ProxySpec } from './meshes.js';
import type { Json } from './official-json.js';
import { fetchXds, type Fetched } from './xds-fetch.js';

/** Sidecar Cluster fields that decide how load is spread; the rest is transport and telemetry. */
export const LB_CLUSTER_FIELDS = [
  'type',
  'lb_policy',
  'common_lb_config',
  'outlier_detection',
  'circuit_breakers',
  'eds_cluster_config',
  'connect_timeout',
] as const;

export interface MeshCounts {
  proxies: number;
  resources: number;
}

export function proxyNode(p: ProxySpec): Node {
  const [region = '', zone = '', sub_zone = ''] = p.locality ? p.locality.split('/') : [];
  const metadata: Record<string, unknown> = {
    NAMESPACE: p.namespace,
    INSTANCE_IPS: p.ip,
    CLUSTER_ID: 'Kubernetes',
    ISTIO_VERSION: '1.31.0',
  };
  if (Object.keys(p.labels).length) metadata['LABELS'] = p.labels;
  if (p.network) metadata['NETWORK'] = p.network;
  if (p.networkView?.length) metadata['REQUESTED_NETWORK_VIEW'] = p.networkView.join(',');
  if (p.kind === 'grpc') metadata['GENERATOR'] = 'grpc';
  if (p.serviceAccount) metadata['SERVICE_ACCOUNT'] = p.serviceAccount;
  return {
    id: `sidecar~${p.ip}~${p.name}.${p.namespace}~${p.namespace}.svc.cluster.local`,
    ...(p.locality ? { locality: { region, zone, sub_zone } } : {}),
    metadata: toStruct(metadata),
  };
}

const json = (v: Json | undefined): Record<string, Json> => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});

/** Outbound clusters of this mesh only (a server holds a batch of meshes). */
function meshClusters(mesh: Mesh, names: Iterable<string>): string[] {
  return [...names].filter((n) => n.startsWith('outbound|') && mesh.owns(n)).sort();
}

async function sidecar(mesh: Mesh, p: ProxySpec, ours: string, theirs: string, counts: MeshCounts): Promise<Difference[]> {
  const node = proxyNode(p);
  const where = `mesh ${mesh.index} ${p.name}(${p.kind} ${p.namespace} ${p.locality || '-'} ${p.network || '-'}${p.networkView ? `[view ${p.networkView.join(',')}]` : ''} ${JSON.stringify(p.labels)})`;
  const [cdsA, cdsB] = await Promise.all([fetchXds(ours, node, [{ type: 'cds', names: [] }]), fetchXds(theirs, node, [{ type: 'cds', names: [] }])]);
  const clustersA = meshClusters(mesh, cdsA.cds.keys());
  const clustersB = meshClusters(mesh, cdsB.cds.keys());
  const d = compareNames('cds.cluster-set', where, clustersA, clustersB);
  const builtin = (names: Iterable<string>) => [...names].filter((n) => !n.includes('|'));
  d.push(...compareNames('cds.builtin-clusters', where, builtin(cdsA.cds.keys()), builtin(cdsB.cds.keys())));
  for (const name of clustersA) {
    const b = cdsB.cds.get(name);
    if (b) d.push(...compareFields('cds', `${where} ${name}`, cdsA.cds.get(name)!, b, LB_CLUSTER_FIELDS));
  }
  const names = [...new Set([...clustersA, ...clustersB])];
  // A name neither server knows: istiod answers it with an empty assignment.
  names.push(`outbound|80||unknown-${mesh.index}.${mesh.namespaces[0] ?? 'default'}.svc.cluster.local`);
  // And a subset no rule defines, of a service port that exists.
  const plain = clustersA.find((n) => n.split('|')[2] === '');
  if (plain) names.push(plain.replace('||', '|no-such-subset|'));
  const [a, b] = await Promise.all([fetchXds(ours, node, [{ type: 'eds', names }]), fetchXds(theirs, node, [{ type: 'eds', names }])]);
  for (const x of compareEds(where, names, a, b)) {
    // Kept apart: istiod's TLS-mode lookup for a subset no rule defines differs from the service's.
    if (x.where.includes('|no-such-subset|')) x.kind = `undefined-subset.${x.kind}`;
    d.push(x);
  }
  counts.resources += clustersA.length + names.length;
  return d;
}

function compareEds(where: string, names: readonly string[], a: Fetched, b: Fetched): Difference[] {
  const d = compareNames('eds.answered', where, a.eds.keys(), b.eds.keys());
  for (const name of names) {
    const x = a.eds.get(name);
    const y = b.eds.get(name);
    if (x && y) d.push(...compareClusterLoadAssignment(`${where} ${name}`, x, y));
  }
  return d;
}

/** The names a proxyless client walks from a target `host:port`. */
async function proxyless(mesh: Mesh, p: ProxySpec, ours: string, theirs: string, counts: MeshCounts): Promise<Difference[]> {
  const node = proxyNode(p);
  const where = `mesh ${mesh.index} ${p.name}(grpc ${p.namespace} ${p.locality || '-'})`;
  // Targets: every plain (subset-less) outbound cluster of the mesh, as xdsim lists them.
  const cds = await fetchXds(ours, { ...node, metadata: proxyNode({ ...p, kind: 'sidecar' }).metadata }, [{ type: 'cds', names: [] }]);
  const targets = meshClusters(mesh, cds.cds.keys())
    .map((n) => n.split('|'))
    .filter((parts) => parts[2] === '')
    .map((parts) => `${parts[3]}:${parts[1]}`);
  const d: Difference[] = [];
  for (const target of targets) {
    const walk = async (server: string): Promise<Fetched> => {
      const lds = await fetchXds(server, node, [{ type: 'lds', names: [target] }]);
      const hcm = json(json(json(lds.lds.get(target))['api_listener'])['api_listener']);
      const routeName = String(json(hcm['rds'])['route_config_name'] ?? '');
      const [host, port] = [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)];
      const cluster = `outbound|${port}||${host}`;
      const rest = await fetchXds(server, node, [
        ...(routeName ? [{ type: 'rds' as const, names: [routeName] }] : []),
        { type: 'cds', names: [cluster] },
        { type: 'eds', names: [cluster] },
      ]);
      return { lds: lds.lds, rds: rest.rds, cds: rest.cds, eds: rest.eds };
    };
    const [a, b] = await Promise.all([walk(ours), walk(theirs)]);
    for (const type of ['lds', 'rds', 'cds'] as const) {
      d.push(...compareNames(`${type}.answered`, `${where} ${target}`, a[type].keys(), b[type].keys()));
      for (const [name, x] of a[type]) {
        const y = b[type].get(name);
        if (y) d.push(...compareFields(`grpc.${type}`, `${where} ${name}`, x, y));
      }
    }
    d.push(...compareEds(`${where} ${target}`, [...b.eds.keys()], a, b));
    counts.resources += a.lds.size + a.rds.size + a.cds.size + a.eds.size;
  }
  return d;
}

export async function compareMesh(mesh: Mesh, ours: string, theirs: string, counts: MeshCounts): Promise<Difference[]> {
  const d: Difference[] = [];
  for (const p of mesh.proxies) {
    counts.proxies++;
    d.push(...(p.kind === 'grpc' ? await proxyless(mesh, p, ours, theirs, counts) : await sidecar(mesh, p, ours, theirs, counts)));
  }
  return d;
}
