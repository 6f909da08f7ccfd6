// Agents selected by a link connect to its relay; everyone else, and the fleet's observer
// streams, to the control plane directly.
import { describe, expect, it } from 'vitest';
import { agentTarget, fleetConfig, observerTarget } from '../../src/fleet/config.js';
import { parseAgentLocality } from '../../src/fleet/parse.js';

describe('per-locality xDS addresses', () => {
  const c = fleetConfig({
    xds: '127.0.0.1:15010',
    count: 6,
    localities: ['r1/za/s1', 'r1/zb/s1', 'r2/zc/s1'].map((l) => ({ locality: parseAgentLocality(l), weight: 1 })),
    xdsByLocality: [{ locality: 'r1/zb', xds: '127.0.0.1:40001' }],
  });
  it('routes the matching locality through the override', () => {
    // Contiguous blocks: agents 0-1 in za, 2-3 in zb, 4-5 in zc.
    expect(Array.from({ length: 6 }, (_, i) => agentTarget(c, i))).toEqual([
      '127.0.0.1:15010',
      '127.0.0.1:15010',
      '127.0.0.1:40001',
      '127.0.0.1:40001',
      '127.0.0.1:15010',
      '127.0.0.1:15010',
    ]);
  });
  it('keeps observers direct', () => expect(observerTarget(c)).toBe('127.0.0.1:15010'));
  it('"*" takes every agent, even without a locality', () => {
    const all = fleetConfig({ xds: '127.0.0.1:15010', count: 3, xdsByLocality: [{ locality: '*', xds: '127.0.0.1:40002' }] });
    expect([0, 1, 2].map((i) => agentTarget(all, i))).toEqual(Array(3).fill('127.0.0.1:40002'));
  });
  it('checks override addresses', () => {
    expect(() => fleetConfig({ xds: '127.0.0.1:15010', count: 1, xdsByLocality: [{ locality: '*', xds: 'nowhere' }] })).toThrow(/expected host:port/);
  });
});
