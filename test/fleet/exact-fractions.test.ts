// "20% of the agents" is exactly round(0.2 x N) agents, however the fleet is split over workers:
// unhealthy probes, flapping probes, scale-downs (drop). Seeded, so a run can be replayed.
import { describe, expect, it } from 'vitest';
import { agentLocality, fleetConfig, probeModelFor, seededSubset, shardRange, workerIndexes } from '../../src/fleet/config.js';
import { parseLocalitySpread } from '../../src/fleet/parse.js';
import { AgentRunner, probeCommandTargets, workerScaleLimit } from '../../src/fleet/runner.js';
import { localityMatches } from '../../src/model/locality.js';

const CASES: [count: number, fraction: number][] = [
  [1, 0.5],
  [3, 0.5],
  [7, 0.2],
  [10, 0.25],
  [10, 0.05],
  [13, 1 / 3],
  [100, 0.2],
  [1000, 0.015],
  [2500, 0.999],
  [50, 0],
  [50, 1],
];

describe('seededSubset', () => {
  it.each(CASES)('%i agents, fraction %d: exactly round(f x N)', (count, fraction) => {
    const inSet = seededSubset(9, 'unhealthy', count, fraction);
    let n = 0;
    for (let i = 0; i < count; i++) if (inSet(i)) n++;
    expect(n).toBe(Math.round(fraction * count));
    expect(inSet(-1)).toBe(false);
    expect(inSet(count)).toBe(false);
  });

  it('the seed decides the choice; the same seed gives the same choice', () => {
    const pick = (seed: number) => Array.from({ length: 200 }, (_, i) => i).filter(seededSubset(seed, 'k', 200, 0.3));
    expect(pick(1)).toEqual(pick(1));
    expect(pick(1)).not.toEqual(pick(2));
    expect(pick(1)).toHaveLength(60);
    // Not simply the first indexes.
    expect(pick(1)).not.toEqual(Array.from({ length: 60 }, (_, i) => i));
  });
});

describe('unhealthy fraction', () => {
  it.each(CASES)('%i agents, --unhealthy-fraction %d: exactly round(f x N) probes fail', (count, fraction) => {
    const c = fleetConfig({ xds: 'x:1', count, unhealthyFraction: fraction, seed: 5 });
    let n = 0;
    for (let i = 0; i < count; i++) if (probeModelFor(c, i).kind === 'unhealthy') n++;
    expect(n).toBe(Math.round(fraction * count));
  });

  it('shards and workers compute the same agents (each from its own config copy)', () => {
    const count = 101;
    const whole = fleetConfig({ xds: 'x:1', count, unhealthyFraction: 0.3, seed: 3 });
    const expected = Array.from({ length: count }, (_, i) => probeModelFor(whole, i).kind);
    let n = 0;
    for (let shard = 0; shard < 3; shard++) {
      const range = shardRange(count, shard, 3);
      for (let w = 0; w < 2; w++) {
        const copy = structuredClone({ ...whole, shardIndex: shard, shardCount: 3 });
        for (const i of workerIndexes(range, 2, w)) {
          expect(probeModelFor(copy, i).kind).toBe(expected[i]);
          if (expected[i] === 'unhealthy') n++;
        }
      }
    }
    expect(n).toBe(30);
  });
});

describe('flap and scale over workers', () => {
  const table: [count: number, workers: number, fraction: number][] = [
    [10, 3, 0.25],
    [10, 4, 0.5],
    [7, 3, 0.3],
    [40, 6, 0.1],
    [5, 5, 0.5],
  ];

  it.each(table)('%i agents over %i workers, flap %d: exactly round(f x N) flap', (count, workers, fraction) => {
    const c = fleetConfig({ xds: '127.0.0.1:1', count, workers, seed: 11 });
    const range = shardRange(count, 0, 1);
    let flaps = 0;
    for (let w = 0; w < workers; w++) {
      const r = new AgentRunner(c, workerIndexes(range, workers, w), w);
      r.command({ type: 'churn', spec: { kind: 'flap', fraction, periodMs: 1000, atMs: 0 } });
      flaps += r.stats.counters.churn.flap;
      void r.stop();
    }
    expect(flaps).toBe(Math.round(fraction * count));
  });

  it.each(table)('%i agents over %i workers, drop %d: exactly round((1-f) x N) keep running', (count, workers, fraction) => {
    const c = fleetConfig({ xds: '127.0.0.1:1', count, workers });
    const range = shardRange(count, 0, 1);
    let keep = 0;
    for (let w = 0; w < workers; w++) keep += workerScaleLimit(c, workerIndexes(range, workers, w), 1 - fraction);
    expect(keep).toBe(Math.round((1 - fraction) * count));
  });

  it('per shard: each shard keeps round(to x its size)', () => {
    for (let shard = 0; shard < 3; shard++) {
      const c = fleetConfig({ xds: '127.0.0.1:1', count: 20, shardIndex: shard, shardCount: 3 });
      const range = shardRange(20, shard, 3);
      let keep = 0;
      for (let w = 0; w < 2; w++) keep += workerScaleLimit(c, workerIndexes(range, 2, w), 0.5);
      expect(keep).toBe(Math.round(0.5 * (range.end - range.start)));
    }
  });
});

describe('probe commands (timeline unhealthy / healthy through the agents)', () => {
  const c = fleetConfig({ xds: '127.0.0.1:1', count: 30, seed: 4, localities: parseLocalitySpread('r1/z1/s1:1,r1/z2/s1:1,r2/z1/s1:1') });
  it.each([
    [{ seq: 1 }, 30],
    [{ seq: 1, locality: 'r1' }, 20],
    [{ seq: 1, locality: 'r1/z2' }, 10],
    [{ seq: 1, locality: 'r1/z2', fraction: 0.25 }, 3],
    [{ seq: 1, locality: '*', fraction: 0.5 }, 15],
    [{ seq: 2, locality: 'r2', count: 4 }, 4],
    [{ seq: 2, locality: 'r2', count: 40 }, 10],
    [{ seq: 3, locality: 'r9' }, 0],
  ] as [{ seq: number; locality?: string; fraction?: number; count?: number }, number][])('%o selects exactly %i agents, all in the locality', (cmd, n) => {
    const picked = probeCommandTargets(c, cmd);
    expect(picked).toHaveLength(n);
    expect(new Set(picked).size).toBe(n);
    if (cmd.locality && cmd.locality !== '*') for (const i of picked) expect(localityMatches(agentLocality(c, i)!, cmd.locality)).toBe(true);
    // Every worker computes the same choice from its own copy of the config.
    expect(probeCommandTargets(structuredClone(c), cmd)).toEqual(picked);
  });
});
