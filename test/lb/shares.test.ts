import { describe, expect, it } from 'vitest';
import {
  computeShares,
  formatSharesTable,
  type ClaJson,
  type ComputeSharesOptions,
  type HealthStatus,
  type LocalityLbEndpointsJson,
  type Shares,
} from '../../src/lb/index.js';

// ---- builders -------------------------------------------------------------------------------

type Ep = string | { ip: string; w?: number; s?: HealthStatus };

/** A LocalityLbEndpoints; `name` is "region/zone/subzone", endpoints listen on port 80. */
function loc(name: string, priority: number, weight: number | undefined, eps: Ep[]): LocalityLbEndpointsJson {
  const [region = '', zone = '', subZone = ''] = name.split('/');
  return {
    locality: { region, zone, subZone },
    priority,
    ...(weight !== undefined && { loadBalancingWeight: weight }),
    lbEndpoints: eps.map((e) => {
      const { ip, w, s } = typeof e === 'string' ? { ip: e } : e;
      return {
        endpoint: { address: { socketAddress: { address: ip, portValue: 80 } } },
        ...(w !== undefined && { loadBalancingWeight: w }),
        ...(s !== undefined && { healthStatus: s }),
      };
    }),
  };
}

function cla(...groups: LocalityLbEndpointsJson[]): ClaJson {
  return { clusterName: 'outbound|80||svc.ns.svc.cluster.local', endpoints: groups };
}

/** n endpoints 10.<p>.<l>.1..n */
function ips(p: number, l: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.${p}.${l}.${i + 1}`);
}

const addr = (ip: string): string => `${ip}:80`;

interface Case {
  name: string;
  cla: ClaJson;
  opts: ComputeSharesOptions;
  /** ip -> expected share; endpoints not listed must get 0. */
  endpoints: Record<string, number>;
  priorities?: Record<number, number>;
  health?: Record<number, number>;
  panic?: Record<number, boolean>;
  localities?: Record<string, number>;
  notes?: RegExp[];
}

function sum(xs: { share: number }[]): number {
  return xs.reduce((s, x) => s + x.share, 0);
}

function check(c: Case, s: Shares): void {
  for (const e of s.endpoints) {
    const ip = e.address.slice(0, e.address.lastIndexOf(':'));
    expect(e.share, `share of ${e.address}`).toBeCloseTo(c.endpoints[ip] ?? 0, 12);
  }
  for (const ip of Object.keys(c.endpoints)) {
    expect(s.endpoints.map((e) => e.address), 'expected endpoint present').toContain(addr(ip));
  }
  for (const [p, v] of Object.entries(c.priorities ?? {})) {
    expect(s.priorities.find((x) => x.priority === Number(p))?.share, `priority ${p}`).toBeCloseTo(v, 12);
  }
  for (const [p, v] of Object.entries(c.health ?? {})) {
    expect(s.priorities.find((x) => x.priority === Number(p))?.health, `health ${p}`).toBe(v);
  }
  for (const [p, v] of Object.entries(c.panic ?? {})) {
    expect(s.priorities.find((x) => x.priority === Number(p))?.panic, `panic ${p}`).toBe(v);
  }
  for (const [key, v] of Object.entries(c.localities ?? {})) {
    const [p, l] = key.split(' ');
    expect(s.localities.find((x) => x.priority === Number(p) && x.locality === l)?.share, key).toBeCloseTo(v, 12);
  }
  for (const re of c.notes ?? []) {
    expect(s.notes.some((n) => re.test(n)), `a note matching ${re}; notes: ${s.notes.join(' | ')}`).toBe(true);
  }
  const total = Object.values(c.endpoints).reduce((a, b) => a + b, 0);
  const want = total > 0 ? 1 : 0;
  expect(Math.abs(sum(s.endpoints) - want)).toBeLessThan(1e-9);
  expect(Math.abs(sum(s.localities) - want)).toBeLessThan(1e-9);
  expect(Math.abs(sum(s.priorities) - want)).toBeLessThan(1e-9);
}

// ---- Envoy ----------------------------------------------------------------------------------
// health(P) = min(100, floor(OF% * healthy / total)); NTA = min(100, sum health);
// load(Pi) = min(left, floor(health * 100 / NTA)), rounding remainder to the first P with health > 0.

const P0x7 = ips(0, 1, 7);
const P0x10 = ips(0, 1, 10);
const P1x10 = ips(1, 1, 10);

const envoyCases: Case[] = [
  {
    // One priority, all healthy: A weight 3 / B weight 1 -> 3/4, 1/4; in A endpoints 1:2.
    // a1 = .75 * 1/3 = .25, a2 = .75 * 2/3 = .5, b1 = .25
    name: 'all healthy, one priority: locality weight then endpoint weight',
    cla: cla(loc('r1/z1/', 0, 3, [{ ip: '10.0.1.1', w: 1 }, { ip: '10.0.1.2', w: 2 }]), loc('r1/z2/', 0, 1, ['10.0.2.1'])),
    opts: { client: 'envoy' },
    endpoints: { '10.0.1.1': 0.25, '10.0.1.2': 0.5, '10.0.2.1': 0.25 },
    priorities: { 0: 1 },
    health: { 0: 100 },
    panic: { 0: false },
    localities: { '0 r1/z1/': 0.75, '0 r1/z2/': 0.25 },
  },
  {
    // P0 1/2 healthy: health = floor(140*1/2) = 70; P1 100; NTA = 100 -> 70 / min(30, 100) = 30.
    name: 'P0 50% healthy spills 30% to P1',
    cla: cla(loc('r1/z1/', 0, 2, ['10.0.1.1', '10.0.1.2']), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'envoy', unhealthy: ['10.0.1.2:80'] },
    endpoints: { '10.0.1.1': 0.7, '10.1.1.1': 0.3 },
    priorities: { 0: 0.7, 1: 0.3 },
    health: { 0: 70, 1: 100 },
    panic: { 0: false, 1: false },
  },
  {
    // 5/7 healthy (71.4%): floor(140*5/7) = floor(100) = 100 -> P0 keeps everything.
    name: 'P0 5/7 healthy keeps 100%',
    cla: cla(loc('r1/z1/', 0, 7, P0x7), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'envoy', unhealthy: P0x7.slice(5).map(addr) },
    endpoints: Object.fromEntries(P0x7.slice(0, 5).map((ip) => [ip, 1 / 5])),
    priorities: { 0: 1, 1: 0 },
    health: { 0: 100, 1: 100 },
  },
  {
    // 3/4 healthy: floor(140*3/4) = 105 -> capped 100.
    name: 'P0 75% healthy keeps 100%',
    cla: cla(loc('r1/z1/', 0, 4, ips(0, 1, 4)), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'envoy', unhealthy: ['10.0.1.4:80'] },
    endpoints: { '10.0.1.1': 1 / 3, '10.0.1.2': 1 / 3, '10.0.1.3': 1 / 3 },
    priorities: { 0: 1, 1: 0 },
  },
  {
    // 2/3 healthy: floor(280/3) = floor(93.33) = 93 -> 93 / 7 (integer percent, not 93.33 / 6.67).
    name: 'P0 2/3 healthy: integer percent 93/7',
    cla: cla(loc('r1/z1/', 0, 3, ips(0, 1, 3)), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'envoy', unhealthy: ['10.0.1.3:80'] },
    endpoints: { '10.0.1.1': 0.465, '10.0.1.2': 0.465, '10.1.1.1': 0.07 },
    priorities: { 0: 0.93, 1: 0.07 },
    health: { 0: 93 },
  },
  {
    // 3/7 healthy (42.9% < 50) but floor(140*3/7) = 60 and P1 = 100 -> NTA 100: no panic, 60/40.
    name: 'P0 below panic threshold but NTA 100: no panic',
    cla: cla(loc('r1/z1/', 0, 7, P0x7), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'envoy', unhealthy: P0x7.slice(3).map(addr) },
    endpoints: { ...Object.fromEntries(P0x7.slice(0, 3).map((ip) => [ip, 0.2])), '10.1.1.1': 0.4 },
    priorities: { 0: 0.6, 1: 0.4 },
    panic: { 0: false, 1: false },
  },
  {
    // P0 1/4 -> floor(35) = 35; P1 1/4 -> 35; P2 all -> 100; NTA 100.
    // loads: 35, min(65, 35) = 35, min(30, 100) = 30.
    name: 'three priorities',
    cla: cla(
      loc('r1/z1/', 0, 4, ips(0, 1, 4)),
      loc('r1/z2/', 1, 4, ips(1, 1, 4)),
      loc('r2/z1/', 2, 2, ips(2, 1, 2)),
    ),
    opts: { client: 'envoy', unhealthy: ['10.0.1.2:80', '10.0.1.3:80', '10.0.1.4:80', '10.1.1.2:80', '10.1.1.3:80', '10.1.1.4:80'] },
    endpoints: { '10.0.1.1': 0.35, '10.1.1.1': 0.35, '10.2.1.1': 0.15, '10.2.1.2': 0.15 },
    priorities: { 0: 0.35, 1: 0.35, 2: 0.3 },
    health: { 0: 35, 1: 35, 2: 100 },
  },
  {
    // P0 2/10 -> floor(28) = 28; P1 5/10 -> 70; NTA 98 < 100.
    // P0 floor(2800/98) = 28, P1 min(72, floor(7000/98) = 71) = 71, remainder 1 -> P0: 29 / 71.
    // P0 20% < 50 -> panic: its 29% over all 10 hosts (0.029 each); P1 50% is not < 50.
    name: 'panic in P0 only (NTA 98), rounding remainder to P0',
    cla: cla(loc('r1/z1/', 0, 10, P0x10), loc('r2/z1/', 1, 10, P1x10)),
    opts: { client: 'envoy', unhealthy: [...P0x10.slice(2), ...P1x10.slice(5)].map(addr) },
    endpoints: {
      ...Object.fromEntries(P0x10.map((ip) => [ip, 0.029])),
      ...Object.fromEntries(P1x10.slice(0, 5).map((ip) => [ip, 0.142])),
    },
    priorities: { 0: 0.29, 1: 0.71 },
    health: { 0: 28, 1: 70 },
    panic: { 0: true, 1: false },
    notes: [/priority 0 in panic/],
  },
  {
    // Same hosts, panic threshold 0: no panic, P0's 29% goes to its 2 healthy hosts.
    name: 'panic threshold 0 disables panic',
    cla: cla(loc('r1/z1/', 0, 10, P0x10), loc('r2/z1/', 1, 10, P1x10)),
    opts: { client: 'envoy', panicThreshold: 0, unhealthy: [...P0x10.slice(2), ...P1x10.slice(5)].map(addr) },
    endpoints: {
      ...Object.fromEntries(P0x10.slice(0, 2).map((ip) => [ip, 0.145])),
      ...Object.fromEntries(P1x10.slice(0, 5).map((ip) => [ip, 0.142])),
    },
    panic: { 0: false, 1: false },
  },
  {
    // P0 1/4 -> 35, P1 1/4 -> 35: NTA 70, both < 50% healthy -> total panic: by host count 4:4.
    name: 'every priority in panic: split by host count',
    cla: cla(loc('r1/z1/', 0, 4, ips(0, 1, 4)), loc('r2/z1/', 1, 4, ips(1, 1, 4))),
    opts: { client: 'envoy', unhealthy: ['10.0.1.2:80', '10.0.1.3:80', '10.0.1.4:80', '10.1.1.2:80', '10.1.1.3:80', '10.1.1.4:80'] },
    endpoints: Object.fromEntries([...ips(0, 1, 4), ...ips(1, 1, 4)].map((ip) => [ip, 0.125])),
    priorities: { 0: 0.5, 1: 0.5 },
    panic: { 0: true, 1: true },
    notes: [/every priority is in panic/],
  },
  {
    // All down, one priority: NTA 0 -> total panic, P0 100% over all hosts by endpoint weight
    // (1, 1, 2 of 4); locality weights 10 vs 1 play no part in panic.
    name: 'everything down, one priority: P0 panic over all hosts',
    cla: cla(loc('r1/z1/', 0, 10, ['10.0.1.1', '10.0.1.2']), loc('r1/z2/', 0, 1, [{ ip: '10.0.2.1', w: 2 }])),
    opts: { client: 'envoy', unhealthy: ['10.0.1.1:80', '10.0.1.2:80', '10.0.2.1:80'] },
    endpoints: { '10.0.1.1': 0.25, '10.0.1.2': 0.25, '10.0.2.1': 0.5 },
    priorities: { 0: 1 },
    health: { 0: 0 },
    panic: { 0: true },
    notes: [/no healthy endpoint anywhere/],
  },
  {
    // All down, P0 2 hosts, P1 1 host: floor(200/3) = 66, floor(100/3) = 33, remainder 1 -> P0: 67/33.
    name: 'everything down, two priorities: split by host count',
    cla: cla(loc('r1/z1/', 0, 2, ['10.0.1.1', '10.0.1.2']), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'envoy', unhealthy: ['10.0.1.1:80', '10.0.1.2:80', '10.1.1.1:80'] },
    endpoints: { '10.0.1.1': 0.335, '10.0.1.2': 0.335, '10.1.1.1': 0.33 },
    priorities: { 0: 0.67, 1: 0.33 },
    panic: { 0: true, 1: true },
  },
  {
    // istiod's default sidecar cluster: LEAST_REQUEST, panic 0. Equally loaded hosts: by weight, 3:1.
    name: 'LEAST_REQUEST spreads by endpoint weight (hosts equally loaded)',
    cla: cla(loc('r1/z1/', 0, 1, [{ ip: '10.0.1.1', w: 3 }, '10.0.1.2'])),
    opts: { client: 'envoy', panicThreshold: 0, lbPolicy: 'LEAST_REQUEST' },
    endpoints: { '10.0.1.1': 0.75, '10.0.1.2': 0.25 },
    notes: [/LEAST_REQUEST: shares assume every host is equally loaded/],
  },
  {
    // RANDOM ignores endpoint weights inside a locality; locality weights 3:1 still apply.
    name: 'RANDOM: equal odds per host inside a locality',
    cla: cla(loc('r1/z1/', 0, 3, [{ ip: '10.0.1.1', w: 3 }, '10.0.1.2']), loc('r1/z2/', 0, 1, ['10.0.2.1'])),
    opts: { client: 'envoy', panicThreshold: 0, localityWeighted: true, lbPolicy: 'RANDOM' },
    endpoints: { '10.0.1.1': 0.375, '10.0.1.2': 0.375, '10.0.2.1': 0.25 },
    notes: [/RANDOM: Envoy picks hosts with equal odds/],
  },
  {
    // 1 of 4 healthy in P0 (35%), 50% threshold would panic it; istiod's 0 keeps P0 at its healthy host.
    name: "istiod's panic threshold 0: a mostly failed priority keeps only its healthy hosts",
    cla: cla(loc('r1/z1/', 0, 4, ips(0, 1, 4))),
    opts: { client: 'envoy', panicThreshold: 0, unhealthy: ['10.0.1.2:80', '10.0.1.3:80', '10.0.1.4:80'] },
    endpoints: { '10.0.1.1': 1, '10.0.1.2': 0, '10.0.1.3': 0, '10.0.1.4': 0 },
    panic: { 0: false },
  },
  {
    name: 'everything down with panic disabled: nothing routable',
    cla: cla(loc('r1/z1/', 0, 1, ['10.0.1.1'])),
    opts: { client: 'envoy', panicThreshold: 0, unhealthy: ['10.0.1.1:80'] },
    endpoints: {},
    notes: [/panic is disabled/],
  },
  {
    // Only C has a weight: C gets everything; weight 0 and missing weight both mean nothing.
    name: 'localities with weight 0 or none get nothing',
    cla: cla(loc('r1/z1/', 0, 0, ['10.0.1.1']), loc('r1/z2/', 0, undefined, ['10.0.2.1']), loc('r1/z3/', 0, 5, ['10.0.3.1', '10.0.3.2'])),
    opts: { client: 'envoy' },
    endpoints: { '10.0.3.1': 0.5, '10.0.3.2': 0.5 },
    notes: [/weight 0: Envoy's validation/, /r1\/z2\/ \(priority 0\) has no weight/],
  },
  {
    // No locality weights at all: plain weighted balancing over healthy hosts, 3:1.
    name: 'no locality weights: endpoint weights across the priority',
    cla: cla(loc('r1/z1/', 0, undefined, [{ ip: '10.0.1.1', w: 3 }]), loc('r1/z2/', 0, undefined, ['10.0.2.1'])),
    opts: { client: 'envoy' },
    endpoints: { '10.0.1.1': 0.75, '10.0.2.1': 0.25 },
  },
  {
    // A: 1 * min(1, 1.4 * 1/2) = 0.7, B: 1 -> A 0.7/1.7, B 1/1.7. Single priority: health
    // floor(140*2/3) = 93 = NTA, load floor(93*100/93) = 100; 67% healthy is not panic.
    name: 'locality weight scaled by its availability',
    cla: cla(loc('r1/z1/', 0, 1, ['10.0.1.1', '10.0.1.2']), loc('r1/z2/', 0, 1, ['10.0.2.1'])),
    opts: { client: 'envoy', unhealthy: ['10.0.1.2:80'] },
    endpoints: { '10.0.1.1': 0.7 / 1.7, '10.0.2.1': 1 / 1.7 },
  },
  {
    // Same without locality_weighted_lb_config: the two healthy hosts split evenly.
    name: 'locality weighting off',
    cla: cla(loc('r1/z1/', 0, 1, ['10.0.1.1', '10.0.1.2']), loc('r1/z2/', 0, 1, ['10.0.2.1'])),
    opts: { client: 'envoy', unhealthy: ['10.0.1.2:80'], localityWeighted: false },
    endpoints: { '10.0.1.1': 0.5, '10.0.2.1': 0.5 },
  },
  {
    // Healthy: a1 (HEALTHY), a4 (UNKNOWN); a2 UNHEALTHY, a3 DRAINING. 2/4 -> 70 / 30; a1, a4 .35 each.
    name: 'UNHEALTHY and DRAINING in the CLA',
    cla: cla(
      loc('r1/z1/', 0, 4, [
        { ip: '10.0.1.1', s: 'HEALTHY' },
        { ip: '10.0.1.2', s: 'UNHEALTHY' },
        { ip: '10.0.1.3', s: 'DRAINING' },
        { ip: '10.0.1.4', s: 'UNKNOWN' },
      ]),
      loc('r2/z1/', 1, 1, ['10.1.1.1']),
    ),
    opts: { client: 'envoy' },
    endpoints: { '10.0.1.1': 0.35, '10.0.1.4': 0.35, '10.1.1.1': 0.3 },
    notes: [/marked UNHEALTHY/, /marked DRAINING/],
  },
  {
    // DEGRADED counted as unhealthy: 1/2 -> 70 / 30, with a note.
    name: 'DEGRADED counted as unhealthy, with a note',
    cla: cla(loc('r1/z1/', 0, 2, ['10.0.1.1', { ip: '10.0.1.2', s: 'DEGRADED' }]), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'envoy' },
    endpoints: { '10.0.1.1': 0.7, '10.1.1.1': 0.3 },
    notes: [/DEGRADED/],
  },
  {
    // policy.overprovisioningFactor 100: 3/4 -> floor(100*3/4) = 75 -> 75 / 25.
    name: 'overprovisioning factor from the CLA policy',
    cla: { ...cla(loc('r1/z1/', 0, 4, ips(0, 1, 4)), loc('r2/z1/', 1, 1, ['10.1.1.1'])), policy: { overprovisioningFactor: 100 } },
    opts: { client: 'envoy', unhealthy: ['10.0.1.4:80'] },
    endpoints: { '10.0.1.1': 0.25, '10.0.1.2': 0.25, '10.0.1.3': 0.25, '10.1.1.1': 0.25 },
    health: { 0: 75 },
  },
  {
    // Option 200 overrides the CLA's 100: 1/2 -> floor(200/2) = 100 -> P0 keeps 100%; locality
    // A = 1 * min(1, 2 * 1/2) = 1 = B -> a1 .5, b1 .5.
    name: 'overprovisioning factor option overrides the CLA',
    cla: {
      ...cla(loc('r1/z1/', 0, 1, ['10.0.1.1', '10.0.1.2']), loc('r1/z2/', 0, 1, ['10.0.2.1', '10.0.2.2']), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
      policy: { overprovisioningFactor: 100 },
    },
    opts: { client: 'envoy', overprovisioningFactor: 200, unhealthy: ['10.0.1.2:80', '10.0.2.2:80'] },
    endpoints: { '10.0.1.1': 0.5, '10.0.2.1': 0.5 },
    priorities: { 0: 1, 1: 0 },
  },
  {
    // 3 of 10 failing is 30%, above the default 10% ejection cap: the shares still take all 3
    // out (7 left: health floor(140 * 7 / 10) = 98, P0 keeps 100%), with a note saying so.
    name: 'more failing hosts than outlier detection may eject: noted',
    cla: cla(loc('r1/z1/', 0, 10, ips(0, 1, 10))),
    opts: { client: 'envoy', unhealthy: ips(0, 1, 3).map(addr), outlierDetection: { maxEjectionPercent: 10 } },
    endpoints: Object.fromEntries(ips(0, 1, 10).slice(3).map((ip) => [ip, 1 / 7])),
    notes: [/3 of 10 endpoints marked failing \(30%\), more than outlier detection may eject \(max_ejection_percent 10%\)/],
  },
  {
    name: 'failing hosts without outlier detection on the cluster: noted',
    cla: cla(loc('r1/z1/', 0, 1, ['10.0.1.1', '10.0.1.2'])),
    opts: { client: 'envoy', unhealthy: ['10.0.1.1:80'], outlierDetection: false },
    endpoints: { '10.0.1.2': 1 },
    notes: [/no outlier detection and istiod sets up no active health checks/],
  },
];

describe('envoy shares', () => {
  it.each(envoyCases)('$name', (c) => {
    const s = computeShares(c.cla, c.opts);
    expect(s.client).toBe('envoy');
    check(c, s);
  });

  it.each<[string, ComputeSharesOptions['outlierDetection'], number]>([
    ['within the cap', { maxEjectionPercent: 20 }, 1],
    ['at the cap', { maxEjectionPercent: 20 }, 2],
    ['cap 100', { maxEjectionPercent: 100 }, 10],
    ['not known', undefined, 5],
  ])('no ejection note: %s', (_label, outlierDetection, failing) => {
    const s = computeShares(cla(loc('r1/z1/', 0, 10, ips(0, 1, 10))), {
      client: 'envoy',
      unhealthy: ips(0, 1, failing).map(addr),
      ...(outlierDetection !== undefined && { outlierDetection }),
    });
    expect(s.notes.filter((n) => /eject|outlier/.test(n))).toEqual([]);
  });

  it('rejects a fractional overprovisioning factor (it is a percentage)', () => {
    expect(() => computeShares(cla(loc('r//', 0, 1, ['10.0.0.1'])), { client: 'envoy', overprovisioningFactor: 1.4 })).toThrow(
      /percentage/,
    );
  });
});

// ---- proxyless gRPC -------------------------------------------------------------------------

const grpcCases: Case[] = [
  {
    // One of two P0 hosts failing: P0 still READY, so no spill (unlike Envoy's 70/30).
    name: 'P0 partly failing stays on P0',
    cla: cla(loc('r1/z1/', 0, 1, ['10.0.1.1', '10.0.1.2']), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'grpc', unhealthy: ['10.0.1.1:80'] },
    endpoints: { '10.0.1.2': 1 },
    priorities: { 0: 1, 1: 0 },
  },
  {
    name: 'fails over to P1 when nothing in P0 is reachable',
    cla: cla(loc('r1/z1/', 0, 1, ['10.0.1.1', '10.0.1.2']), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'grpc', unhealthy: ['10.0.1.1:80', '10.0.1.2:80'] },
    endpoints: { '10.1.1.1': 1 },
    priorities: { 0: 0, 1: 1 },
    notes: [/failover/],
  },
  {
    // A has no weight (skipped); B 2, C 1 -> B 2/3, C 1/3 split over 2 endpoints = 1/6 each.
    name: 'locality without weight skipped',
    cla: cla(loc('r1/z1/', 0, undefined, ['10.0.1.1']), loc('r1/z2/', 0, 2, ['10.0.2.1']), loc('r1/z3/', 0, 1, ['10.0.3.1', '10.0.3.2'])),
    opts: { client: 'grpc' },
    endpoints: { '10.0.2.1': 2 / 3, '10.0.3.1': 1 / 6, '10.0.3.2': 1 / 6 },
    notes: [/r1\/z1\/ \(priority 0\) has no weight: skipped/],
  },
  {
    // B unreachable: weighted_target picks among READY children only, so C takes all.
    name: 'unreachable locality drops out of weighted_target',
    cla: cla(loc('r1/z2/', 0, 2, ['10.0.2.1']), loc('r1/z3/', 0, 1, ['10.0.3.1', '10.0.3.2'])),
    opts: { client: 'grpc', unhealthy: ['10.0.2.1:80'] },
    endpoints: { '10.0.3.1': 0.5, '10.0.3.2': 0.5 },
  },
  {
    // P0 has only an unweighted locality: gRPC never builds it, so P1 serves.
    name: 'P0 with only unweighted localities is skipped',
    cla: cla(loc('r1/z1/', 0, undefined, ['10.0.1.1']), loc('r2/z1/', 1, 1, ['10.1.1.1'])),
    opts: { client: 'grpc' },
    endpoints: { '10.1.1.1': 1 },
  },
  {
    name: 'endpoint weights ignored by round_robin, with a note',
    cla: cla(loc('r1/z1/', 0, 1, [{ ip: '10.0.1.1', w: 1 }, { ip: '10.0.1.2', w: 3 }])),
    opts: { client: 'grpc' },
    endpoints: { '10.0.1.1': 0.5, '10.0.1.2': 0.5 },
    notes: [/endpoint weights differ but are ignored/],
  },
  {
    // Only UNKNOWN/HEALTHY kept: a1, a4 half each; no overprovisioning spill to P1.
    name: 'non-healthy statuses dropped',
    cla: cla(
      loc('r1/z1/', 0, 4, [
        { ip: '10.0.1.1', s: 'HEALTHY' },
        { ip: '10.0.1.2', s: 'UNHEALTHY' },
        { ip: '10.0.1.3', s: 'DEGRADED' },
        { ip: '10.0.1.4', s: 'UNKNOWN' },
      ]),
      loc('r2/z1/', 1, 1, ['10.1.1.1']),
    ),
    opts: { client: 'grpc' },
    endpoints: { '10.0.1.1': 0.5, '10.0.1.4': 0.5 },
    notes: [/1 endpoint\(s\) marked UNHEALTHY dropped/, /marked DEGRADED dropped/],
  },
  {
    name: 'nothing reachable: all zero with a note',
    cla: cla(loc('r1/z1/', 0, 1, ['10.0.1.1']), loc('r2/z1/', 1, 1, [{ ip: '10.1.1.1', s: 'DRAINING' }])),
    opts: { client: 'grpc', unhealthy: ['10.0.1.1:80'] },
    endpoints: {},
    notes: [/no reachable endpoint/],
  },
  {
    name: 'non-contiguous priorities flagged as a NACK',
    cla: cla(loc('r1/z1/', 0, 1, ['10.0.1.1']), loc('r2/z1/', 2, 1, ['10.2.1.1'])),
    opts: { client: 'grpc' },
    endpoints: { '10.0.1.1': 1 },
    notes: [/reject this CLA: priority 2 present without priority 1/],
  },
];

describe('grpc shares', () => {
  it.each(grpcCases)('$name', (c) => {
    const s = computeShares(c.cla, c.opts);
    expect(s.client).toBe('grpc');
    expect(s.priorities.every((p) => p.health === undefined && p.panic === undefined)).toBe(true);
    check(c, s);
  });
});

// ---- shape and formatting -------------------------------------------------------------------

describe('output', () => {
  it('orders endpoints by priority, locality, then CLA order', () => {
    const s = computeShares(
      cla(
        loc('r2/z1/', 1, 1, ['10.1.1.1']),
        loc('r1/z2/', 0, 1, ['10.0.2.9', '10.0.2.1']),
        loc('r1/z1/', 0, 1, ['10.0.1.1']),
      ),
      { client: 'envoy' },
    );
    expect(s.endpoints.map((e) => e.address)).toEqual(['10.0.1.1:80', '10.0.2.9:80', '10.0.2.1:80', '10.1.1.1:80']);
    expect(s.localities.map((l) => `${l.priority} ${l.locality}`)).toEqual(['0 r1/z1/', '0 r1/z2/', '1 r2/z1/']);
  });

  it('keeps empty locality parts and brackets IPv6, matching bare v6 unhealthy entries', () => {
    const c: ClaJson = {
      clusterName: 'c',
      endpoints: [
        {
          locality: { region: 'r' },
          loadBalancingWeight: 1,
          lbEndpoints: [
            { endpoint: { address: { socketAddress: { address: 'fd00::1', portValue: 80 } } } },
            { endpoint: { address: { socketAddress: { address: 'fd00::2', portValue: 80 } } } },
          ],
        },
      ],
    };
    const s = computeShares(c, { client: 'grpc', unhealthy: ['fd00::1:80'] });
    expect(s.endpoints).toEqual([
      { address: '[fd00::1]:80', locality: 'r//', priority: 0, share: 0 },
      { address: '[fd00::2]:80', locality: 'r//', priority: 0, share: 1 },
    ]);
  });

  it('formats an aligned table with one-decimal percentages', () => {
    const s = computeShares(cla(loc('r1/z1/', 0, 2, ['10.0.1.1', '10.0.1.2']), loc('r2/z1/', 1, 1, ['10.1.1.1'])), {
      client: 'envoy',
      unhealthy: ['10.0.1.2:80'],
    });
    const out = formatSharesTable(s);
    const rows = out.split('\n').filter((l) => l.includes('10.'));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/│\s+0 │ r1\/z1\/\s+│ 10\.0\.1\.1:80 │\s+70\.0% │/);
    expect(rows[1]).toMatch(/0\.0% │$/);
    expect(rows[2]).toMatch(/30\.0% │$/);
    // Every table line has the same width: cli-table3 pads columns.
    const tableLines = out.split('\n').filter((l) => /^[┌│├└]/.test(l));
    expect(new Set(tableLines.map((l) => l.length)).size).toBe(1);
    expect(out).toContain('priority 0: 70.0% (health 70%)');
    expect(out).not.toMatch(/\u001b\[/);
  });
});
