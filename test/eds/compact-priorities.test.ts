// compactPriorities alone: both of its paths (small priorities as a bitmask, large ones sorted).
import { describe, expect, it } from 'vitest';
import { parseLocality } from '../../src/model/locality.js';
import { compactPriorities, type LocalityInput, type ViewGroup } from '../../src/eds/view-group.js';

const source: LocalityInput = { locality: parseLocality('r/z/s'), endpoints: [], weight: 0 };
const groups = (priorities: number[]): ViewGroup[] => priorities.map((priority) => ({ source, endpoints: [], weight: 1, priority }));

describe('compactPriorities', () => {
  it.each([
    ['empty', [], []],
    ['already contiguous: same array back', [0, 1, 2, 1, 0], [0, 1, 2, 1, 0]],
    ['a gap closes', [0, 2, 2, 4], [0, 1, 1, 2]],
    ['no priority 0', [3, 1, 4], [1, 0, 2]],
    ['one priority above 0', [4, 4], [0, 0]],
    ['largest small priority (30)', [30, 0], [1, 0]],
    ['above 30: the general path', [31, 0, 5, 200], [2, 0, 1, 3]],
    ['above 30 and contiguous would still be renumbered from 0', [45, 40, 35], [2, 1, 0]],
  ])('%s', (_name, input, want) => {
    const before = groups(input);
    const after = compactPriorities(before);
    expect(after.map((g) => g.priority)).toEqual(want);
    if (input.join() === want.join()) expect(after).toBe(before);
    // The input is never mutated: views may share it.
    expect(before.map((g) => g.priority)).toEqual(input);
  });
});
