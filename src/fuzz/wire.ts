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
  const whole = Buffer.concat(parts);
  const w = new WireWriter();
  for (let i = 0; i + parts.length <= count; i += parts.length) w.raw(whole);
  for (let i = 0; i < count % parts.length; i++) w.raw(parts[i]!);
  return w.finish();
}

/** Appends fields to one growing buffer: the giant cases write tens of thousands of them. */
export class WireWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(n: number): this {
    this.ensure(10);
    let v = n;
    while (v > 127) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  raw(b: Buffer): this {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }

  string(field: number, s: string): this {
    const len = Buffer.byteLength(s);
    this.varint(field * 8 + 2).varint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos);
    return this;
  }

  /** ASCII only (written as latin1, which is much cheaper than UTF-8 for many short strings). */
  ascii(field: number, s: string): this {
    this.varint(field * 8 + 2).varint(s.length);
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
    return this;
  }

  /** A map<string,string> entry of ASCII strings (lengths under 128). */
  asciiMapEntry(field: number, k: string, v: string): this {
    return this.varint(field * 8 + 2).varint(4 + k.length + v.length).ascii(1, k).ascii(2, v);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
