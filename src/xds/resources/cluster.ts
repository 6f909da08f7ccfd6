// Cluster (CDS) for one registry cluster, as istiod sends it to proxyless gRPC and Envoy:
// EDS over ADS, ROUND_ROBIN, locality-weighted LB when distribute or failover is in effect.
import type { ClusterModel } from '../../model/registry.js';
import type { Cluster } from '../../proto/messages.js';

export const CONNECT_TIMEOUT_SECONDS = 10;

/** Istio sets locality_weighted_lb_config when distribute is set, or failover with outlier detection. */
export function wantsLocalityWeightedLb(model: ClusterModel): boolean {
  const lb = model.policy.localityLb;
  if (!lb) return false;
  if (lb.distribute?.length) return true;
  return model.policy.outlierDetection && !!(lb.failover?.length || lb.failoverPriority?.length);
}

export function buildCluster(model: ClusterModel): Cluster {
  const c: Cluster = {
    name: model.name,
    type: 'EDS',
    eds_cluster_config: {
      eds_config: { ads: {}, initial_fetch_timeout: { seconds: 0 }, resource_api_version: 'V3' },
      service_name: model.name,
    },
    connect_timeout: { seconds: CONNECT_TIMEOUT_SECONDS },
    lb_policy: 'ROUND_ROBIN',
  };
  if (wantsLocalityWeightedLb(model)) c.common_lb_config = { locality_weighted_lb_config: {} };
  return c;
}
