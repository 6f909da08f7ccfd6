// The template path against the splice path, byte for byte: every priority pattern over groups
// whose lengths sit on varint boundaries (a priority-0 group can shrink its own length prefix).
import { describe, expect, it } from 'vitest';
import { assembleClusterLoadAssignment, clusterNameField, type EncodedLocality, type GroupToWrite } from '../../src/encode/cla.js';
import { ClaTemplate } from '../../src/encode/cla-template.js';

type Locality = EncodedLocality & { readonly weight: number };

function locality(bodyLength: number, weight: number, fill: number): Locality {
  const localityField = Uint8Array.of(0x0a, 0x00);
  const body = new Uint8Array(bodyLength).fill(fill);
  body.set(localityField, 0);
  return { body, localityField, endpoints: [], weight };
}

const whole = (ls: readonly Locality[], priorities: readonly number[]): GroupToWrite[] =>
  ls.map((source, i) => ({ source, endpoints: source.endpoints, weight: source.weight, priority: priorities[i]! }));

const NAME = clusterNameField('outbound|80||a.pay.svc.cluster.local');

describe('ClaTemplate', () => {
  // Content = body + weight (3 + varint) + slot (2): weight 7 -> content = body + 6.
  // Body 122 -> content 128 with the slot, 126 without: the length prefix goes from 2 bytes to 1.
  const boundary = [10, 121, 122, 123, 16_376, 16_378, 16_379];
  const patterns = [
    [1, 1, 1, 1, 1, 1, 1],
    [0, 1, 2, 3, 4, 4, 4],
    [1, 0, 1, 0, 1, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [4, 3, 2, 1, 0, 0, 0],
    [127, 0, 126, 1, 0, 2, 0],
  ];
  const ls = boundary.map((len, i) => locality(len, 7, i + 1));
  const template = ClaTemplate.build(NAME, ls);

  it.each(patterns)('priorities %j: same bytes as splicing', (...priorities) => {
    const groups = whole(ls, priorities);
    expect(ClaTemplate.suits(ls, groups)).toBe(true);
    const rendered = template.render(groups)!;
    expect(Buffer.from(rendered).equals(Buffer.from(assembleClusterLoadAssignment(NAME, groups)))).toBe(true);
  });

  it('weights of 0 and 2^32-1 keep their encodings', () => {
    const edge = [locality(40, 0, 1), locality(40, 0xffffffff, 2), locality(40, 1, 3)];
    const groups = whole(edge, [1, 0, 2]);
    expect(Buffer.from(ClaTemplate.build(NAME, edge).render(groups)!).equals(Buffer.from(assembleClusterLoadAssignment(NAME, groups)))).toBe(true);
  });

  it.each([
    ['all priorities 0 (nothing to gain)', (g: GroupToWrite[]) => g.map((x) => ({ ...x, priority: 0 }))],
    ['a priority past one byte', (g: GroupToWrite[]) => g.map((x, i) => ({ ...x, priority: i === 0 ? 128 : 1 }))],
    ['another weight (distribute)', (g: GroupToWrite[]) => g.map((x, i) => ({ ...x, weight: i === 0 ? 99 : x.weight }))],
    ['a cut group', (g: GroupToWrite[]) => g.map((x, i) => ({ ...x, endpoints: i === 0 ? [] : x.endpoints }))],
    ['a missing group', (g: GroupToWrite[]) => g.slice(1)],
    ['groups out of order', (g: GroupToWrite[]) => [g[1]!, g[0]!, ...g.slice(2)]],
  ])('declines %s', (_what, change) => {
    const groups = change(whole(ls, [1, 2, 0, 1, 1, 2, 3]));
    expect(ClaTemplate.suits(ls, groups)).toBe(false);
    if (groups.some((g) => g.priority !== 0)) expect(template.render(groups)).toBeUndefined();
  });
});
