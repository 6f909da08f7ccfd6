// Just enough protobuf wire writing to build messages the schema would never produce: wrong wire
// types, lengths past the end, field 0, groups, overlong varints. Valid messages go through the
// real encoder (../proto/index.js) instead.

export function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

export function tag(field: number, wireType: number): Buffer {
  return varint(field * 8 + wireType);
}

/** A length-delimited field. */
export function bytesField(field: number, body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([tag(field, 2), varint(b.length), b]);
}

export function varintField(field: number, n: number): Buffer {
  return Buffer.concat([tag(field, 0), varint(n)]);
}

/**
 * `count` copies of a repeated string field, built by repetition rather than by the encoder:
 * the giant-list cases would otherwise spend their time in fromObject.
 */
export function repeatedStrings(field: number, names: readonly string[], count: number): Buffer {
  const parts = names.map((n) => bytesField(field, n));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(parts[i % parts.length]!);
  return Buffer.concat(out);
}
