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
  return priorityUnderRule(proxy, endpoint, failoverRuleOf(proxy, failover));
}

function failoverRuleOf(proxy: Locality, failover: Failover): Failover[number] | undefined {
  return failover.find((f) => f.from === proxy.region);
}

/** localityFailoverPriority with the proxy's rule already looked up (once per view). */
function priorityUnderRule(proxy: Locality, endpoint: Locality, rule: Failover[number] | undefined): number {
  const p = proximityPriority(proxy, endpoint);
  return p === 3 && rule !== undefined && rule.to !== endpoint.region ? 4 : p;
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
  const rule = failoverRuleOf(proxy, failover);
  const out = new Array<ViewGroup<E, G>>(groups.length);
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const p = priorityUnderRule(proxy, g.source.locality, rule);
    // A fixed-shape literal: V8 builds it far faster than `{ ...g, priority }` (this is per view).
    out[i] = { source: g.source, endpoints: g.endpoints, weight: g.weight, priority: g.priority * 5 + p };
  }
  return out;
}

/**
 * applyLocalityFailover over whole localities, without first building them at priority 0: the
 * view of every failover-only DestinationRule takes this path. Kept apart from it on purpose:
 * going through applyLocalityFailover(wholeGroups(...)) measured 0.5-1 µs slower per 1000-endpoint
 * view (about 10%).
 */
export function localityFailoverGroups<E extends WeightedEndpoint, G extends LocalityInput<E>>(
  localities: readonly G[],
  proxy: Locality,
  failover: Failover,
): ViewGroup<E, G>[] {
  const rule = failoverRuleOf(proxy, failover);
  const out = new Array<ViewGroup<E, G>>(localities.length);
  for (let i = 0; i < localities.length; i++) {
    const source = localities[i]!;
    out[i] = { source, endpoints: source.endpoints, weight: source.weight, priority: priorityUnderRule(proxy, source.locality, rule) };
  }
  return out;
}
