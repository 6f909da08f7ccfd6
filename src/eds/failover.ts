// Locality failover (SPEC §4): priorities by proximity to the proxy, with region failover rules.
import type { LocalityLbSetting } from '../config/resources.js';
import { proximityPriority, type Locality } from '../model/locality.js';
import type { LocalityInput, ViewGroup, WeightedEndpoint } from './view-group.js';

type Failover = NonNullable<LocalityLbSetting['failover']>;

/**
 * Proximity priority of an endpoint locality (0 same subzone .. 3 other region); with a failover
 * rule from the proxy's region, other regions except its `to` drop to 4. Only the first rule
 * whose `from` is the proxy's region counts.
 */
export function localityFailoverPriority(proxy: Locality, endpoint: Locality, failover: Failover): number {
  const p = proximityPriority(proxy, endpoint);
  if (p !== 3) return p;
  const rule = failover.find((f) => f.from === proxy.region);
  return rule && rule.to !== endpoint.region ? 4 : 3;
}

/**
 * Sets each group's priority to `existing x 5 + locality priority`, so a split made earlier by
 * failoverPriority keeps precedence over proximity. Not compacted.
 */
export function applyLocalityFailover<E extends WeightedEndpoint, G extends LocalityInput<E>>(
  groups: readonly ViewGroup<E, G>[],
  proxy: Locality,
  failover: Failover,
): ViewGroup<E, G>[] {
  // Same result as localityFailoverPriority per group, with the rule looked up once per view.
  const rule = failover.find((f) => f.from === proxy.region);
  const out = new Array<ViewGroup<E, G>>(groups.length);
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    let p: number = proximityPriority(proxy, g.source.locality);
    if (p === 3 && rule && rule.to !== g.source.locality.region) p = 4;
    // A fixed-shape literal: V8 builds it far faster than `{ ...g, priority }` (this is per view).
    out[i] = { source: g.source, endpoints: g.endpoints, weight: g.weight, priority: g.priority * 5 + p };
  }
  return out;
}
