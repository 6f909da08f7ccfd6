// What an Envoy client takes from the CDS Cluster when it balances over a ClusterLoadAssignment.
import type { Cluster } from '../proto/messages.js';
import { DEFAULT_MAX_EJECTION_PERCENT } from './envoy.js';
import type { ComputeSharesOptions } from './index.js';

/** Cluster.LbPolicy numbers, for a Cluster decoded with numeric enums. */
const LB_POLICY_NAMES: Readonly<Record<number, string>> = { 0: 'ROUND_ROBIN', 1: 'LEAST_REQUEST', 2: 'RING_HASH', 3: 'RANDOM', 5: 'MAGLEV', 6: 'CLUSTER_PROVIDED', 7: 'LOAD_BALANCING_POLICY_CONFIG' };

/**
 * The Cluster's panic threshold (unset: Envoy's default 50; istiod sends 0 on sidecar clusters,
 * which turns panic mode off), whether it weights localities, its outlier ejection cap and its
 * lb_policy. Read from the message the control plane sends, so the model sees exactly what a
 * proxy would.
 */
export function clusterLbOptions(c: Cluster): Pick<ComputeSharesOptions, 'panicThreshold' | 'localityWeighted' | 'outlierDetection' | 'lbPolicy'> {
  const common = c.common_lb_config;
  const threshold = common?.healthy_panic_threshold?.value;
  const od = c.outlier_detection;
  const policy = c.lb_policy ?? 'ROUND_ROBIN';
  return {
    // A Percent present with no value on the wire is 0.
    ...(common?.healthy_panic_threshold !== undefined && { panicThreshold: threshold ?? 0 }),
    localityWeighted: common?.locality_weighted_lb_config !== undefined,
    outlierDetection: od ? { maxEjectionPercent: od.max_ejection_percent?.value ?? DEFAULT_MAX_EJECTION_PERCENT } : false,
    lbPolicy: typeof policy === 'number' ? (LB_POLICY_NAMES[policy] ?? String(policy)) : policy,
  };
}
