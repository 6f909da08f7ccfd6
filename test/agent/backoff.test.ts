import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/agent/backoff.js';
import { mulberry32 } from '../../src/util/random.js';

describe('reconnect backoff', () => {
  it('grows exponentially, stays within [(1-jitter) x base, base], capped at maxMs', () => {
    const opts = { initialMs: 100, maxMs: 2000, multiplier: 2, jitter: 0.5, maxAttempts: 50 };
    for (let seed = 1; seed <= 20; seed++) {
      const b = new Backoff(opts, mulberry32(seed));
      for (let k = 0; k < 50; k++) {
        const base = Math.min(2000, 100 * 2 ** k);
        const d = b.next()!;
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.5));
        expect(d).toBeLessThanOrEqual(base);
      }
    }
  });

  it('gives up after maxAttempts and starts over after reset()', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 100, multiplier: 2, jitter: 0, maxAttempts: 3 }, mulberry32(1));
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 40, undefined]);
    b.reset();
    expect(b.next()).toBe(10);
  });

  it('full jitter spreads delays (no thundering herd)', () => {
    const delays = new Set<number>();
    for (let seed = 1; seed <= 50; seed++) delays.add(new Backoff({ initialMs: 1000, maxMs: 1000, multiplier: 2, jitter: 1, maxAttempts: 1 }, mulberry32(seed)).next()!);
    expect(delays.size).toBeGreaterThan(40);
    for (const d of delays) expect(d).toBeLessThanOrEqual(1000);
  });
});
