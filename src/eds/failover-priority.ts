// `failoverPriority` (SPEC §4): priorities by how many of an ordered label list match the proxy.
import type { Labels } from '../model/labels.js';
import { sumWeights, type LocalityInput, type ViewGroup, type WeightedEndpoint } from './view-group.js';

export interface PriorityLabel {
  readonly label: string;
  /** From `label=value`: the value endpoints must have, whatever the proxy's. */
  readonly value?: string;
}

export function parseFailoverPriority(entries: readonly string[]): PriorityLabel[] {
  return entries.map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? { label: e } : { label: e.slice(0, i), value: e.slice(i + 1) };
  });
}

/** n - j for the first label j (0-based, of n) whose value differs from the proxy's; 0 if all match. */
export function labelPriority(proxy: Labels, endpoint: Labels, labels: readonly PriorityLabel[]): number {
  for (let j = 0; j < labels.length; j++) {
    const { label, value } = labels[j]!;
    const want = value ?? proxy[label] ?? '';
    if ((endpoint[label] ?? '') !== want) return labels.length - j;
  }
  return 0;
}

/**
 * Splits each locality group by endpoint priority (ascending), weights re-summed. Not compacted.
 * A proxy without labels gets no split (istiod skips the rule).
 */
export function applyFailoverPriority<E extends WeightedEndpoint, G extends LocalityInput<E>>(
  groups: ViewGroup<E, G>[],
  proxyLabels: Labels,
  labels: readonly PriorityLabel[],
): ViewGroup<E, G>[] {
  if (Object.keys(proxyLabels).length === 0) return groups;
  const out: ViewGroup<E, G>[] = [];
  for (const g of groups) {
    const byPriority = new Map<number, E[]>();
    for (const e of g.endpoints) {
      const p = labelPriority(proxyLabels, e.labels, labels);
      let list = byPriority.get(p);
      if (!list) byPriority.set(p, (list = []));
      list.push(e);
    }
    if (byPriority.size <= 1) {
      out.push({ ...g, priority: byPriority.keys().next().value ?? 0 });
      continue;
    }
    for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
      const endpoints = byPriority.get(p)!;
      out.push({ ...g, endpoints, weight: sumWeights(endpoints), priority: p });
    }
  }
  return out;
}
