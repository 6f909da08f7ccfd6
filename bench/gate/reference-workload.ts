// The gate's yardsticks: work that must never change with the project, so a ratio to it moves
// only when the project's code does.
//   referenceView(n)     a frozen stand-in for a view build of n endpoints: the gated ratios' reference;
//   referenceWorkload()  plain JS work (small objects, sorting, string compares, varints), the
//                        most slowed by a busy CPU: the gate's contention probe.
// Changing this file means bumping REFERENCE_WORKLOAD_VERSION (test/bench/gate.test.ts pins the
// output) and re-recording bench/baseline.json; the gate refuses a baseline of another version.

// 2: endpoints of ~89 bytes, as LbEndpoints are since they carry istiod's filter_metadata (1 had ~27).
export const REFERENCE_WORKLOAD_VERSION = 2;

interface Item {
  readonly key: string;
  readonly weight: number;
  readonly bytes: Uint8Array;
}

// Its own copy of mulberry32 (not src/util/random.ts) on purpose: this file must not change when the project does.
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rnd = seeded(0x5eed);
const ITEMS: Item[] = Array.from({ length: 96 }, (_, i) => {
  const bytes = new Uint8Array(20 + Math.floor(rnd() * 40));
  for (let b = 0; b < bytes.length; b++) bytes[b] = Math.floor(rnd() * 256);
  return { key: `ep-${Math.floor(rnd() * 1e6).toString(36)}-${i}`, weight: 1 + Math.floor(rnd() * 1000), bytes };
});

function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v > 0x7f) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}

/** One unit of probe work (~17 µs here); returns a checksum so nothing is elided. */
export function referenceWorkload(): number {
  // Group by a key prefix into small objects, as locality grouping does.
  const groups = new Map<string, { items: Item[]; weight: number }>();
  for (const it of ITEMS) {
    const g = it.key.charCodeAt(3) & 15;
    const k = `g${g}`;
    let e = groups.get(k);
    if (!e) groups.set(k, (e = { items: [], weight: 0 }));
    e.items.push(it);
    e.weight += it.weight;
  }
  const ordered = [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let size = 0;
  for (const [, g] of ordered) {
    g.items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const it of g.items) size += it.bytes.length + 6;
    size += 12;
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (const [, g] of ordered) {
    pos = writeVarint(out, pos, g.weight);
    for (const it of g.items) {
      pos = writeVarint(out, pos, it.bytes.length);
      out.set(it.bytes, pos);
      pos += it.bytes.length;
    }
  }
  let h = 0;
  for (let i = 0; i < pos; i += 7) h = (Math.imul(h, 31) + out[i]!) | 0;
  return h;
}

interface RefLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

interface RefGroup {
  readonly locality: RefLocality;
  readonly body: Uint8Array;
  readonly weight: number;
}

interface RefOut {
  readonly group: RefGroup;
  readonly priority: number;
}

function varintLen(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v >>>= 7;
    n++;
  }
  return n;
}

/**
 * A frozen stand-in for a view build of `endpoints` endpoints: 27 localities of pre-joined
 * endpoint bytes, priorities by proximity to the proxy, compacted, then one buffer assembled with
 * length headers. The same mix of per-group JS work and byte copying as the real build at every
 * size, so contention that slows one slows the other alike; but its own code and data, so a
 * change to the project cannot move it.
 */
export function referenceView(endpoints: number): () => Uint8Array {
  const r = seeded(endpoints);
  const localities: RefLocality[] = [];
  for (let g = 1; g <= 3; g++) {
    for (const z of ['a', 'b', 'c']) for (let s = 1; s <= 3; s++) localities.push({ region: `region-${g}`, zone: `zone-${g}${z}`, subZone: `sz-${s}` });
  }
  const sizes = localities.map(() => 0);
  const weights = localities.map(() => 0);
  for (let i = 0; i < endpoints; i++) {
    sizes[i % localities.length]! += 87 + (i % 5);
    weights[i % localities.length]! += 1 + Math.floor(r() * 100);
  }
  const groups: RefGroup[] = localities.map((locality, i) => {
    const body = new Uint8Array(40 + sizes[i]!);
    for (let b = 0; b < body.length; b++) body[b] = Math.floor(r() * 256);
    return { locality, body, weight: weights[i]! };
  });
  const name = new Uint8Array(48).fill(0x61);
  const proxy: RefLocality = { region: 'region-1', zone: 'zone-1a', subZone: 'sz-1' };
  return () => {
    let out: RefOut[] = new Array<RefOut>(groups.length);
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      const l = g.locality;
      const p = l.region !== proxy.region ? 3 : l.zone !== proxy.zone ? 2 : l.subZone !== proxy.subZone ? 1 : 0;
      out[i] = { group: g, priority: p };
    }
    const distinct: number[] = [];
    for (const o of out) {
      let i = distinct.length;
      while (i > 0 && distinct[i - 1]! > o.priority) i--;
      if (i === 0 || distinct[i - 1] !== o.priority) distinct.splice(i, 0, o.priority);
    }
    if (distinct[distinct.length - 1] !== distinct.length - 1) out = out.map((o) => ({ group: o.group, priority: distinct.indexOf(o.priority) }));
    const lens = new Array<number>(out.length);
    let total = name.length;
    for (let i = 0; i < out.length; i++) {
      const o = out[i]!;
      const len = o.group.body.length + 3 + varintLen(o.group.weight) + (o.priority === 0 ? 0 : 1 + varintLen(o.priority));
      lens[i] = len;
      total += 1 + varintLen(len) + len;
    }
    const buf = Buffer.allocUnsafeSlow(total);
    buf.set(name, 0);
    let pos = name.length;
    for (let i = 0; i < out.length; i++) {
      const o = out[i]!;
      buf[pos++] = 0x12;
      pos = writeVarint(buf, pos, lens[i]!);
      buf.set(o.group.body, pos);
      pos += o.group.body.length;
      buf[pos++] = 0x1a;
      pos = writeVarint(buf, pos, 1 + varintLen(o.group.weight));
      buf[pos++] = 0x08;
      pos = writeVarint(buf, pos, o.group.weight);
      if (o.priority !== 0) {
        buf[pos++] = 0x28;
        pos = writeVarint(buf, pos, o.priority);
      }
    }
    if (pos !== total) throw new Error(`reference view: wrote ${pos} of ${total}`);
    return buf;
  };
}
