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
export function compactPriorities<E extends WeightedEndpoint, G extends LocalityInput<E>>(
  groups: ViewGroup<E, G>[],
): ViewGroup<E, G>[] {
  // A view has a handful of distinct priorities: insertion into a small sorted array beats
  // Set + sort + Map + spread, and this runs on every view build.
  const distinct: number[] = [];
  for (const g of groups) {
    const p = g.priority;
    let i = distinct.length;
    while (i > 0 && distinct[i - 1]! > p) i--;
    if (i === 0 || distinct[i - 1] !== p) distinct.splice(i, 0, p);
  }
  if (distinct[distinct.length - 1] === distinct.length - 1) return groups; // sorted, distinct, >= 0: already 0..N-1
  return groups.map((g) => ({ source: g.source, endpoints: g.endpoints, weight: g.weight, priority: distinct.indexOf(g.priority) }));
}
