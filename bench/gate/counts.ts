// The gate's exact counts: how much work the hot path does, not how long it takes. They do not
// depend on the machine, so the gate compares them for equality; any difference is a change in
// what the code does (intended or not) and fails until the baseline is updated on purpose.
import { BENCH_PROXY, edsFixture, oneChangeCase, viewMesh } from '../eds.bench.js';
import type { WorkloadEntry } from '../../src/config/resources.js';
import { encodeCounters } from '../../src/eds/cluster-endpoints.js';
import { viewCounters } from '../../src/eds/eds-cache.js';
import { templateCounters } from '../../src/encode/cla-template.js';
import { meshLocalities } from '../../src/topology/generate.js';
import { XdsCache } from '../../src/xds/cache/xds-cache.js';
import { parseNode, type ProxyNode } from '../../src/xds/stream/node.js';
import { GATE_VIEW_SIZES } from './workloads.js';

/** Proxies per locality in the push count, plus this many without a locality. */
const PROXIES_PER_LOCALITY = 4;
const PROXIES_WITHOUT_LOCALITY = 4;
const CHANGES = 50;

export async function measureCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const change = oneChangeCase(1000).measureCounts(200);
  out['endpoint_encodes_per_change'] = change.endpointEncodes;
  out['group_joins_per_change'] = change.groupJoins;
  for (const n of GATE_VIEW_SIZES) {
    const { eds, cluster } = edsFixture(viewMesh(n));
    out[`bytes_per_view_${n}`] = eds.buildUncached(cluster, BENCH_PROXY)!.bytes.length;
  }
  Object.assign(out, await pushCounts());
  return out;
}

/**
 * One WorkloadEntry weight change, then every connected proxy asks for the cluster's EDS resource
 * as a push does (through the xDS resource cache): how many views are built and how many bytes
 * encoded for the push. Proxies sharing a view key must share one build.
 */
async function pushCounts(): Promise<Record<string, number>> {
  const mesh = viewMesh(1000);
  const { store, registry, eds, cluster } = edsFixture(mesh);
  const cache = new XdsCache(registry, eds);
  const proxies: ProxyNode[] = [];
  for (const loc of meshLocalities(mesh)) {
    const [region, zone, sub_zone] = loc.split('/');
    for (let i = 0; i < PROXIES_PER_LOCALITY; i++) proxies.push(parseNode({ id: `p-${loc}-${i}`, locality: { region, zone, sub_zone } }));
  }
  for (let i = 0; i < PROXIES_WITHOUT_LOCALITY; i++) proxies.push(parseNode({ id: `p-none-${i}` }));
  const pushAll = () => {
    const seen = new Set<unknown>();
    let bytes = 0;
    for (const p of proxies) {
      const r = cache.get('eds', cluster, p)!;
      if (!seen.has(r)) {
        seen.add(r);
        bytes += r.bytes.length;
      }
    }
    return bytes;
  };
  pushAll();
  const entries = store.list('WorkloadEntry');
  let edsChanges = 0;
  let otherChanges = 0;
  const unsubscribe = cache.onChange((c) => {
    for (const [t, names] of c.types) {
      if (t === 'eds') edsChanges += names.size;
      else otherChanges += names.size;
    }
  });
  const builds0 = viewCounters.viewBuilds;
  const templates0 = templateCounters.builds;
  const rendered0 = templateCounters.renders;
  let bytes = 0;
  for (let k = 0; k < CHANGES; k++) {
    const we = entries[(k * 37) % entries.length]!;
    const next: WorkloadEntry = { ...we, spec: { ...we.spec, weight: (we.spec.weight ?? 1) + 1 + k } };
    store.commit([{ op: 'apply', resource: next }]);
    // The resource cache announces a batch's changes a microtask later.
    await Promise.resolve();
    bytes += pushAll();
  }
  unsubscribe();
  cache.close();
  return {
    proxies_per_push: proxies.length,
    eds_resources_changed_per_change: edsChanges / CHANGES,
    other_resources_changed_per_change: otherChanges / CHANGES,
    views_built_per_push: (viewCounters.viewBuilds - builds0) / CHANGES,
    view_bytes_encoded_per_push: bytes / CHANGES,
    // The failover views after the first are copied out of one cluster template per change.
    template_builds_per_push: (templateCounters.builds - templates0) / CHANGES,
    template_views_per_push: (templateCounters.renders - rendered0) / CHANGES,
  };
}
