// Cluster (CDS) for one registry cluster. Sidecars get what istiod's cluster builder writes for
// an outbound EDS cluster from the DestinationRule's traffic policy (the order below is istiod's):
// the connection pool (circuit breakers, connect timeout), outlier detection with the panic
// threshold it implies, the panic threshold when unhealthy endpoints may be sent, locality
// weighting, then the load-balancing policy. Proxyless gRPC clients get grpcgen's minimal cluster.
import { durationProto, parseGoDuration } from '../../config/duration.js';
import type { ConnectionPoolSettings, ConsistentHashSettings, LoadBalancerSettings, WarmupSettings } from '../../config/resources.js';
import type { ClusterLbPolicy } from '../../model/destination-rule.js';
import type { ClusterModel } from '../../model/registry.js';
import type { CircuitBreakerThresholds, Cluster, Duration, SlowStartConfig } from '../../proto/messages.js';
import { outlierDetectionOf, panicThresholdOf } from './outlier-detection.js';

/** MeshConfig.connectTimeout's default. */
export const CONNECT_TIMEOUT_SECONDS = 10;

/** istiod's default for every circuit-breaker limit: effectively none. */
export const UNLIMITED = 4294967295;

export interface ClusterBuildOptions {
  /**
   * PILOT_SEND_UNHEALTHY_ENDPOINTS (istiod default false): forces the panic threshold to 0, over
   * outlier detection's minHealthPercent too.
   */
  sendUnhealthy?: boolean;
  /**
   * PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS (istiod default true): a cluster whose outlier detection
   * sets no panic threshold gets 0. Off (and PILOT_SEND_UNHEALTHY_ENDPOINTS off), such a cluster
   * keeps Envoy's default of 50%.
   */
  autoSendUnhealthy?: boolean;
}

function goDuration(s: string | undefined): Duration | undefined {
  if (s === undefined) return undefined;
  // Validation already refused anything that does not parse.
  const ms = parseGoDuration(s);
  return ms === undefined ? undefined : durationProto(ms);
}

/**
 * Circuit breakers as istiod always writes them for an outbound cluster (a missing connectionPool
 * counts as an empty one): every limit unlimited, then each pool count above 0 replaces its limit.
 * track_remaining stays off (DISABLE_TRACK_REMAINING_CB_METRICS defaults to true).
 */
export function circuitBreakerThresholds(cp: ConnectionPoolSettings | undefined): CircuitBreakerThresholds {
  const limit = (n: number | undefined) => ({ value: n !== undefined && n > 0 ? n : UNLIMITED });
  return {
    max_connections: limit(cp?.tcp?.maxConnections),
    max_pending_requests: limit(cp?.http?.http1MaxPendingRequests),
    max_requests: limit(cp?.http?.http2MaxRequests),
    max_retries: limit(cp?.http?.maxRetries),
  };
}

/** Slow start from `warmup` (istiod's defaults: aggression 1, minimum weight 10%), else from `warmupDurationSecs`. */
function slowStart(lb: LoadBalancerSettings | undefined): SlowStartConfig | undefined {
  const w: WarmupSettings | undefined = lb?.warmup;
  if (w) {
    const window = goDuration(w.duration);
    return {
      ...(window && { slow_start_window: window }),
      // istiod fixes the runtime key; Envoy then reads the default value.
      aggression: { default_value: w.aggression ?? 1, runtime_key: '(' },
      min_weight_percent: { value: w.minimumPercent ?? 10 },
    };
  }
  const window = goDuration(lb?.warmupDurationSecs);
  return window && { slow_start_window: window };
}

/**
 * lb_policy and lb_config from the merged loadBalancer: no `simple` means LEAST_REQUEST (istiod's
 * default algorithm), LEAST_CONN is LEAST_REQUEST, slow start only under ROUND_ROBIN and
 * LEAST_REQUEST, PASSTHROUGH makes an ORIGINAL_DST cluster, and consistentHash overrides the
 * policy with RING_HASH or MAGLEV.
 */
function applyLoadBalancer(c: Cluster, lb: LoadBalancerSettings | undefined, passthrough: ClusterLbPolicy['passthrough']): void {
  if (passthrough === 'subset') {
    // A subset whose own `simple` is PASSTHROUGH: the cluster is ORIGINAL_DST from the start, and
    // istiod stops at the discovery type, before the policy switch.
    c.lb_policy = 'CLUSTER_PROVIDED';
    return;
  }
  switch (lb?.simple) {
    case 'LEAST_CONN':
    case 'LEAST_REQUEST':
    case undefined:
    case 'UNSPECIFIED': {
      c.lb_policy = 'LEAST_REQUEST';
      const ss = slowStart(lb);
      if (ss) c.least_request_lb_config = { slow_start_config: ss };
      break;
    }
    case 'ROUND_ROBIN': {
      c.lb_policy = 'ROUND_ROBIN';
      const ss = slowStart(lb);
      if (ss) c.round_robin_lb_config = { slow_start_config: ss };
      break;
    }
    case 'RANDOM':
      c.lb_policy = 'RANDOM';
      break;
    case 'PASSTHROUGH':
      c.lb_policy = 'CLUSTER_PROVIDED';
      break;
  }
  if (lb?.consistentHash) applyConsistentHash(c, lb.consistentHash);
  // An ORIGINAL_DST cluster is always balanced by the cluster itself (a ring hash config stays).
  if (passthrough) c.lb_policy = 'CLUSTER_PROVIDED';
}

/** istiod's ApplyRingHashLoadBalancer, shared by the sidecar and proxyless builders. */
function applyConsistentHash(c: Cluster, ch: ConsistentHashSettings): void {
  delete c.least_request_lb_config;
  delete c.round_robin_lb_config;
  if (ch.maglev) {
    c.lb_policy = 'MAGLEV';
    if (ch.maglev.tableSize) c.maglev_lb_config = { table_size: { value: ch.maglev.tableSize } };
  } else if (ch.ringHash) {
    c.lb_policy = 'RING_HASH';
    if (ch.ringHash.minimumRingSize) c.ring_hash_lb_config = { minimum_ring_size: { value: ch.ringHash.minimumRingSize } };
  } else {
    // The deprecated top-level size, Envoy's 1024 when unset.
    c.lb_policy = 'RING_HASH';
    c.ring_hash_lb_config = { minimum_ring_size: { value: ch.minimumRingSize || 1024 } };
  }
}

/** The outbound Cluster istiod sends a sidecar for this registry cluster. */
export function buildCluster(model: ClusterModel, opts: ClusterBuildOptions = {}): Cluster {
  const { policy } = model;
  const sendUnhealthy = opts.sendUnhealthy === true;
  const c: Cluster = {
    name: model.name,
    type: policy.passthrough ? 'ORIGINAL_DST' : 'EDS',
    connect_timeout: goDuration(policy.connectionPool?.tcp?.connectTimeout) ?? { seconds: CONNECT_TIMEOUT_SECONDS },
    circuit_breakers: { thresholds: [circuitBreakerThresholds(policy.connectionPool)] },
    common_lb_config: {},
  };
  const common = c.common_lb_config!;
  const od = policy.outlier;
  if (od) {
    c.outlier_detection = outlierDetectionOf(od);
    common.healthy_panic_threshold = panicThresholdOf(od, sendUnhealthy);
  } else if (sendUnhealthy || opts.autoSendUnhealthy !== false) {
    // Unhealthy endpoints may be sent (SupportsUnhealthyEndpoints): panic mode off, so Envoy
    // never routes to them.
    common.healthy_panic_threshold = { value: 0 };
  }
  if (policy.localityWeighted) common.locality_weighted_lb_config = {};
  applyLoadBalancer(c, policy.loadBalancer, policy.passthrough);
  if (c.type === 'EDS') {
    c.eds_cluster_config = {
      eds_config: { ads: {}, initial_fetch_timeout: { seconds: 0 }, resource_api_version: 'V3' },
      service_name: model.name,
    };
  }
  return c;
}

/**
 * The Cluster istiod's proxyless generator sends a `GENERATOR: grpc` node (grpcgen's edsCluster
 * and applyTrafficPolicy): EDS over ADS; from the merged policy only what gRPC clients support:
 * LEAST_REQUEST (ROUND_ROBIN is their default, anything else is dropped with a warning), ring
 * hash or maglev for consistent hashing, and http2MaxRequests as the one circuit-breaker limit
 * (gRFC A32). No connect timeout, outlier detection or locality weighting. ISTIO_MUTUAL TLS is
 * not modelled (docs/istiod-differences.md).
 */
export function buildProxylessCluster(model: ClusterModel): Cluster {
  const c: Cluster = {
    name: model.name,
    // istiod's DelimitedStatsPrefix: the name and its stat delimiter.
    alt_stat_name: `${model.name};`,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, service_name: model.name },
  };
  const { loadBalancer: lb, connectionPool: cp } = model.policy;
  if (lb?.consistentHash) applyConsistentHash(c, lb.consistentHash);
  else if (lb?.simple === 'LEAST_REQUEST') c.lb_policy = 'LEAST_REQUEST';
  const maxRequests = cp?.http?.http2MaxRequests;
  if (maxRequests !== undefined && maxRequests > 0) c.circuit_breakers = { thresholds: [{ max_requests: { value: maxRequests } }] };
  return c;
}
