// Incremental registry: one change yields exactly the clusters it affects.
import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/config/resources.js';
import { keyOf } from '../../src/config/resources.js';
import { affectedClusters, type RegistryDelta } from '../../src/model/registry.js';
import { viewCounters } from '../../src/eds/eds-cache.js';
import { dr, mesh, proxy, se, svc, we } from '../helpers/mesh.js';

const A = 'outbound|80||a.pay.svc.cluster.local';
const A_V1 = 'outbound|80|v1|a.pay.svc.cluster.local';
const A_V2 = 'outbound|80|v2|a.pay.svc.cluster.local';
const A_9090 = 'outbound|9090||a.pay.svc.cluster.local';
const B = 'outbound|80||b.pay.svc.cluster.local';
const A_9090_V1 = 'outbound|9090|v1|a.pay.svc.cluster.local';
const A_9090_V2 = 'outbound|9090|v2|a.pay.svc.cluster.local';
const EXT = 'outbound|80||ext.example.com';

function base(): Resource[] {
  return [
    svc('a', { app: 'a' }, [{ name: 'http', port: 80 }, { name: 'grpc', port: 9090, targetPort: 'grpc' }]),
    svc('b', { app: 'b' }, [{ name: 'http', port: 80 }]),
    se('ext', { hosts: ['ext.example.com'], ports: [{ number: 80, name: 'http' }], workloadSelector: { labels: { role: 'ext' } }, resolution: 'STATIC' }),
    dr('a', { host: 'a', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }),
    we('a1', { address: '10.0.0.1', labels: { app: 'a', version: 'v1' }, ports: { grpc: 7000 } }),
    we('b1', { address: '10.0.0.2', labels: { app: 'b' } }),
  ];
}

function changeOf(resources: Resource[], change: Resource | { delete: Resource }): Set<string> {
  const { store, registry } = mesh(resources);
  let got: RegistryDelta | undefined;
  registry.onChange((d) => (got = d));
  if ('delete' in change) store.delete(keyOf(change.delete));
  else store.apply(change);
  return got ? affectedClusters(got) : new Set();
}

describe('affected clusters of one change', () => {
  it.each<[string, Resource | { delete: Resource }, string[]]>([
    ['new entry of a: a, its matching subset, the named port it serves', we('a2', { address: '10.0.0.3', labels: { app: 'a', version: 'v2' }, ports: { grpc: 7000 } }), [A, A_9090, A_V2, A_9090_V2]],
    ['entry of a without the named port: not in the 9090 cluster', we('a2', { address: '10.0.0.3', labels: { app: 'a' } }), [A]],
    ['entry moving from v1 to v2: both subsets', we('a1', { address: '10.0.0.1', labels: { app: 'a', version: 'v2' }, ports: { grpc: 7000 } }), [A, A_9090, A_V1, A_V2, A_9090_V1, A_9090_V2]],
    ['entry moving from a to b', we('a1', { address: '10.0.0.1', labels: { app: 'b', version: 'v1' } }), [A, A_9090, A_V1, A_9090_V1, B]],
    ['deleting an entry', { delete: we('b1', {}) }, [B]],
    ['entry selected by a ServiceEntry', we('x', { address: '10.0.0.9', labels: { role: 'ext' } }), [EXT]],
    ['entry in another namespace with the same labels: nothing', we('a9', { address: '10.0.0.9', labels: { app: 'a' } }, { namespace: 'other' }), []],
    ['entry matching nothing: nothing', we('z', { address: '10.0.0.9', labels: { app: 'zzz' } }), []],
    ['re-applying an identical entry: nothing', we('b1', { address: '10.0.0.2', labels: { app: 'b' } }), []],
    ['DestinationRule change: the clusters of its host', dr('a', { host: 'a', subsets: [{ name: 'v1', labels: { version: 'v1' } }] }), [A, A_9090, A_V1, A_V2, A_9090_V1, A_9090_V2]],
    ['Service port change: its clusters', svc('b', { app: 'b' }, [{ name: 'http', port: 81 }]), [B, 'outbound|81||b.pay.svc.cluster.local']],
  ])('%s', (_n, change, want) => {
    expect([...changeOf(base(), change)].sort()).toEqual(want.sort());
  });

  it('an entry change that does not change its endpoint bytes does not bump the cluster', () => {
    const { store, eds } = mesh(base());
    const before = eds.version(B);
    const notified: string[] = [];
    eds.onChange((c) => notified.push(...c));
    store.apply(we('b1', { address: '10.0.0.2', labels: { app: 'b' } }, { annotations: { note: 'x' } }));
    expect(eds.version(B)).toBe(before);
    expect(notified).toEqual([]);
  });
});

describe('view sharing', () => {
  it('proxies with the same view key share one build and the same bytes', () => {
    const entries = ['r1/z1/s1', 'r1/z2/s1', 'r2/z1/s1'].map((l, i) => we(`e${i}`, { address: `10.0.1.${i}`, locality: l, labels: { app: 'a' } }));
    const { eds } = mesh([...entries, svc('a', { app: 'a' }, [{ port: 80 }]), dr('a', { host: 'a', trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: 'r1/*', to: { 'r1/*': 100 } }] } } } })]);
    const builds = viewCounters.viewBuilds;
    const v1 = eds.view(A, proxy('r1/z1/s1'))!;
    const v2 = eds.view(A, proxy('r1/z2/s7', { labels: { any: 'thing' }, network: 'n' }))!;
    const v3 = eds.view(A, proxy('r2/z1/s1'))!;
    expect(v2.bytes).toBe(v1.bytes);
    expect(v3.bytes).not.toBe(v1.bytes);
    expect(viewCounters.viewBuilds - builds).toBe(2);
  });

  it('without locality LB in effect every proxy shares one view', () => {
    const { eds } = mesh([we('e', { address: '10.0.0.1', labels: { app: 'a' } }), svc('a', { app: 'a' }, [{ port: 80 }])]);
    expect(eds.view(A, proxy('x/y/z'))!.bytes).toBe(eds.view(A, proxy('q', { labels: { a: 'b' } }))!.bytes);
  });
});
