import { describe, expect, it } from 'vitest';
import { durationProto, parseGoDuration } from '../../src/config/duration.js';

describe('parseGoDuration (Go time.ParseDuration spelling)', () => {
  it.each<[string, number | undefined]>([
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['100ms', 100],
    ['.5s', 500],
    ['1s500ms', 1500],
    ['250us', 0.25],
    ['250µs', 0.25],
    ['250μs', 0.25],
    ['10ns', 0.00001],
    ['0', 0],
    ['', undefined],
    ['5', undefined],
    ['1 hour', undefined],
    ['-1s', undefined],
    ['1.s', undefined],
    ['1.5.5s', undefined],
    ['10d', undefined],
    ['s', undefined],
  ])('%j -> %s', (s, ms) => {
    const got = parseGoDuration(s);
    if (ms === undefined) expect(got).toBeUndefined();
    else expect(got).toBeCloseTo(ms, 9);
  });
});

describe('durationProto', () => {
  it.each<[number, { seconds: number; nanos: number }]>([
    [0, { seconds: 0, nanos: 0 }],
    [1500, { seconds: 1, nanos: 500_000_000 }],
    [0.25, { seconds: 0, nanos: 250_000 }],
    [90_000, { seconds: 90, nanos: 0 }],
    [315_360_000_000, { seconds: 315_360_000, nanos: 0 }],
  ])('%s ms -> %j', (ms, want) => {
    expect(durationProto(ms)).toEqual(want);
  });
});
