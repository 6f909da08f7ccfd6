// PeerAuthentications for the differential's random meshes: namespace-wide and workload-selector
// policies, with modes (UNSET, DISABLE, PERMISSIVE, STRICT) and port-level modes, all valid by
// istiod's ValidatePeerAuthentication. They decide whether an `istio` endpoint keeps its tlsMode
// metadata when no DestinationRule TLS mode does (istiod's EDS mTLS checker).
//
// No mesh-wide policy: every mesh of a batch shares the root namespace (istio-system), so one
// would reach the other meshes too (test/model/peer-authentication.test.ts and
// test/eds/endpoint-metadata.test.ts hold the mesh-wide cases).
//
// Within a namespace, names sort in the order the policies are written. The peer stamps each
// config with its own creation time as it loads the file, in document order; xdsim stamps a whole
// load with one time, and istiod breaks a creation-time tie by name. Writing them in name order
// makes "the oldest wins" pick the same policy on both.
import type { PeerAuthentication, PeerAuthenticationMode, Resource, WorkloadEntry } from '../../../src/config/resources.js';
import type { Rng } from '../../../src/topology/generate.js';

const MODES: readonly PeerAuthenticationMode[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

function policy(namespace: string, name: string, spec: PeerAuthentication['spec']): PeerAuthentication {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace }, spec };
}

/** Selector labels the mesh's entries carry (their own, and the topology labels istiod adds). */
function selectorPool(namespace: string, resources: readonly Resource[]): Record<string, string>[] {
  const pool: Record<string, string>[] = [];
  for (const r of resources) {
    if (r.kind !== 'WorkloadEntry' || r.metadata.namespace !== namespace) continue;
    const we = r as WorkloadEntry;
    const labels = { ...(we.spec.labels ?? {}), ...(we.metadata.labels ?? {}) };
    for (const [k, v] of Object.entries(labels)) if (k !== 'security.istio.io/tlsMode') pool.push({ [k]: v });
    const [region, zone] = (we.spec.locality ?? '').split('/');
    if (region) pool.push({ 'topology.kubernetes.io/region': region });
    if (zone) pool.push({ 'topology.kubernetes.io/zone': zone });
    if (we.spec.network) pool.push({ 'topology.istio.io/network': we.spec.network });
    if (labels['app'] && labels['version']) pool.push({ app: labels['app'], version: labels['version'] });
  }
  return pool;
}

/** Ports the mesh's endpoints listen on (target ports, named entry ports), and one no endpoint uses. */
function portPool(resources: readonly Resource[]): number[] {
  const ports = new Set<number>([80]);
  for (const r of resources) {
    if (r.kind === 'WorkloadEntry') for (const p of Object.values((r as WorkloadEntry).spec.ports ?? {})) ports.add(p);
    if (r.kind === 'Service') for (const p of r.spec.ports ?? []) if (typeof p.targetPort === 'number') ports.add(p.targetPort);
    if (r.kind === 'ServiceEntry') for (const p of r.spec.ports ?? []) ports.add(p.targetPort ?? p.number);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * With some probability per namespace: a namespace-wide policy (now and then a second, newer one
 * that istiod ignores), and up to three selector policies with modes and port-level modes.
 */
export function randomPeerAuthentications(rng: Rng, index: number, namespaces: readonly string[], resources: readonly Resource[]): PeerAuthentication[] {
  const out: PeerAuthentication[] = [];
  if (!rng.chance(0.6)) return out;
  const ports = portPool(resources);
  for (const ns of namespaces) {
    // `a-` before `b-` and `w<k>-`: the names sort as the documents are written.
    if (rng.chance(0.6)) {
      out.push(policy(ns, `a-ns-${index}`, rng.chance(0.15) ? {} : { mtls: { mode: rng.pick(MODES) } }));
      if (rng.chance(0.2)) out.push(policy(ns, `b-ns-${index}`, { mtls: { mode: rng.pick(MODES) } }));
    }
    const selectors = selectorPool(ns, resources);
    if (selectors.length === 0) continue;
    const count = rng.int(0, 3);
    for (let k = 0; k < count; k++) {
      const spec: PeerAuthentication['spec'] = { selector: { matchLabels: rng.pick(selectors) } };
      if (rng.chance(0.75)) spec.mtls = { mode: rng.pick(MODES) };
      if (rng.chance(0.5)) {
        const portLevel: Record<string, { mode?: PeerAuthenticationMode }> = {};
        for (let p = rng.int(1, 2); p > 0; p--) portLevel[String(rng.pick(ports))] = rng.chance(0.1) ? {} : { mode: rng.pick(MODES) };
        spec.portLevelMtls = portLevel;
      }
      out.push(policy(ns, `w${k}-${index}`, spec));
    }
  }
  return out;
}
