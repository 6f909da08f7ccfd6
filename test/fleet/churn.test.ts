import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/util/random.js';
import { MAX_OCCURRENCES, parseChurn, pickFraction, scheduleChurn } from '../../src/fleet/churn.js';
import { FleetConfigError } from '../../src/fleet/parse.js';

describe('churn spec', () => {
  it('parses every model with defaults', () => {
    expect(parseChurn('disconnect:fraction=10%,every=10s,down=2s;ip-change:fraction=0.05,every=15s;scale:at=10s,to=50%;flap:fraction=10%,period=4s;storm:at=20s')).toEqual([
      { kind: 'disconnect', fraction: 0.1, everyMs: 10_000, downMs: 2000, startMs: 10_000 },
      { kind: 'ip-change', fraction: 0.05, everyMs: 15_000, downMs: 0, startMs: 15_000 },
      { kind: 'scale', atMs: 10_000, to: 0.5 },
      { kind: 'flap', fraction: 0.1, periodMs: 4000, atMs: 0 },
      { kind: 'storm', atMs: 20_000, fraction: 1, downMs: 0 },
    ]);
    expect(parseChurn('')).toEqual([]);
    expect(parseChurn('none')).toEqual([]);
  });

  it('accepts JSON with millisecond durations', () => {
    expect(parseChurn('[{"kind":"storm","atMs":5000,"fraction":0.5}]')).toEqual([{ kind: 'storm', atMs: 5000, fraction: 0.5, downMs: 0 }]);
  });

  it('rejects unknown models, unknown or missing keys and bad values with a precise message', () => {
    const bad: [string, RegExp][] = [
      ['explode:at=1s', /unknown model "explode"/],
      ['storm:at=1s,speed=3', /unknown key "speed"/],
      ['disconnect:fraction=10%', /missing every=/],
      ['disconnect:fraction=150%,every=1s', /within 0..1/],
      ['flap:fraction=1,period=soon', /duration/],
      ['disconnect:fraction=1,every=0s', /every= must be > 0/],
      ['storm', /missing at=/],
      ['storm:at', /expected key=value/],
      ['[{"kind":1}]', /unknown kind/],
    ];
    for (const [spec, re] of bad) {
      expect(() => parseChurn(spec), spec).toThrow(FleetConfigError);
      expect(() => parseChurn(spec), spec).toThrow(re);
    }
  });
});

describe('churn schedule', () => {
  it('periodic models repeat from start within the duration, bounded by times', () => {
    const specs = parseChurn('disconnect:fraction=10%,every=10s,start=5s;ip-change:fraction=1%,every=20s,times=1;storm:at=12s;scale:at=99s,to=0');
    expect(scheduleChurn(specs, 40_000)).toEqual([
      { atMs: 5000, spec: 0, occurrence: 0 },
      { atMs: 12_000, spec: 2, occurrence: 0 },
      { atMs: 15_000, spec: 0, occurrence: 1 },
      { atMs: 20_000, spec: 1, occurrence: 0 },
      { atMs: 25_000, spec: 0, occurrence: 1 + 1 },
      { atMs: 35_000, spec: 0, occurrence: 3 },
    ]);
  });

  it('is bounded whatever the duration', () => {
    const events = scheduleChurn(parseChurn('disconnect:fraction=1%,every=1ms'), 1e12);
    expect(events.length).toBe(MAX_OCCURRENCES);
  });

  it('picks round(fraction x n) distinct candidates, reproducibly from the seed', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => i);
    const a = pickFraction(xs, 0.1, mulberry32(42));
    const b = pickFraction(xs, 0.1, mulberry32(42));
    expect(a).toEqual(b);
    expect(a.length).toBe(100);
    expect(new Set(a).size).toBe(100);
    expect(pickFraction(xs, 0.1, mulberry32(43))).not.toEqual(a);
    expect(pickFraction(xs, 1, mulberry32(1))).toEqual(xs);
    expect(pickFraction(xs, 0, mulberry32(1))).toEqual([]);
  });
});
