// SPEC §4 end to end: config -> registry -> view, one table per rule.
import { describe, expect, it } from 'vitest';
import type { LocalityLbSetting, TrafficPolicy } from '../../src/config/resources.js';
import { dr, mesh, proxy, summarize, svc, we } from '../helpers/mesh.js';

const C = 'outbound|80||a.pay.svc.cluster.local';
const LOCS = ['r1/z1/s1', 'r1/z1/s2', 'r1/z2/s1', 'r2/z1/s1', 'r3/z1/s1'];
const entries = LOCS.map((l, i) => we(`vm${i}`, { address: `10.0.0.${i + 1}`, locality: l, labels: { app: 'a' } }));
const service = svc('a', { app: 'a' }, [{ name: 'http', port: 80 }]);
const OD = { consecutive5xxErrors: 1 };

function run(policy: TrafficPolicy | undefined, p = proxy('r1/z1/s1')) {
  const rules = policy ? [dr('a', { host: 'a', trafficPolicy: policy })] : [];
  return summarize(mesh([...entries, service, ...rules]).eds, C, p);
}
const lb = (s: LocalityLbSetting, outlier = true): TrafficPolicy => ({
  loadBalancer: { localityLbSetting: s },
  ...(outlier ? { outlierDetection: OD } : {}),
});
const prio = (lines: string[]) => lines.map((l) => l.split(' ').slice(0, 2).join(' '));

describe('failover priorities (SPEC §4)', () => {
  it.each([
    ['no DestinationRule: mesh default, but no outlierDetection -> no priorities', undefined, ['r1/z1/s1 p0', 'r1/z1/s2 p0', 'r1/z2/s1 p0', 'r2/z1/s1 p0', 'r3/z1/s1 p0']],
    ['outlierDetection alone enables proximity priorities', { outlierDetection: OD }, ['r1/z1/s1 p0', 'r1/z1/s2 p1', 'r1/z2/s1 p2', 'r2/z1/s1 p3', 'r3/z1/s1 p3']],
    ['localityLbSetting without outlierDetection: no priorities', lb({ enabled: true }, false), ['r1/z1/s1 p0', 'r1/z1/s2 p0', 'r1/z2/s1 p0', 'r2/z1/s1 p0', 'r3/z1/s1 p0']],
    ['enabled: false turns it off even with outlierDetection', lb({ enabled: false }), ['r1/z1/s1 p0', 'r1/z1/s2 p0', 'r1/z2/s1 p0', 'r2/z1/s1 p0', 'r3/z1/s1 p0']],
    ['failover to a region: others drop to 4, then compaction', lb({ failover: [{ from: 'r1', to: 'r3' }] }), ['r1/z1/s1 p0', 'r1/z1/s2 p1', 'r1/z2/s1 p2', 'r2/z1/s1 p4', 'r3/z1/s1 p3']],
    ['failover rule for another region is ignored', lb({ failover: [{ from: 'r2', to: 'r3' }] }), ['r1/z1/s1 p0', 'r1/z1/s2 p1', 'r1/z2/s1 p2', 'r2/z1/s1 p3', 'r3/z1/s1 p3']],
    ['only the first matching failover rule counts', lb({ failover: [{ from: 'r1', to: 'r2' }, { from: 'r1', to: 'r3' }] }), ['r1/z1/s1 p0', 'r1/z1/s2 p1', 'r1/z2/s1 p2', 'r2/z1/s1 p3', 'r3/z1/s1 p4']],
  ])('%s', (_n, policy, want) => {
    expect(prio(run(policy as TrafficPolicy | undefined))).toEqual(want);
  });

  it.each([
    // proxy in r2: r2 p0; r1 and r3 are other regions -> 3, compacted to 1
    ['r2/z1/s1', ['r1/z1/s1 p1', 'r1/z1/s2 p1', 'r1/z2/s1 p1', 'r2/z1/s1 p0', 'r3/z1/s1 p1']],
    // proxy in r1/z2/s9: same zone (1) -> 0; r1/z1 same region (2) -> 1; others (3) -> 2
    ['r1/z2/s9', ['r1/z1/s1 p1', 'r1/z1/s2 p1', 'r1/z2/s1 p0', 'r2/z1/s1 p2', 'r3/z1/s1 p2']],
    // proxy without locality: every endpoint is another region
    ['', ['r1/z1/s1 p0', 'r1/z1/s2 p0', 'r1/z2/s1 p0', 'r2/z1/s1 p0', 'r3/z1/s1 p0']],
  ])('compaction relative to proxy %s', (loc, want) => {
    expect(prio(run({ outlierDetection: OD }, proxy(loc)))).toEqual(want);
  });
});

describe('distribute (SPEC §4)', () => {
  it.each([
    [
      'weights by pattern, ceil(own x percent / pattern total)',
      { distribute: [{ from: 'r1/z1/*', to: { 'r1/z1/*': 70, 'r2/*': 30 } }] },
      // r1/z1 has two localities of weight 1 each: ceil(1*70/2)=35 each; r2 one: 30
      ['r1/z1/s1 p0 w35 [10.0.0.1:80]', 'r1/z1/s2 p0 w35 [10.0.0.2:80]', 'r1/z2/s1 p0 w1 []', 'r2/z1/s1 p0 w30 [10.0.0.4:80]', 'r3/z1/s1 p0 w1 []'],
    ],
    [
      'ceil rounding of uneven splits',
      { distribute: [{ from: 'r1/*', to: { 'r1/*': 100 } }] },
      // three r1 localities of weight 1: ceil(100/3) = 34
      ['r1/z1/s1 p0 w34 [10.0.0.1:80]', 'r1/z1/s2 p0 w34 [10.0.0.2:80]', 'r1/z2/s1 p0 w34 [10.0.0.3:80]', 'r2/z1/s1 p0 w1 []', 'r3/z1/s1 p0 w1 []'],
    ],
    [
      'overlapping patterns: the first (document order) claims a locality',
      { distribute: [{ from: '*', to: { 'r1/z1/*': 60, 'r1/*': 40 } }] },
      ['r1/z1/s1 p0 w30 [10.0.0.1:80]', 'r1/z1/s2 p0 w30 [10.0.0.2:80]', 'r1/z2/s1 p0 w40 [10.0.0.3:80]', 'r2/z1/s1 p0 w1 []', 'r3/z1/s1 p0 w1 []'],
    ],
    [
      'proxy matching no rule: unchanged',
      { distribute: [{ from: 'r9/*', to: { 'r1/*': 100 } }] },
      ['r1/z1/s1 p0 w1 [10.0.0.1:80]', 'r1/z1/s2 p0 w1 [10.0.0.2:80]', 'r1/z2/s1 p0 w1 [10.0.0.3:80]', 'r2/z1/s1 p0 w1 [10.0.0.4:80]', 'r3/z1/s1 p0 w1 [10.0.0.5:80]'],
    ],
    [
      'only the first matching rule applies',
      { distribute: [{ from: 'r1/z1/*', to: { 'r2/*': 100 } }, { from: 'r1/*', to: { 'r1/*': 100 } }] },
      ['r1/z1/s1 p0 w1 []', 'r1/z1/s2 p0 w1 []', 'r1/z2/s1 p0 w1 []', 'r2/z1/s1 p0 w100 [10.0.0.4:80]', 'r3/z1/s1 p0 w1 []'],
    ],
    [
      'distribute wins over failover and sets no priorities',
      { distribute: [{ from: 'r1/*', to: { 'r3/*': 100 } }], failover: [{ from: 'r1', to: 'r2' }] },
      ['r1/z1/s1 p0 w1 []', 'r1/z1/s2 p0 w1 []', 'r1/z2/s1 p0 w1 []', 'r2/z1/s1 p0 w1 []', 'r3/z1/s1 p0 w100 [10.0.0.5:80]'],
    ],
  ])('%s', (_n, setting, want) => {
    expect(run(lb(setting as LocalityLbSetting))).toEqual(want);
  });

  it('applies without outlierDetection (only failover needs it)', () => {
    expect(run(lb({ distribute: [{ from: '*', to: { 'r2/*': 100 } }] }, false))[3]).toBe('r2/z1/s1 p0 w100 [10.0.0.4:80]');
  });

  it('uses entry weights: a heavier locality gets a larger share of its pattern', () => {
    const heavy = [
      we('h1', { address: '10.1.0.1', locality: 'r1/z1/s1', weight: 3, labels: { app: 'a' } }),
      we('h2', { address: '10.1.0.2', locality: 'r1/z2/s1', weight: 1, labels: { app: 'a' } }),
    ];
    const rule = dr('a', { host: 'a', trafficPolicy: lb({ distribute: [{ from: '*', to: { 'r1/*': 10 } }] }) });
    // ceil(3*10/4)=8, ceil(1*10/4)=3
    expect(summarize(mesh([...heavy, service, rule]).eds, C, proxy('r1/z1/s1'))).toEqual([
      'r1/z1/s1 p0 w8 [10.1.0.1:80*3]',
      'r1/z2/s1 p0 w3 [10.1.0.2:80]',
    ]);
  });
});

describe('failoverPriority (SPEC §4)', () => {
  const labelled = [
    we('a1', { address: '10.2.0.1', locality: 'r1/z1/s1', labels: { app: 'a', tier: 'gold', env: 'prod' } }),
    we('a2', { address: '10.2.0.2', locality: 'r1/z1/s1', labels: { app: 'a', tier: 'gold', env: 'dev' } }),
    we('a3', { address: '10.2.0.3', locality: 'r1/z1/s1', labels: { app: 'a', tier: 'silver', env: 'prod' } }),
    we('a4', { address: '10.2.0.4', locality: 'r2/z1/s1', labels: { app: 'a', tier: 'gold', env: 'prod' }, weight: 4 }),
  ];
  const runFp = (setting: LocalityLbSetting, p: ReturnType<typeof proxy>) =>
    summarize(mesh([...labelled, service, dr('a', { host: 'a', trafficPolicy: lb(setting) })]).eds, C, p);

  it.each([
    [
      'labels only, proximity not used: all-match 0, first mismatch at j -> n-j, compacted',
      { failoverPriority: ['tier', 'env'] },
      proxy('r1/z1/s1', { labels: { tier: 'gold', env: 'prod' } }),
      // a1 0, a2 1, a3 2, a4 0 (other region but same labels)
      ['r1/z1/s1 p0 w1 [10.2.0.1:80]', 'r1/z1/s1 p1 w1 [10.2.0.2:80]', 'r1/z1/s1 p2 w1 [10.2.0.3:80]', 'r2/z1/s1 p0 w4 [10.2.0.4:80*4]'],
    ],
    [
      'label=value compares endpoints to the value, whatever the proxy has',
      { failoverPriority: ['env=dev'] },
      proxy('r1/z1/s1', { labels: { env: 'prod' } }),
      // within a locality, the split groups come in priority order
      ['r1/z1/s1 p0 w1 [10.2.0.2:80]', 'r1/z1/s1 p1 w2 [10.2.0.1:80,10.2.0.3:80]', 'r2/z1/s1 p1 w4 [10.2.0.4:80*4]'],
    ],
    [
      'with failover too: labelPriority x 5 + localityPriority, compacted',
      { failoverPriority: ['tier'], failover: [{ from: 'r1', to: 'r2' }] },
      proxy('r1/z1/s1', { labels: { tier: 'gold' } }),
      // a1,a2: 0*5+0=0; a3: 1*5+0=5; a4: 0*5+3=3 -> 0,2,1
      ['r1/z1/s1 p0 w2 [10.2.0.1:80,10.2.0.2:80]', 'r1/z1/s1 p2 w1 [10.2.0.3:80]', 'r2/z1/s1 p1 w4 [10.2.0.4:80*4]'],
    ],
    [
      'topology labels are labels: network',
      { failoverPriority: ['topology.istio.io/network'] },
      proxy('r1/z1/s1', { network: 'n2' }),
      ['r1/z1/s1 p0 w3 [10.2.0.1:80,10.2.0.2:80,10.2.0.3:80]', 'r2/z1/s1 p0 w4 [10.2.0.4:80*4]'],
    ],
    [
      'proxy without any labels (not even topology ones): no split',
      { failoverPriority: ['tier'] },
      proxy('', { clusterId: '' }),
      ['r1/z1/s1 p0 w3 [10.2.0.1:80,10.2.0.2:80,10.2.0.3:80]', 'r2/z1/s1 p0 w4 [10.2.0.4:80*4]'],
    ],
    [
      'proxy lacking the label compares as empty: endpoints with the label mismatch',
      { failoverPriority: ['tier'] },
      proxy('r1/z1/s1', { labels: { other: 'x' } }),
      ['r1/z1/s1 p0 w3 [10.2.0.1:80,10.2.0.2:80,10.2.0.3:80]', 'r2/z1/s1 p0 w4 [10.2.0.4:80*4]'],
    ],
    [
      'region label from the locality',
      { failoverPriority: ['topology.kubernetes.io/region'] },
      proxy('r2/z9/s9'),
      ['r1/z1/s1 p1 w3 [10.2.0.1:80,10.2.0.2:80,10.2.0.3:80]', 'r2/z1/s1 p0 w4 [10.2.0.4:80*4]'],
    ],
    [
      // istiod keeps one fixed value per label name: env=dev applies to the first entry too.
      'label=value fixes the label wherever it is listed',
      { failoverPriority: ['env', 'tier', 'env=dev'] },
      proxy('r1/z1/s1', { labels: { env: 'prod', tier: 'gold' } }),
      // a2 matches all three (env dev, tier gold); a1, a3, a4 fail env=dev at j=0 -> 3
      ['r1/z1/s1 p0 w1 [10.2.0.2:80]', 'r1/z1/s1 p1 w2 [10.2.0.1:80,10.2.0.3:80]', 'r2/z1/s1 p1 w4 [10.2.0.4:80*4]'],
    ],
  ])('%s', (_n, setting, p, want) => {
    expect(runFp(setting as LocalityLbSetting, p)).toEqual(want);
  });

  it('network listed first: other networks rank after it, still ordered by the remaining labels', () => {
    const entries = [
      we('b1', { address: '10.3.0.1', locality: 'r1/z1/s1', network: 'n1', labels: { app: 'a', tier: 'gold' } }),
      we('b2', { address: '10.3.0.2', locality: 'r1/z1/s1', network: 'n1', labels: { app: 'a', tier: 'silver' } }),
      we('b3', { address: '10.3.0.3', locality: 'r2/z1/s1', network: 'n2', labels: { app: 'a', tier: 'gold' } }),
      we('b4', { address: '10.3.0.4', locality: 'r2/z1/s1', network: 'n2', labels: { app: 'a', tier: 'silver' } }),
    ];
    const rule = dr('a', { host: 'a', trafficPolicy: lb({ failoverPriority: ['topology.istio.io/network', 'tier'] }) });
    const got = summarize(mesh([...entries, service, rule]).eds, C, proxy('r1/z1/s1', { network: 'n1', labels: { tier: 'gold' } }));
    // b1 0; b2 2-1 = 1; b3 network differs: 2 + (tier matches) 0 = 2; b4 2 + 1 = 3
    expect(got).toEqual(['r1/z1/s1 p0 w1 [10.3.0.1:80]', 'r1/z1/s1 p1 w1 [10.3.0.2:80]', 'r2/z1/s1 p2 w1 [10.3.0.3:80]', 'r2/z1/s1 p3 w1 [10.3.0.4:80]']);
  });
});

describe('policy selection: ports and subsets (SPEC §4)', () => {
  it('port-level settings replace the top-level ones (no inheritance of outlierDetection)', () => {
    const policy: TrafficPolicy = {
      outlierDetection: OD,
      portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'ROUND_ROBIN' } }],
    };
    expect(prio(run(policy))).toEqual(['r1/z1/s1 p0', 'r1/z1/s2 p0', 'r1/z2/s1 p0', 'r2/z1/s1 p0', 'r3/z1/s1 p0']);
  });

  it('port-level settings for another port do not apply', () => {
    const policy: TrafficPolicy = { outlierDetection: OD, portLevelSettings: [{ port: { number: 81 }, loadBalancer: {} }] };
    expect(prio(run(policy))[1]).toBe('r1/z1/s2 p1');
  });

  it('subsets are clusters filtered by subset labels, with their own policy on top', () => {
    const items = [
      we('v1', { address: '10.3.0.1', locality: 'r1/z1/s1', labels: { app: 'a', version: 'v1' } }),
      we('v2a', { address: '10.3.0.2', locality: 'r1/z1/s1', labels: { app: 'a', version: 'v2' } }),
      we('v2b', { address: '10.3.0.3', locality: 'r2/z1/s1', labels: { app: 'a', version: 'v2' } }),
      service,
      dr('a', {
        host: 'a.pay.svc.cluster.local',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { outlierDetection: OD } },
        ],
      }),
    ];
    const { eds, registry } = mesh(items);
    expect(registry.clusterNames().sort()).toEqual([C, 'outbound|80|v1|a.pay.svc.cluster.local', 'outbound|80|v2|a.pay.svc.cluster.local'].sort());
    const p = proxy('r2/z1/s1');
    expect(summarize(eds, C, p)).toEqual(['r1/z1/s1 p0 w2 [10.3.0.1:80,10.3.0.2:80]', 'r2/z1/s1 p0 w1 [10.3.0.3:80]']);
    expect(summarize(eds, 'outbound|80|v1|a.pay.svc.cluster.local', p)).toEqual(['r1/z1/s1 p0 w1 [10.3.0.1:80]']);
    expect(summarize(eds, 'outbound|80|v2|a.pay.svc.cluster.local', p)).toEqual(['r1/z1/s1 p1 w1 [10.3.0.2:80]', 'r2/z1/s1 p0 w1 [10.3.0.3:80]']);
  });

  it('a DestinationRule in another namespace with a FQDN host applies; its short name resolves in its own namespace', () => {
    const fqdn = dr('a', { host: 'a.pay.svc.cluster.local', trafficPolicy: { outlierDetection: OD } }, 'istio-system');
    expect(prio(summarize(mesh([...entries, service, fqdn]).eds, C, proxy('r1/z1/s1')))[1]).toBe('r1/z1/s2 p1');
    const short = dr('a', { host: 'a', trafficPolicy: { outlierDetection: OD } }, 'other');
    expect(prio(summarize(mesh([...entries, service, short]).eds, C, proxy('r1/z1/s1')))[1]).toBe('r1/z1/s2 p0');
  });
});

describe('health and weights (SPEC §2, §4)', () => {
  const items = [
    we('ok', { address: '10.4.0.1', locality: 'r1/z1/s1', labels: { app: 'a' }, weight: 2 }, { healthy: true }),
    we('bad', { address: '10.4.0.2', locality: 'r1/z1/s1', labels: { app: 'a' } }, { healthy: false }),
    we('unchecked', { address: '10.4.0.3', locality: 'r1/z1/s1', labels: { app: 'a' } }),
    service,
  ];
  it('health-checked and not Healthy: left out, weights re-summed', () => {
    expect(summarize(mesh(items).eds, C)).toEqual(['r1/z1/s1 p0 w3 [10.4.0.1:80*2,10.4.0.3:80]']);
  });
  it('with PILOT_SEND_UNHEALTHY_ENDPOINTS too: istiod drops a WorkloadEntry that is not Healthy before EDS', () => {
    // serviceentry controller buildCollections: WorkloadEntryHealthChecks && !isHealthy -> no workload.
    expect(summarize(mesh(items, { sendUnhealthy: true }).eds, C)).toEqual(['r1/z1/s1 p0 w3 [10.4.0.1:80*2,10.4.0.3:80]']);
  });
  it('locality weight saturates at 2^32-1', () => {
    const big = [
      we('b1', { address: '10.5.0.1', labels: { app: 'a' }, weight: 4294967295 }),
      we('b2', { address: '10.5.0.2', labels: { app: 'a' }, weight: 5 }),
      service,
    ];
    expect(summarize(mesh(big).eds, C)[0]).toBe('// p0 w4294967295 [10.5.0.1:80*4294967295,10.5.0.2:80*5]');
  });
});
