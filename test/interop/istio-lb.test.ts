// xdsim's locality load balancing against istiod's own code: randomized meshes and proxies go
// through our EDS computation and through istio.io/istio's loadbalancer package (built from
// test/interop/istio-lb, which replays istiod's endpoint builder around it), and the resulting
// ClusterLoadAssignments must agree group for group: locality, priority, weight, endpoints.
// The mesh-wide localityLbSetting varies too. Run with `npm run test:interop` (the first Go build
// of istio takes minutes).
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalityLbSetting, Resource } from '../../src/config/resources.js';
import { toCanonicalJson } from '../../src/proto/index.js';
import { ConfigStore } from '../../src/config/store.js';
import { EdsCache } from '../../src/eds/eds-cache.js';
import { Registry } from '../../src/model/registry.js';
import { Rng } from '../../src/topology/generate.js';
import { dr, proxy, svc, we } from '../helpers/mesh.js';
import { buildGoProgram } from './go-build.js';

const CLUSTER = 'outbound|8080||api.pay.svc.cluster.local';
const CASES = 1000;

interface Endpoint {
  address: string;
  port: number;
  weight: number;
  labels: Record<string, string>;
}

interface Case {
  name: string;
  proxy: { locality: string; labels: Record<string, string> };
  /** The DestinationRule has outlierDetection. */
  outlier: boolean;
  setting?: LocalityLbSetting;
  /** MeshConfig.localityLbSetting; a default install has `{ enabled: true }`. */
  meshSetting: LocalityLbSetting;
  groups: { locality: string; endpoints: Endpoint[] }[];
}

interface ClaJson {
  endpoints?: {
    locality?: { region?: string; zone?: string; subZone?: string };
    priority?: number;
    loadBalancingWeight?: number;
    lbEndpoints?: { endpoint: { address: { socketAddress: { address: string; portValue: number } } }; loadBalancingWeight?: number }[];
  }[];
}

// ---- random cases --------------------------------------------------------------------------

const LOCALITIES = ['r1/z1/s1', 'r1/z1/s2', 'r1/z2/s1', 'r2/z1/s1', 'r2/z2/s1', 'r3/z1/s1'];
const NETWORK = 'topology.istio.io/network';
const LABEL_VALUES = { tier: ['gold', 'silver'], version: ['v1', 'v2'], [NETWORK]: ['n1', 'n2'] } as const;
const PRIORITY_LABELS = ['tier', 'version', 'tier=gold', 'version=v2', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone'];

function randomLabels(rng: Rng): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, values] of Object.entries(LABEL_VALUES)) if (rng.chance(0.7)) out[k] = rng.pick(values);
  return out;
}

/** `to` patterns that never overlap (istiod takes them in Go map order, so overlaps are random). */
function distributeTo(rng: Rng): Record<string, number> {
  const layouts: string[][] = [['r1/*'], ['r1/*', 'r2/*'], ['r1/*', 'r2/*', 'r3/*'], ['r1/z1/*', 'r1/z2/*', 'r2/*'], ['r1/z1/s1', 'r2/z1/*']];
  const keys = rng.pick(layouts);
  const to: Record<string, number> = {};
  let left = 100;
  keys.forEach((k, i) => {
    const w = i === keys.length - 1 ? left : rng.int(1, left - (keys.length - 1 - i));
    to[k] = w;
    left -= w;
  });
  return to;
}

function randomSetting(rng: Rng, proxyRegion: string): LocalityLbSetting | undefined {
  const failover = (): LocalityLbSetting['failover'] => {
    const from = rng.chance(0.7) ? proxyRegion || 'r1' : rng.pick(['r1', 'r2', 'r3']);
    const to = rng.pick(['r1', 'r2', 'r3'].filter((r) => r !== from));
    return [{ from, to }];
  };
  const failoverPriority = (): string[] => {
    const n = rng.int(1, 3);
    // A network first is a special case in istiod; duplicates exercise its per-name overrides.
    const out: string[] = rng.chance(0.3) ? [NETWORK] : [];
    while (out.length < n) {
      const l = rng.pick(PRIORITY_LABELS);
      if (!out.includes(l)) out.push(l);
    }
    if (rng.chance(0.2)) out.push(`${rng.pick(['tier', 'version'])}=${rng.pick(['gold', 'v1'])}`);
    return out;
  };
  switch (rng.int(0, 6)) {
    case 0:
      return undefined;
    case 1:
      return { enabled: false, failover: failover() };
    case 2:
      return { enabled: true };
    case 3:
      return { failover: failover() };
    case 4:
      return { distribute: [{ from: rng.pick(['*', `${proxyRegion || 'r1'}/*`, 'r2/*', 'r1/z1/*']), to: distributeTo(rng) }] };
    case 5:
      return { failoverPriority: failoverPriority() };
    default:
      return { failoverPriority: failoverPriority(), failover: failover() };
  }
}

function randomCase(seed: number): Case {
  const rng = new Rng(seed * 104_729 + 7);
  const localities = LOCALITIES.filter(() => rng.chance(0.6));
  if (localities.length === 0) localities.push(rng.pick(LOCALITIES));
  let ip = 1;
  const groups = localities.map((locality) => ({
    locality,
    endpoints: Array.from({ length: rng.int(1, 4) }, () => ({
      address: `10.0.${Math.floor(ip / 250)}.${(ip++ % 250) + 1}`,
      port: 8080,
      // Small weights: near 2^32, istiod's uint32 sums wrap (the failoverPriority re-sum, the
      // distribute products) where the SPEC saturates, and xdsim follows the SPEC.
      weight: rng.chance(0.3) ? 1 : rng.int(1, 5),
      labels: randomLabels(rng),
    })),
  }));
  const proxyLocality = rng.chance(0.85) ? rng.pick(LOCALITIES) : rng.pick(['', 'r9/z9/s9', 'r1/z3/s1']);
  const proxyRegion = proxyLocality.split('/')[0]!;
  return {
    name: `case-${seed}`,
    proxy: { locality: proxyLocality, labels: rng.chance(0.8) ? randomLabels(rng) : {} },
    outlier: rng.chance(0.7),
    setting: randomSetting(rng, proxyRegion),
    meshSetting: rng.chance(0.6) ? { enabled: true } : (randomSetting(rng, proxyRegion) ?? { enabled: false }),
    groups,
  };
}

// ---- the two sides -------------------------------------------------------------------------

function ours(c: Case): ClaJson {
  const resources: Resource[] = [svc('api', { app: 'api' }, [{ name: 'grpc', port: 8080 }])];
  let n = 0;
  for (const g of c.groups) {
    for (const e of g.endpoints) {
      resources.push(we(`api-${n++}`, { address: e.address, locality: g.locality, weight: e.weight, labels: { app: 'api', ...e.labels }, ports: { grpc: e.port } }));
    }
  }
  if (c.setting || c.outlier) {
    resources.push(
      dr('api', {
        host: 'api',
        trafficPolicy: {
          ...(c.setting && { loadBalancer: { localityLbSetting: c.setting } }),
          ...(c.outlier && { outlierDetection: { consecutive5xxErrors: 5 } }),
        },
      }),
    );
  }
  const store = new ConfigStore();
  store.commit(resources.map((resource) => ({ op: 'apply' as const, resource })));
  const eds = new EdsCache(new Registry(store, { meshLocalityLb: c.meshSetting }));
  const view = eds.view(CLUSTER, proxy(c.proxy.locality, { labels: c.proxy.labels }))!;
  return toCanonicalJson('ClusterLoadAssignment', view.bytes) as unknown as ClaJson;
}

function harnessCase(c: Case): object {
  const [region = '', zone = '', subZone = ''] = c.proxy.locality.split('/');
  return {
    name: c.name,
    clusterName: CLUSTER,
    proxy: { locality: { region, zone, subZone }, labels: c.proxy.labels },
    enableFailover: c.outlier,
    ...(c.setting && { localityLbSetting: c.setting }),
    meshLocalityLbSetting: c.meshSetting,
    // Topology labels as istiod adds them to proxies and endpoints, with its default cluster ID.
    augmentTopologyLabels: true,
    clusterId: 'Kubernetes',
    groups: c.groups.map((g) => ({ locality: g.locality, endpoints: g.endpoints.map((e) => ({ ...e, labels: { app: 'api', ...e.labels } })) })),
  };
}

/** One line per LocalityLbEndpoints, order-free: what a client acts on. */
function normalize(cla: ClaJson): string[] {
  return (cla.endpoints ?? [])
    .map((g) => {
      const l = g.locality ?? {};
      const eps = (g.lbEndpoints ?? [])
        .map((e) => `${e.endpoint.address.socketAddress.address}:${e.endpoint.address.socketAddress.portValue}*${e.loadBalancingWeight ?? 1}`)
        .sort()
        .join(',');
      return `${l.region ?? ''}/${l.zone ?? ''}/${l.subZone ?? ''} p${g.priority ?? 0} w${g.loadBalancingWeight ?? 0} [${eps}]`;
    })
    .sort();
}

// ---- the test ------------------------------------------------------------------------------

let harness: { bin: string; remove: () => void } | undefined;

beforeAll(() => {
  harness = buildGoProgram('istio-lb', 1_500_000);
}, 1_560_000);

afterAll(() => harness?.remove());

describe("locality load balancing against istiod's loadbalancer package", () => {
  it(`${CASES} random meshes, proxies and localityLbSettings: the same groups, priorities and weights`, () => {
    const cases = Array.from({ length: CASES }, (_, i) => randomCase(i + 1));
    const run = spawnSync(harness!.bin, [], { input: JSON.stringify({ cases: cases.map(harnessCase) }), encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const results = (JSON.parse(run.stdout) as { results: { name: string; cla: ClaJson | null; error: string }[] }).results;
    expect(results).toHaveLength(CASES);
    const kinds = new Map<string, number>();
    const mismatches: string[] = [];
    results.forEach((r, i) => {
      const c = cases[i]!;
      expect(r.error, `${c.name}: istiod side failed`).toBe('');
      const want = normalize(r.cla!);
      const got = normalize(ours(c));
      const kind = c.setting ? Object.keys(c.setting).sort().join('+') : 'none';
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        mismatches.push(`${c.name} ${JSON.stringify({ proxy: c.proxy, outlier: c.outlier, setting: c.setting, mesh: c.meshSetting })}\n  istiod: ${want.join(' | ')}\n  xdsim:  ${got.join(' | ')}`);
      }
    });
    if (process.env['XDSIM_TEST_LOG']) console.log(Object.fromEntries(kinds));
    expect(mismatches.slice(0, 5).join('\n')).toBe('');
    // Every kind of setting was exercised.
    for (const k of ['none', 'enabled', 'enabled+failover', 'failover', 'distribute', 'failoverPriority', 'failover+failoverPriority']) {
      expect(kinds.get(k), k).toBeGreaterThan(10);
    }
  });
});
