// Split-horizon EDS (istiod's EndpointsByNetworkFilter) as tables: the pure filter on plain
// endpoints, then end to end (config -> registry -> encoded view) through the EDS cache.
import { describe, expect, it } from 'vitest';
import { ClusterEndpoints } from '../../src/eds/cluster-endpoints.js';
import { networkCounters, reweightedSize, writeReweighted } from '../../src/eds/network-view.js';
import { splitHorizon, type NetworkedEndpoint, type SplitLocality } from '../../src/eds/network-filter.js';
import { NetworkGateways, type NetworkGateway } from '../../src/model/mesh-networks.js';
import type { Locality } from '../../src/model/locality.js';
import { toCanonicalJson } from '../../src/proto/index.js';
import { computeShares, type ClaJson } from '../../src/lb/index.js';
import { dr, mesh, proxy, svc, we } from '../helpers/mesh.js';

interface Ep extends NetworkedEndpoint {
  name: string;
  mtls: boolean;
}
interface Loc {
  locality: Locality;
  endpoints: Ep[];
  weight: number;
}

const ep = (name: string, network: string, opts: { weight?: number; mtls?: boolean; cluster?: string } = {}): Ep => ({
  name,
  network,
  clusterId: opts.cluster ?? 'Kubernetes',
  weight: opts.weight ?? 1,
  labels: {},
  mtls: opts.mtls ?? true,
});
const loc = (region: string, ...endpoints: Ep[]): Loc => ({
  locality: { region, zone: '', subZone: '' },
  endpoints,
  weight: endpoints.reduce((s, e) => s + e.weight, 0),
});
const gw = (network: string, address: string, port = 15443, cluster = ''): NetworkGateway => ({ network, address, port, cluster });

/** `region: name*weight, gw address:port*weight, ... (w total)` per locality. */
function show(out: SplitLocality<Ep, Loc>[]): string[] {
  return out.map((l) => {
    const entries = l.entries.map((x) => (x.gateway ? `gw ${x.gateway.address}:${x.gateway.port}*${x.weight}` : `${x.endpoint.name}*${x.weight}`));
    return `${l.source.locality.region}: ${entries.join(', ')} (w ${l.weight ?? 'none'})`;
  });
}

const run = (locs: Loc[], gateways: NetworkGateway[], network: string, networkView?: string[]) =>
  show(splitHorizon<Ep, Loc>(locs, new NetworkGateways(gateways), { network, ...(networkView ? { networkView } : {}) }, (e) => e.mtls));

describe('split horizon: the filter (EndpointsByNetworkFilter)', () => {
  const A = [loc('r1', ep('a1', 'net-a'), ep('b1', 'net-b', { weight: 3 }), ep('b2', 'net-b'))];

  it.each([
    ['no gateway anywhere: not multi-network, endpoints as they are', A, [], 'net-a', ['r1: a1*1, b1*3, b2*1 (w 5)']],
    ['same network: endpoints as they are', A, [gw('net-b', '192.0.2.1')], 'net-b', ['r1: a1*1, b1*3, b2*1 (w 5)']],
    ['other network, one gateway: folded into it with their summed weight', A, [gw('net-b', '192.0.2.1')], 'net-a', ['r1: a1*1, gw 192.0.2.1:15443*4 (w 5)']],
    [
      'other network, two gateways: weights scaled by 2 (the LCM) and split evenly',
      A,
      [gw('net-b', '192.0.2.1'), gw('net-b', '192.0.2.2')],
      'net-a',
      ['r1: a1*2, gw 192.0.2.1:15443*4, gw 192.0.2.2:15443*4 (w 10)'],
    ],
    [
      'gateways sorted by address as strings, then port',
      A,
      [gw('net-b', '192.0.2.9'), gw('net-b', '192.0.2.10', 15444), gw('net-b', '192.0.2.10', 15443)],
      'net-a',
      ['r1: a1*3, gw 192.0.2.10:15443*4, gw 192.0.2.10:15444*4, gw 192.0.2.9:15443*4 (w 15)'],
    ],
    [
      'scale factor is the LCM over networks: 2 and 3 gateways scale every weight by 6',
      [loc('r1', ep('a1', 'net-a'), ep('b1', 'net-b'), ep('c1', 'net-c', { weight: 2 }))],
      [gw('net-b', '192.0.2.1'), gw('net-b', '192.0.2.2'), gw('net-c', '198.51.100.1'), gw('net-c', '198.51.100.2'), gw('net-c', '198.51.100.3')],
      'net-a',
      ['r1: a1*6, gw 192.0.2.1:15443*3, gw 192.0.2.2:15443*3, gw 198.51.100.1:15443*4, gw 198.51.100.2:15443*4, gw 198.51.100.3:15443*4 (w 24)'],
    ],
    ['a network without a gateway passes through', [loc('r1', ep('a1', 'net-a'), ep('c1', 'net-c'))], [gw('net-b', '192.0.2.1')], 'net-a', ['r1: a1*1, c1*1 (w 2)']],
    ['an endpoint with no network is everyone\u2019s', [loc('r1', ep('x', ''), ep('b1', 'net-b'))], [gw('net-b', '192.0.2.1')], 'net-a', ['r1: x*1, gw 192.0.2.1:15443*1 (w 2)']],
    [
      'no mTLS on another network: left out (the gateway routes by mTLS SNI)',
      [loc('r1', ep('a1', 'net-a', { mtls: false }), ep('b1', 'net-b', { mtls: false }), ep('b2', 'net-b'))],
      [gw('net-b', '192.0.2.1')],
      'net-a',
      ['r1: a1*1, gw 192.0.2.1:15443*1 (w 2)'],
    ],
    [
      'a locality left with nothing keeps its entry, without weight',
      [loc('r1', ep('a1', 'net-a')), loc('r2', ep('b1', 'net-b', { mtls: false }))],
      [gw('net-b', '192.0.2.1')],
      'net-a',
      ['r1: a1*1 (w 1)', 'r2:  (w none)'],
    ],
    [
      'a proxy without a network: every network that has a gateway goes through it',
      [loc('r1', ep('a1', 'net-a'), ep('b1', 'net-b'), ep('c1', 'net-c'))],
      [gw('net-a', '203.0.113.1'), gw('net-b', '192.0.2.1')],
      '',
      ['r1: c1*1, gw 192.0.2.1:15443*1, gw 203.0.113.1:15443*1 (w 3)'],
    ],
    [
      'mixed localities: one gateway endpoint per (gateway, locality)',
      [loc('r1', ep('a1', 'net-a'), ep('b1', 'net-b', { weight: 2 })), loc('r2', ep('b2', 'net-b', { weight: 5 }), ep('b3', 'net-b'))],
      [gw('net-b', '192.0.2.1')],
      'net-a',
      ['r1: a1*1, gw 192.0.2.1:15443*2 (w 3)', 'r2: gw 192.0.2.1:15443*6 (w 6)'],
    ],
    [
      'an odd weight over two gateways: integer share each, as istiod divides',
      [loc('r1', ep('b1', 'net-b', { weight: 3 }))],
      [gw('net-b', '192.0.2.1'), gw('net-b', '192.0.2.2'), gw('net-c', '198.51.100.1'), gw('net-c', '198.51.100.2'), gw('net-c', '198.51.100.3')],
      'net-a',
      ['r1: gw 192.0.2.1:15443*9, gw 192.0.2.2:15443*9 (w 18)'],
    ],
    [
      'gateways of the endpoint\u2019s (network, cluster) first, else the network\u2019s',
      [loc('r1', ep('b1', 'net-b', { cluster: 'east' }), ep('b2', 'net-b', { cluster: 'west' }))],
      [gw('net-b', '192.0.2.1', 15443, 'east'), gw('net-b', '192.0.2.2', 15443, '')],
      'net-a',
      // scale: per network 2, per (network, cluster) 1 and 1 -> 2; b1 to its cluster's only, b2 split
      ['r1: gw 192.0.2.1:15443*3, gw 192.0.2.2:15443*1 (w 4)'],
    ],
    [
      'a weight that would overflow saturates at 2^32-1 before the split',
      [loc('r1', ep('b1', 'net-b', { weight: 3_000_000_000 }))],
      [gw('net-b', '192.0.2.1'), gw('net-b', '192.0.2.2')],
      'net-a',
      ['r1: gw 192.0.2.1:15443*2147483647, gw 192.0.2.2:15443*2147483647 (w 4294967294)'],
    ],
  ])('%s', (_name, locs, gateways, network, want) => {
    expect(run(locs, gateways, network)).toEqual(want);
  });

  it.each([
    ['requested network view: other networks are not seen at all (no gateway config needed)', [], ['net-a'], ['r1: a1*1, x*1 (w 2)']],
    ['a locality with nothing in view disappears', [], ['net-c'], ['r1: x*1 (w 1)']],
    ['with gateways: the view filters first, the rest folds', [gw('net-b', '192.0.2.1')], ['net-b'], ['r1: x*1, gw 192.0.2.1:15443*1 (w 2)']],
  ])('%s', (_name, gateways, view, want) => {
    const locs = [loc('r1', ep('a1', 'net-a'), ep('b1', 'net-b'), ep('x', '')), loc('r2', ep('a2', 'net-a'))];
    const got = run(locs, gateways, 'net-a', view);
    expect(got.filter((l) => l.startsWith('r1'))).toEqual(want);
    expect(got.some((l) => l.startsWith('r2'))).toBe(view.includes('net-a'));
  });
});

describe('split horizon: end to end through the EDS cache', () => {
  const C = 'outbound|80||a.pay.svc.cluster.local';
  const entries = [
    we('c1', { address: '10.0.0.1', locality: 'r1/z1', network: 'cluster', serviceAccount: 'sa', labels: { app: 'a' } }),
    we('v1', { address: '10.1.0.1', locality: 'r1/z1', network: 'vm', serviceAccount: 'sa', weight: 3, labels: { app: 'a' } }),
    we('v2', { address: '10.1.0.2', locality: 'r2/z1', network: 'vm', serviceAccount: 'sa', labels: { app: 'a' } }),
    we('v3', { address: '10.1.0.3', locality: 'r2/z1', network: 'vm', labels: { app: 'a' } }),
  ];
  const service = svc('a', { app: 'a' }, [{ name: 'http', port: 80 }]);
  const gateways = new NetworkGateways([gw('vm', '192.0.2.1'), gw('vm', '192.0.2.2')]);

  function cla(eds: ReturnType<typeof mesh>['eds'], p = proxy('r1/z1', { network: 'cluster' })): ClaJson {
    return toCanonicalJson('ClusterLoadAssignment', eds.view(C, p)!.bytes) as unknown as ClaJson;
  }
  const endpoints = (c: ClaJson) =>
    (c.endpoints ?? []).map((g) => `${g.locality?.region}@${g.priority ?? 0}:${g.loadBalancingWeight ?? 'none'} ${(g.lbEndpoints ?? []).map((e) => `${e.endpoint?.address?.socketAddress?.address}*${e.loadBalancingWeight}`).join(',')}`);

  it('folds the VM network into its gateways, with istiod metadata, and keeps byte sharing per network', () => {
    const { eds } = mesh([...entries, service]);
    eds.setNetworkGateways(gateways);
    const c = cla(eds);
    expect(endpoints(c)).toEqual(['r1@0:8 10.0.0.1*2,192.0.2.1*3,192.0.2.2*3', 'r2@0:2 192.0.2.1*1,192.0.2.2*1']);
    const gwEp = c.endpoints![0]!.lbEndpoints![1]! as { metadata?: unknown };
    expect(gwEp.metadata).toEqual({ filterMetadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' }, istio: { workload: ';;;;' } } });
    // Proxies on one network share bytes whatever their locality (no locality rule here).
    expect(eds.view(C, proxy('r1/z1', { network: 'cluster' }))!.bytes).toBe(eds.view(C, proxy('r9/z9', { network: 'cluster' }))!.bytes);
    // The VM network sees its own endpoints and the cluster's (no gateway: passed through), all scaled by 2.
    expect(endpoints(cla(eds, proxy('r1/z1', { network: 'vm' })))).toEqual(['r1@0:8 10.0.0.1*2,10.1.0.1*6', 'r2@0:4 10.1.0.2*2,10.1.0.3*2']);
  });

  it('rewrites a cached endpoint field to a scaled weight byte for byte as encoding it afresh would', () => {
    const { eds, registry } = mesh([...entries, service]);
    eds.view(C, proxy('r1/z1')); // joins the bodies
    const cluster = new ClusterEndpoints();
    cluster.reset(registry.endpointsOf(C));
    let checked = 0;
    for (const g of cluster.localities()) {
      const body = g.body;
      for (const e of g.endpoints) {
        for (const w of [1, 2, 127, 128, 300, 16_384, 2_147_483_647, 4_294_967_295]) {
          const out = new Uint8Array(reweightedSize(body, e.fieldOffset, e.weight, w));
          expect(writeReweighted(body, e.fieldOffset, e.weight, w, out, 0)).toBe(out.length);
          expect(Buffer.from(out).toString('hex')).toBe(Buffer.from(cluster.encodeWithWeight(e, w)).toString('hex'));
          checked++;
        }
      }
    }
    expect(checked).toBe(32);
  });

  it('after one change only its locality is split again; the bytes are those of a fresh build', () => {
    const { eds, store } = mesh([...entries, service]);
    eds.setNetworkGateways(gateways);
    const p = proxy('r1/z1', { network: 'cluster' });
    const first = eds.view(C, p)!;
    const splits0 = networkCounters.localitySplits;
    const reuses0 = networkCounters.localityReuses;
    // v2 (r2) gets heavier: r1 is reused as it was.
    store.commit([{ op: 'apply', resource: we('v2', { ...entries[2]!.spec, weight: 5 }) }]);
    const after = eds.view(C, p)!;
    expect(networkCounters.localitySplits - splits0).toBe(1);
    expect(networkCounters.localityReuses - reuses0).toBe(1);
    expect(after.bytes).not.toEqual(first.bytes);
    expect(Buffer.from(after.bytes).equals(Buffer.from(eds.buildUncached(C, p)!.bytes))).toBe(true);
    expect(endpoints(toCanonicalJson('ClusterLoadAssignment', after.bytes) as unknown as ClaJson)).toEqual([
      'r1@0:8 10.0.0.1*2,192.0.2.1*3,192.0.2.2*3',
      'r2@0:10 192.0.2.1*5,192.0.2.2*5',
    ]);
    // Other gateways: everything again.
    eds.setNetworkGateways(new NetworkGateways([gw('vm', '192.0.2.1')]));
    const s1 = networkCounters.localitySplits;
    eds.view(C, p);
    expect(networkCounters.localitySplits - s1).toBe(2);
  });

  it('runs the locality rules on the folded groups: failover priorities, and an emptied locality without weight', () => {
    const rule = dr('a', { host: 'a.pay.svc.cluster.local', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1 } } });
    const onlyPlain = [entries[0]!, entries[3]!]; // c1 on cluster, v3 (no mTLS) on vm
    const { eds } = mesh([...onlyPlain, service, rule]);
    eds.setNetworkGateways(gateways);
    expect(endpoints(cla(eds))).toEqual(['r1@0:2 10.0.0.1*2', 'r2@1:none ']);
  });

  it('a single-network mesh keeps its view keys; gateways appearing re-push every cluster', () => {
    const { eds } = mesh([...entries, service]);
    const plain = eds.view(C, proxy('r1/z1', { network: 'cluster' }))!;
    expect(plain.key).toBe('-');
    const changed: string[][] = [];
    eds.onChange((cs) => changed.push([...cs]));
    eds.setNetworkGateways(gateways);
    eds.setNetworkGateways(new NetworkGateways([gw('vm', '192.0.2.2'), gw('vm', '192.0.2.1')])); // the same set: nothing
    expect(changed).toEqual([[C]]);
    expect(eds.view(C, proxy('r1/z1', { network: 'cluster' }))!.key).toBe('cluster\u0002-');
  });

  it('the LB model treats each gateway endpoint as one host with its weight', () => {
    const { eds } = mesh([...entries, service]);
    eds.setNetworkGateways(gateways);
    const shares = computeShares(cla(eds), { client: 'envoy', panicThreshold: 0 });
    // A gateway shows once per locality it stands for: one host in each.
    const hosts = shares.endpoints.map((e) => `${e.locality} ${e.address} ${Math.round(e.share * 1000) / 1000}`);
    // Localities 8:2; within r1 2:3:3, within r2 1:1.
    expect(hosts).toEqual(['r1/z1/ 10.0.0.1:80 0.2', 'r1/z1/ 192.0.2.1:15443 0.3', 'r1/z1/ 192.0.2.2:15443 0.3', 'r2/z1/ 192.0.2.1:15443 0.1', 'r2/z1/ 192.0.2.2:15443 0.1']);
  });
});
