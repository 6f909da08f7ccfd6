// Locality failover (SPEC §4): priorities by proximity to the proxy, with region failover rules.
import type { LocalityLbSetting } from '../config/resources.js';
import { proximityPriority, type Locality } from '../model/locality.js';
import type { ViewGroup } from './view-group.js';

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
export function applyLocalityFailover<V extends ViewGroup>(groups: V[], proxy: Locality, failover: Failover): V[] {
  return groups.map((g) => ({ ...g, priority: g.priority * 5 + localityFailoverPriority(proxy, g.source.locality, failover) }));
}
