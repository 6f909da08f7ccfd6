// The unit the locality rules work on: one (locality, priority) entry of a ClusterLoadAssignment.
import type { Labels } from '../model/labels.js';
import type { Locality } from '../model/locality.js';

export interface WeightedEndpoint {
  readonly weight: number;
  readonly labels: Labels;
}

/** All endpoints of one locality in a cluster, as the registry sees them. */
export interface LocalityInput<E extends WeightedEndpoint = WeightedEndpoint> {
  readonly locality: Locality;
  /** Sorted, deterministic. */
  readonly endpoints: readonly E[];
  /** Sum of endpoint weights, saturating at 2^32-1. */
  readonly weight: number;
}

/** One LocalityLbEndpoints of the output. */
export interface ViewGroup<E extends WeightedEndpoint = WeightedEndpoint, G extends LocalityInput<E> = LocalityInput<E>> {
  readonly source: G;
  /** `source.endpoints` itself unless a rule split or emptied the locality. */
  readonly endpoints: readonly E[];
  readonly weight: number;
  readonly priority: number;
}

export const MAX_UINT32 = 0xffffffff;

export function sumWeights(endpoints: readonly WeightedEndpoint[]): number {
  let w = 0;
  for (const e of endpoints) w += e.weight;
  return w > MAX_UINT32 ? MAX_UINT32 : w;
}

/** Renumbers priorities to 0..N-1 keeping their order (Envoy needs them contiguous). */
export function compactPriorities<V extends { priority: number }>(groups: V[]): V[] {
  const distinct = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  if (distinct.every((p, i) => p === i)) return groups;
  const rank = new Map(distinct.map((p, i) => [p, i]));
  return groups.map((g) => ({ ...g, priority: rank.get(g.priority)! }));
}
