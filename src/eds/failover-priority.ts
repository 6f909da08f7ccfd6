// `failoverPriority` (SPEC §4): priorities by how many of an ordered label list match the proxy.
import { LABEL_NETWORK, type Labels } from '../model/labels.js';
import { sumWeights, type LocalityInput, type ViewGroup, type WeightedEndpoint } from './view-group.js';

export interface PriorityLabel {
  readonly label: string;
  /** From `label=value`: the value endpoints must have, whatever the proxy's. */
  readonly value?: string;
}

/**
 * The ordered labels. A `label=value` fixes the value for that label name wherever it appears in
 * the list (the last such entry wins), as istiod's override map does.
 */
export function parseFailoverPriority(entries: readonly string[]): PriorityLabel[] {
  const fixed = new Map<string, string>();
  const names = entries.map((e) => {
    const i = e.indexOf('=');
    if (i < 0) return e;
    fixed.set(e.slice(0, i), e.slice(i + 1));
    return e.slice(0, i);
  });
  return names.map((label) => {
    const value = fixed.get(label);
    return value === undefined ? { label } : { label, value };
  });
}

/**
 * n - j for the first label j (0-based, of n) whose value differs from the proxy's; 0 if all match.
 * A network listed first is istiod's exception: an endpoint on another network is not cut off
 * there but ranked by the remaining labels, n lower, so other networks come after every
 * same-network endpoint and keep their label order among themselves.
 */
export function labelPriority(proxy: Labels, endpoint: Labels, labels: readonly PriorityLabel[]): number {
  let adjust = 0;
  for (let j = 0; j < labels.length; j++) {
    const { label, value } = labels[j]!;
    const want = value ?? proxy[label] ?? '';
    if ((endpoint[label] ?? '') === want) continue;
    if (j === 0 && label === LABEL_NETWORK) {
      adjust = labels.length;
      continue;
    }
    return labels.length - j + adjust;
  }
  return adjust;
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
    // A group with no endpoints (split horizon can leave one) yields no group, as in istiod.
    if (byPriority.size === 0) continue;
    if (byPriority.size === 1) {
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
