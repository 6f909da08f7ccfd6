// Cluster (CDS) for one registry cluster, as istiod sends it to proxyless gRPC and Envoy:
// EDS over ADS, ROUND_ROBIN, locality-weighted LB when distribute or failover is in effect, and
// the DestinationRule's outlier detection with the panic threshold it implies.
import type { ClusterModel } from '../../model/registry.js';
import type { Cluster } from '../../proto/messages.js';
import { outlierDetectionOf, panicThresholdOf } from './outlier-detection.js';

export const CONNECT_TIMEOUT_SECONDS = 10;

export interface ClusterBuildOptions {
  /** PILOT_SEND_UNHEALTHY_ENDPOINTS: unhealthy endpoints are sent, so panic mode stays off. */
  sendUnhealthy?: boolean;
}

export function buildCluster(model: ClusterModel, opts: ClusterBuildOptions = {}): Cluster {
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
  const od = model.policy.outlier;
  if (od) c.outlier_detection = outlierDetectionOf(od);
  if (od || model.policy.localityWeighted) {
    c.common_lb_config = {
      ...(od && { healthy_panic_threshold: panicThresholdOf(od, opts.sendUnhealthy === true) }),
      ...(model.policy.localityWeighted && { locality_weighted_lb_config: {} }),
    };
  }
  return c;
}

/**
 * The Cluster istiod's proxyless generator sends a `GENERATOR: grpc` node (grpcgen's edsCluster):
 * EDS over ADS and nothing else: no connect timeout, outlier detection or locality weighting, and
 * `lb_policy` left at its default (ROUND_ROBIN). Its DestinationRule extras (LEAST_REQUEST, ring
 * hash, http2MaxRequests circuit breakers, ISTIO_MUTUAL TLS) are not modelled.
 */
export function buildProxylessCluster(model: ClusterModel): Cluster {
  return {
    name: model.name,
    // istiod's DelimitedStatsPrefix: the name and its stat delimiter.
    alt_stat_name: `${model.name};`,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, service_name: model.name },
  };
}
