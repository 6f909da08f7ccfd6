// The little protobuf framing needed to splice pre-encoded messages together: a tag, a length,
// a varint. Message bodies themselves are always encoded by protobufjs.

export const WIRE_VARINT = 0;
export const WIRE_LEN = 2;

export function tag(field: number, wire: number): number {
  return field * 8 + wire;
}

/** Bytes a varint of `n` (0 <= n < 2^53) takes. */
export function varintSize(n: number): number {
  // Lengths, tags, weights and priorities are below 2^31: test bounds, no division.
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes `n` as a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  if (n < 0x80000000) {
    // Integer shifts are exact below 2^31; larger values take the division loop.
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    return pos;
  }
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Size of a length-delimited field holding `len` bytes. */
export function lenFieldSize(field: number, len: number): number {
  return varintSize(tag(field, WIRE_LEN)) + varintSize(len) + len;
}

/** Writes the tag and length of a length-delimited field; the caller writes the bytes. */
export function writeLenHeader(buf: Uint8Array, pos: number, field: number, len: number): number {
  return writeVarint(buf, writeVarint(buf, pos, tag(field, WIRE_LEN)), len);
}

/** A complete length-delimited field as new bytes. */
export function lenField(field: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(lenFieldSize(field, bytes.length));
  out.set(bytes, writeLenHeader(out, 0, field, bytes.length));
  return out;
}

/**
 * Copies `len` bytes of `src` from `start` into `dst` at `pos`. Fields are tens of bytes: a loop
 * beats making a subarray (a Buffer's is a whole new Buffer object) for every one of them.
 */
export function copyRange(src: Uint8Array, start: number, len: number, dst: Uint8Array, pos: number): void {
  if (len > 64) {
    dst.set(src.subarray(start, start + len), pos);
    return;
  }
  for (let i = 0; i < len; i++) dst[pos + i] = src[start + i]!;
}
