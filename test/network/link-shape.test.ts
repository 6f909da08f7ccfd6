import { describe, expect, it } from 'vitest';
import { baseRttMs, deliveryTime, describeShape, newPipeClock, NO_SHAPE, parseBitRate, serialisationMs, symmetricShape, type DirectionShape } from '../../src/network/link-shape.js';
import { chunkLossProbability, lossStallMs, retransmitTimeoutMs } from '../../src/network/loss-model.js';
import { mulberry32 } from '../../src/util/random.js';

const shape = (d: Partial<DirectionShape>): DirectionShape => ({ ...NO_SHAPE, ...d });

describe('bit rates', () => {
  it.each([
    ['9600bit', 9600],
    ['512kbit', 512_000],
    ['1Mbit', 1_000_000],
    ['1.5mbit', 1_500_000],
    ['2Gbit', 2e9],
  ])('%s = %d bit/s', (s, bps) => expect(parseBitRate(s)).toBe(bps));
  it.each(['1MB', '1 Mbit', 'fast', '1Mbps'])('rejects %s', (s) => expect(() => parseBitRate(s)).toThrow(/not a bit rate/));
  it.each([
    [125_000, 1_000_000, 1000],
    [1500, 12_000, 1000],
    [1_000_000, 0, 0],
  ])('%d bytes at %d bit/s take %d ms', (bytes, rate, ms) => expect(serialisationMs(bytes, rate)).toBe(ms));
});

describe('deliveryTime', () => {
  it.each([
    // [shape, chunks as [now, bytes, jitter01, stall], expected delivery times]
    ['delay only', shape({ delayMs: 30 }), [[0, 100, 0.5, 0], [10, 100, 0.5, 0]], [30, 40]],
    ['jitter within +-', shape({ delayMs: 30, jitterMs: 10 }), [[0, 1, 0, 0], [100, 1, 1, 0]], [20, 140]],
    ['jitter never reorders', shape({ delayMs: 30, jitterMs: 10 }), [[0, 1, 1, 0], [1, 1, 0, 0]], [40, 40]],
    ['jitter never below 0', shape({ delayMs: 2, jitterMs: 10 }), [[0, 1, 0, 0]], [0]],
    ['rate serialises back to back', shape({ rateBps: 8000 }), [[0, 1000, 0.5, 0], [0, 1000, 0.5, 0]], [1000, 2000]],
    ['rate + delay', shape({ rateBps: 8000, delayMs: 50 }), [[0, 500, 0.5, 0], [2000, 500, 0.5, 0]], [550, 2550]],
    ['a stall holds everything behind it', shape({ delayMs: 10 }), [[0, 1, 0.5, 200], [5, 1, 0.5, 0], [300, 1, 0.5, 0]], [210, 210, 310]],
  ] as const)('%s', (_name, s, chunks, want) => {
    const clock = newPipeClock();
    const got = chunks.map(([now, bytes, j, stall]) => deliveryTime(clock, now, bytes, s, j, stall));
    expect(got).toEqual(want);
  });

  it('keeps order over many jittered chunks', () => {
    const clock = newPipeClock();
    const rnd = mulberry32(7);
    let last = -Infinity;
    for (let i = 0; i < 1000; i++) {
      const at = deliveryTime(clock, i, 100, shape({ delayMs: 20, jitterMs: 19 }), rnd());
      expect(at).toBeGreaterThanOrEqual(last);
      expect(at).toBeGreaterThanOrEqual(i + 1);
      last = at;
    }
  });
});

describe('loss model', () => {
  it.each([
    [0, 200],
    [50, 200],
    [100, 200],
    [150, 300],
    [500, 1000],
  ])('RTT %d ms: RTO %d ms', (rtt, rto) => expect(retransmitTimeoutMs(rtt)).toBe(rto));
  it.each([
    [1000, 0, 0],
    [1000, 1, 1],
    [1448, 0.01, 0.01],
    [2 * 1448, 0.01, 1 - 0.99 ** 2],
    [64 * 1024, 0.01, 1 - 0.99 ** 46],
    [0, 0.5, 0],
  ])('%d bytes at %d per segment: %d per chunk', (bytes, p, want) => expect(chunkLossProbability(bytes, p)).toBeCloseTo(want, 12));
  it('stalls one RTO when the draw falls under the chunk probability', () => {
    expect(lossStallMs(1448, 0.1, 40, 0.05)).toBe(200);
    expect(lossStallMs(1448, 0.1, 40, 0.15)).toBe(0);
    expect(lossStallMs(1448, 0.1, 300, 0.05)).toBe(600);
  });
  it('stalls about p of single-segment chunks (seeded)', () => {
    const rnd = mulberry32(3);
    let stalls = 0;
    for (let i = 0; i < 20_000; i++) if (lossStallMs(100, 0.05, 0, rnd()) > 0) stalls++;
    expect(stalls / 20_000).toBeGreaterThan(0.04);
    expect(stalls / 20_000).toBeLessThan(0.06);
  });
  it('is deterministic per seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });
});

describe('describeShape', () => {
  it.each([
    [symmetricShape({}), 'unshaped'],
    [symmetricShape({ delayMs: 30, jitterMs: 5, loss: 0.01 }), '30ms±5ms 1% loss'],
    [{ toServer: shape({ delayMs: 10 }), toAgents: shape({ rateBps: 1e6 }) }, 'toServer 10ms, toAgents 1Mbit'],
  ])('%j', (s, text) => expect(describeShape(s)).toBe(text));
  it('RTT is both delays', () => expect(baseRttMs({ toServer: shape({ delayMs: 10 }), toAgents: shape({ delayMs: 25 }) })).toBe(35));
});
