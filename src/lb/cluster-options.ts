// What an Envoy client takes from the CDS Cluster when it balances over a ClusterLoadAssignment.
import type { Cluster } from '../proto/messages.js';
import { DEFAULT_MAX_EJECTION_PERCENT } from './envoy.js';
import type { ComputeSharesOptions } from './index.js';

/**
 * The Cluster's panic threshold (unset: Envoy's default), whether it weights localities, and its
 * outlier ejection cap. Read from the message the control plane sends, so the model sees exactly
 * what a proxy would.
 */
export function clusterLbOptions(c: Cluster): Pick<ComputeSharesOptions, 'panicThreshold' | 'localityWeighted' | 'outlierDetection'> {
  const common = c.common_lb_config;
  const threshold = common?.healthy_panic_threshold?.value;
  const od = c.outlier_detection;
  return {
    ...(threshold !== undefined && { panicThreshold: threshold }),
    localityWeighted: common?.locality_weighted_lb_config !== undefined,
    outlierDetection: od ? { maxEjectionPercent: od.max_ejection_percent?.value ?? DEFAULT_MAX_EJECTION_PERCENT } : false,
  };
}
