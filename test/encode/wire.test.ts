// The splice framing against protobufjs's own varint writer, at every size boundary.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { varintSize, writeVarint } from '../../src/encode/wire.js';

const BOUNDARIES = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 49, 2 ** 53 - 1];

function protobufjsVarint(n: number): Uint8Array {
  // uint64 takes a Long-like for values past 2^32; protobufjs splits numbers itself.
  return protobuf.Writer.create().uint64(n).finish();
}

describe('varints', () => {
  it.each(BOUNDARIES)('%d: same bytes and size as protobufjs', (n) => {
    const want = protobufjsVarint(n);
    const buf = new Uint8Array(12).fill(0xee);
    const end = writeVarint(buf, 1, n);
    expect(end - 1).toBe(want.length);
    expect(varintSize(n)).toBe(want.length);
    expect([...buf.subarray(1, end)]).toEqual([...want]);
    // Nothing written outside its bytes.
    expect(buf[0]).toBe(0xee);
    expect(buf[end]).toBe(0xee);
  });
});
