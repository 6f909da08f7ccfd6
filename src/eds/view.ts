// The EDS view: which endpoints a proxy gets for a cluster, in which priority, with which weights.
// Pure: the same inputs always give the same groups, in locality order then priority order.
import type { ClusterLbPolicy } from '../model/destination-rule.js';
import { applyDistribute, matchingDistributeRule } from './distribute.js';
import { applyLocalityFailover, localityFailoverGroups } from './failover.js';
import { applyFailoverPriority, parseFailoverPriority } from './failover-priority.js';
import type { ProxyView } from './proxy.js';
import { compactPriorities, type LocalityInput, type ViewGroup, type WeightedEndpoint } from './view-group.js';

export function computeView<E extends WeightedEndpoint, G extends LocalityInput<E>>(
  localities: readonly G[],
  policy: ClusterLbPolicy,
  proxy: ProxyView,
): ViewGroup<E, G>[] {
  const lb = policy.localityLb;
  if (!lb) return wholeGroups(localities);
  // distribute and failover are exclusive; distribute wins.
  if (lb.distribute?.length) {
    const rule = matchingDistributeRule(proxy.locality, lb.distribute);
    const groups = wholeGroups<E, G>(localities);
    return rule < 0 ? groups : applyDistribute(groups, lb.distribute[rule]!);
  }
  // Without outlier detection Envoy would never fail over, so istiod sets no priorities.
  if (!policy.outlier) return wholeGroups(localities);
  if (lb.failoverPriority?.length) {
    let groups = applyFailoverPriority(wholeGroups<E, G>(localities), proxy.priorityLabels, parseFailoverPriority(lb.failoverPriority));
    if (lb.failover?.length) groups = applyLocalityFailover(groups, proxy.locality, lb.failover);
    return compactPriorities(groups);
  }
  // The common case: whole localities, each built once with its proximity priority.
  return compactPriorities(localityFailoverGroups<E, G>(localities, proxy.locality, lb.failover ?? []));
}

/** Every locality whole, at priority 0. */
function wholeGroups<E extends WeightedEndpoint, G extends LocalityInput<E>>(localities: readonly G[]): ViewGroup<E, G>[] {
  const out = new Array<ViewGroup<E, G>>(localities.length);
  for (let i = 0; i < localities.length; i++) {
    const source = localities[i]!;
    out[i] = { source, endpoints: source.endpoints, weight: source.weight, priority: 0 };
  }
  return out;
}

/**
 * The part of a proxy that can change its view of a cluster under `policy`; proxies with equal
 * keys get identical bytes, so they share one build and one encoding.
 */
export function viewKey(policy: ClusterLbPolicy, proxy: ProxyView): string {
  const lb = policy.localityLb;
  if (!lb) return '-';
  if (lb.distribute?.length) return `d${matchingDistributeRule(proxy.locality, lb.distribute)}`;
  if (!policy.outlier) return '-';
  let key = '';
  if (lb.failoverPriority?.length) {
    if (Object.keys(proxy.priorityLabels).length === 0) key = 'p-';
    else {
      key = 'p';
      for (const { label, value } of parseFailoverPriority(lb.failoverPriority)) {
        // An overridden label compares endpoints against a fixed value: the proxy's does not matter.
        key += value === undefined ? `\u0000${proxy.priorityLabels[label] ?? ''}` : '\u0000=';
      }
    }
    if (!lb.failover?.length) return key;
  }
  return `${key}\u0001${proxy.localityKey}`;
}
