import { describe, expect, it } from 'vitest';
import {
  agentIdentity,
  fleetConfig,
  probeModelFor,
  shardRange,
  startOffsetMs,
  workerIndexes,
} from '../../src/fleet/config.js';
import { agentIp, FleetConfigError, localityFor, parseDuration, parseFraction, parseLocalitySpread } from '../../src/fleet/parse.js';

describe('shard and worker split', () => {
  it('shards cover every agent exactly once, balanced within one', () => {
    for (const [count, shards] of [[10, 3], [10_000, 7], [5, 5], [3, 8]] as const) {
      const seen = new Array<number>(count).fill(0);
      const sizes: number[] = [];
      for (let s = 0; s < shards; s++) {
        const r = shardRange(count, s, shards);
        sizes.push(r.end - r.start);
        for (let i = r.start; i < r.end; i++) seen[i]!++;
      }
      expect(seen.every((n) => n === 1)).toBe(true);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('workers get round-robin slices of their shard', () => {
    const r = shardRange(100, 1, 4);
    expect(r).toEqual({ start: 25, end: 50 });
    const w = [0, 1, 2].map((k) => workerIndexes(r, 3, k));
    expect(w[0]!.slice(0, 3)).toEqual([25, 28, 31]);
    expect(w.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => 25 + i));
  });

  it('ramp: shards ramp in parallel at their share of the fleet rate', () => {
    const c = fleetConfig({ xds: 'x:1', count: 100, rampPerSec: 10, shardIndex: 1, shardCount: 2 });
    expect(startOffsetMs(c, 50)).toBe(0);
    expect(startOffsetMs(c, 55)).toBe(1000); // 5 agents/s per shard
    expect(startOffsetMs({ ...c, rampPerSec: 0 }, 99)).toBe(0);
  });
});

describe('agent identities', () => {
  it('IPs are unique across agents and IP generations', () => {
    const base = 10 * 16777216 + 200 * 65536;
    const ips = new Set<string>();
    for (let g = 0; g < 3; g++) for (let i = 0; i < 1000; i++) ips.add(agentIp(base, 1000, i, g));
    expect(ips.size).toBe(3000);
    expect(agentIp(base, 1000, 0, 0)).toBe('10.200.0.1');
    expect(agentIp(base, 1000, 255, 0)).toBe('10.200.1.0');
    expect(() => agentIp(0xffffff00, 1000, 999, 0)).toThrow(FleetConfigError);
  });

  it('identity: group, labels, locality, generation in the name', () => {
    const c = fleetConfig({ xds: 'x:1', count: 4, group: 'pay', namespace: 'ns', labels: { app: 'pay' }, localities: parseLocalitySpread('a/b/c:1,d/e/f:1') });
    expect(agentIdentity(c, 0, 0)).toMatchObject({ name: 'pay-0', ip: '10.200.0.1', group: 'pay', namespace: 'ns', labels: { app: 'pay' }, locality: { region: 'a', zone: 'b', subZone: 'c' } });
    expect(agentIdentity(c, 3, 1)).toMatchObject({ name: 'pay-3-g1', ip: '10.200.0.8', locality: { region: 'd', zone: 'e', subZone: 'f' } });
  });

  it('unhealthy fraction: a stable, seeded set of exactly the given size', () => {
    const c = fleetConfig({ xds: 'x:1', count: 10_000, unhealthyFraction: 0.2, seed: 5 });
    let n = 0;
    for (let i = 0; i < 10_000; i++) if (probeModelFor(c, i).kind === 'unhealthy') n++;
    expect(n).toBe(2000);
    expect(probeModelFor(c, 17)).toEqual(probeModelFor({ ...c }, 17));
  });
});

describe('locality spread', () => {
  it('weights give exact proportions, whatever the shard', () => {
    const spread = parseLocalitySpread('r1/z1/s1:0.5,r2/z1/s1:0.25,r3:0.25');
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const l = localityFor(spread, i, 1000)!;
      counts.set(l.region, (counts.get(l.region) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ r1: 500, r2: 250, r3: 250 });
  });

  it('grid syntax names localities like the topology generator', () => {
    const g = parseLocalitySpread('2x2x3');
    expect(g.length).toBe(12);
    expect(g[0]!.locality).toEqual({ region: 'region-1', zone: 'zone-1a', subZone: 'sz-1' });
    expect(g[11]!.locality).toEqual({ region: 'region-2', zone: 'zone-2b', subZone: 'sz-3' });
  });

  it('rejects bad spreads and values', () => {
    expect(() => parseLocalitySpread('a/b/c:-1')).toThrow(/bad weight/);
    expect(() => parseLocalitySpread('a/b/c/d')).toThrow(/region\/zone\/subzone/);
    expect(() => parseLocalitySpread('0x1x1')).toThrow(/out of range/);
    expect(() => parseDuration('5 parsecs')).toThrow(FleetConfigError);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('3')).toBe(3000);
    expect(parseFraction('12.5%')).toBe(0.125);
  });
});

describe('fleet config validation', () => {
  it('rejects bad values with the flag name', () => {
    expect(() => fleetConfig({ xds: 'nohostport', count: 1 })).toThrow(/xds/);
    expect(() => fleetConfig({ xds: 'h:1', count: 0 })).toThrow(/count/);
    expect(() => fleetConfig({ xds: 'h:1', count: 1, shardIndex: 2, shardCount: 2 })).toThrow(/shard-index/);
    expect(() => fleetConfig({ xds: 'h:1', count: 1, namespace: 'Bad_NS' })).toThrow(/namespace/);
    expect(() => fleetConfig({ xds: 'h:1', count: 1, unhealthyFraction: 2 })).toThrow(/unhealthy/);
    expect(fleetConfig({ xds: '[::1]:15010', count: 1 }).xds).toBe('[::1]:15010');
  });
});
