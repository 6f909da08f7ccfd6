// `localityLbSetting.distribute` (SPEC §4): weights by locality, relative to the proxy's locality.
import type { LocalityLbSetting } from '../config/resources.js';
import { localityMatches, type Locality } from '../model/locality.js';
import { MAX_UINT32, type ViewGroup, type WeightedEndpoint, type LocalityInput } from './view-group.js';

type Distribute = NonNullable<LocalityLbSetting['distribute']>;

/** Index of the first rule whose `from` matches the proxy, or -1. */
export function matchingDistributeRule(proxy: Locality, rules: Distribute): number {
  return rules.findIndex((r) => localityMatches(proxy, r.from ?? ''));
}

/**
 * Applies rule `ruleIndex` (see matchingDistributeRule): each `to` pattern, in document order,
 * claims the localities it matches that no earlier pattern claimed; each claimed locality gets
 * ceil(own weight x percent / total weight of the localities claimed by that pattern).
 * A percent that works out to 0 leaves the weight as it was (as istiod does). Localities claimed
 * by no pattern keep their entry but lose their endpoints.
 */
export function applyDistribute<E extends WeightedEndpoint, G extends LocalityInput<E>>(
  groups: ViewGroup<E, G>[],
  rule: Distribute[number],
): ViewGroup<E, G>[] {
  const weights = groups.map((g) => g.weight);
  const claimed = new Array<boolean>(groups.length).fill(false);
  for (const [pattern, percent] of Object.entries(rule.to ?? {})) {
    const members: number[] = [];
    let total = 0;
    groups.forEach((g, i) => {
      if (!claimed[i] && localityMatches(g.source.locality, pattern)) {
        claimed[i] = true;
        members.push(i);
        // A group split horizon emptied has no weight; istiod counts it as 1.
        total += g.weight < 0 ? 1 : g.weight;
      }
    });
    for (const i of members) {
      const own = groups[i]!.weight;
      const w = ((own < 0 ? 1 : own) * percent) / total;
      if (w > 0) weights[i] = Math.min(MAX_UINT32, Math.ceil(w));
    }
  }
  return groups.map((g, i) => ({ ...g, weight: weights[i]!, endpoints: claimed[i] ? g.endpoints : [] }));
}
