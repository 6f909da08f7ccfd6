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
  // Runs on every view build. Locality failover gives priorities 0..4, so the distinct set is
  // usually a bitmask; failoverPriority can give larger ones, which take the general path.
  let mask = 0;
  for (const g of groups) {
    const p = g.priority;
    if (p > 30) return compactLarge(groups);
    mask |= 1 << p;
  }
  if ((mask & (mask + 1)) === 0) return groups; // bits 0..N-1 set: already contiguous
  return groups.map((g) => renumbered(g, bitsBelow(mask, g.priority)));
}

function bitsBelow(mask: number, bit: number): number {
  let n = 0;
  for (let m = mask & ((1 << bit) - 1); m !== 0; m &= m - 1) n++;
  return n;
}

function compactLarge<E extends WeightedEndpoint, G extends LocalityInput<E>>(groups: ViewGroup<E, G>[]): ViewGroup<E, G>[] {
  const distinct = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  if (distinct[distinct.length - 1] === distinct.length - 1) return groups;
  return groups.map((g) => renumbered(g, distinct.indexOf(g.priority)));
}

function renumbered<E extends WeightedEndpoint, G extends LocalityInput<E>>(g: ViewGroup<E, G>, priority: number): ViewGroup<E, G> {
  return { source: g.source, endpoints: g.endpoints, weight: g.weight, priority };
}
