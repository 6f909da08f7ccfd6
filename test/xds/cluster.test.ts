// The CDS Cluster istiod would send a sidecar for a DestinationRule's traffic policy, checked as
// decoded by the official Envoy protos. istiod: pilot/pkg/networking/core/cluster_traffic_policy.go
// (applyTrafficPolicy -> applyConnectionPool, applyOutlierDetection, applyLoadBalancer).
import { describe, expect, it } from 'vitest';
import type { TrafficPolicy } from '../../src/config/resources.js';
import { clusterLbOptions } from '../../src/lb/index.js';
import { encode } from '../../src/proto/index.js';
import type { Cluster } from '../../src/proto/messages.js';
import { buildCluster, type ClusterBuildOptions } from '../../src/xds/resources/cluster.js';
import { dr, mesh, svc, we } from '../helpers/mesh.js';
import { loadOfficialRoot } from '../proto/official.js';

const CLUSTER = 'outbound|8080||api.pay.svc.cluster.local';

function clusterFor(trafficPolicy: TrafficPolicy | undefined, sendUnhealthy = false, opts: ClusterBuildOptions = {}): Cluster {
  const { registry } = mesh([
    svc('api', { app: 'api' }, [{ name: 'grpc', port: 8080 }]),
    we('api-a', { address: '10.0.0.1', labels: { app: 'api' } }),
    ...(trafficPolicy ? [dr('api', { host: 'api', trafficPolicy })] : []),
  ]);
  return buildCluster(registry.cluster(CLUSTER)!, { sendUnhealthy, ...opts });
}

/** The Cluster's bytes as Envoy reads them (official protos, defaults left out). */
function asEnvoySees(c: Cluster): Record<string, unknown> {
  const type = loadOfficialRoot().lookupType('envoy.config.cluster.v3.Cluster');
  return type.toObject(type.decode(encode('Cluster', c)), { enums: String, longs: Number }) as Record<string, unknown>;
}

/** A wrapper (UInt32Value, Percent) holding 0: present, its zero value left off the wire. */
const ZERO = {};
const enforced = (n: number) => (n === 0 ? ZERO : { value: n });

describe('CDS Cluster from the traffic policy', () => {
  it.each<[string, TrafficPolicy | undefined, Record<string, unknown> | undefined, Record<string, unknown> | undefined]>([
    ['no rule: no outlier detection, panic mode off (PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS)', undefined, undefined, { healthy_panic_threshold: ZERO }],
    [
      'consecutive 5xx: enforced at 100%, success rate off, panic mode off',
      { outlierDetection: { consecutive5xxErrors: 5 } },
      { consecutive_5xx: { value: 5 }, enforcing_consecutive_5xx: enforced(100), enforcing_success_rate: ZERO },
      { healthy_panic_threshold: ZERO },
    ],
    [
      'a zero count is sent but not enforced',
      { outlierDetection: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 } },
      {
        consecutive_5xx: ZERO,
        enforcing_consecutive_5xx: enforced(0),
        consecutive_gateway_failure: { value: 3 },
        enforcing_consecutive_gateway_failure: enforced(100),
        enforcing_success_rate: ZERO,
      },
      { healthy_panic_threshold: ZERO },
    ],
    [
      'durations, ejection percent and minHealthPercent',
      { outlierDetection: { interval: '1m30s', baseEjectionTime: '1.5s', maxEjectionPercent: 40, minHealthPercent: 25 } },
      { interval: { seconds: 90 }, base_ejection_time: { seconds: 1, nanos: 500_000_000 }, max_ejection_percent: { value: 40 }, enforcing_success_rate: ZERO },
      { healthy_panic_threshold: { value: 25 } },
    ],
    [
      'maxEjectionPercent 0 is left to Envoy',
      { outlierDetection: { maxEjectionPercent: 0 } },
      { enforcing_success_rate: ZERO },
      { healthy_panic_threshold: ZERO },
    ],
    [
      'local-origin errors split: their failures enforced, their success rate off',
      { outlierDetection: { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 4 } },
      {
        split_external_local_origin_errors: true,
        consecutive_local_origin_failure: { value: 4 },
        enforcing_consecutive_local_origin_failure: enforced(100),
        enforcing_local_origin_success_rate: ZERO,
        enforcing_success_rate: ZERO,
      },
      { healthy_panic_threshold: ZERO },
    ],
    [
      'local-origin failures without the split are ignored',
      { outlierDetection: { consecutiveLocalOriginFailures: 4 } },
      { enforcing_success_rate: ZERO },
      { healthy_panic_threshold: ZERO },
    ],
    [
      'failover with outlier detection: locality-weighted too',
      { loadBalancer: { localityLbSetting: { failover: [{ from: 'r1', to: 'r2' }] } }, outlierDetection: { consecutive5xxErrors: 5, minHealthPercent: 50 } },
      { consecutive_5xx: { value: 5 }, enforcing_consecutive_5xx: enforced(100), enforcing_success_rate: ZERO },
      { healthy_panic_threshold: { value: 50 }, locality_weighted_lb_config: {} },
    ],
    [
      'distribute alone: locality-weighted, panic mode off',
      { loadBalancer: { localityLbSetting: { distribute: [{ from: 'r1/*', to: { 'r1/*': 100 } }] } } },
      undefined,
      { healthy_panic_threshold: ZERO, locality_weighted_lb_config: {} },
    ],
    [
      'port-level settings replace the top-level outlier detection',
      { outlierDetection: { consecutive5xxErrors: 5 }, portLevelSettings: [{ port: { number: 8080 }, outlierDetection: { consecutiveGatewayErrors: 2 } }] },
      { consecutive_gateway_failure: { value: 2 }, enforcing_consecutive_gateway_failure: enforced(100), enforcing_success_rate: ZERO },
      { healthy_panic_threshold: ZERO },
    ],
  ])('%s', (_label, policy, outlier, common) => {
    const seen = asEnvoySees(clusterFor(policy));
    expect(seen['outlier_detection']).toEqual(outlier);
    expect(seen['common_lb_config']).toEqual(common);
  });

  it('sending unhealthy endpoints turns panic mode off whatever minHealthPercent says', () => {
    const c = clusterFor({ outlierDetection: { minHealthPercent: 60 } }, true);
    expect(c.common_lb_config?.healthy_panic_threshold).toEqual({ value: 0 });
  });
});

// applyLoadBalancer: `if HealthyPanicThreshold == nil && svc.SupportsUnhealthyEndpoints()` -> 0;
// SupportsUnhealthyEndpoints is PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS || PILOT_SEND_UNHEALTHY_ENDPOINTS.
describe('panic threshold and the unhealthy-endpoint switches (applyLoadBalancer, applyOutlierDetection)', () => {
  const OD = { outlierDetection: { consecutive5xxErrors: 5 } };
  const OD_MIN = { outlierDetection: { minHealthPercent: 40 } };
  it.each<[string, TrafficPolicy | undefined, ClusterBuildOptions, Record<string, unknown> | undefined]>([
    ['defaults, no rule: 0', undefined, {}, { healthy_panic_threshold: ZERO }],
    ['auto-send off, no rule: unset (Envoy 50%), common_lb_config still sent', undefined, { autoSendUnhealthy: false }, {}],
    ['auto-send off, send-unhealthy on: 0', undefined, { autoSendUnhealthy: false, sendUnhealthy: true }, { healthy_panic_threshold: ZERO }],
    ['auto-send off, outlier detection: its minHealthPercent (0)', OD, { autoSendUnhealthy: false }, { healthy_panic_threshold: ZERO }],
    ['outlier detection minHealthPercent 40: 40', OD_MIN, {}, { healthy_panic_threshold: { value: 40 } }],
    ['outlier detection minHealthPercent 40, send-unhealthy: 0 (ForcesSupportUnhealthyEndpoints)', OD_MIN, { sendUnhealthy: true }, { healthy_panic_threshold: ZERO }],
  ])('%s', (_label, policy, opts, common) => {
    expect(asEnvoySees(clusterFor(policy, false, opts))['common_lb_config']).toEqual(common);
  });
});

const UNLIMITED = { value: 4294967295 };
const DEFAULT_THRESHOLDS = { max_connections: UNLIMITED, max_pending_requests: UNLIMITED, max_requests: UNLIMITED, max_retries: UNLIMITED };

// applyConnectionPool (called with an empty pool when the rule has none) and getDefaultCircuitBreakerThresholds.
describe('circuit breakers and connect timeout (applyConnectionPool)', () => {
  it.each<[string, TrafficPolicy | undefined, Record<string, unknown>, Record<string, unknown>]>([
    ['no rule: every limit unlimited, no track_remaining, mesh connect timeout', undefined, DEFAULT_THRESHOLDS, { seconds: 10 }],
    [
      'every count above 0 replaces its limit',
      { connectionPool: { tcp: { maxConnections: 100, connectTimeout: '250ms' }, http: { http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRetries: 3 } } },
      { max_connections: { value: 100 }, max_pending_requests: { value: 10 }, max_requests: { value: 1000 }, max_retries: { value: 3 } },
      { nanos: 250_000_000 },
    ],
    ['0 keeps the default', { connectionPool: { tcp: { maxConnections: 0 }, http: { maxRetries: 0 } } }, DEFAULT_THRESHOLDS, { seconds: 10 }],
    [
      'maxRequestsPerConnection does not touch the circuit breakers',
      { connectionPool: { http: { maxRequestsPerConnection: 1 } } },
      DEFAULT_THRESHOLDS,
      { seconds: 10 },
    ],
    [
      'port-level pool replaces the top-level one',
      { connectionPool: { tcp: { maxConnections: 5 } }, portLevelSettings: [{ port: { number: 8080 }, connectionPool: { http: { http2MaxRequests: 7 } } }] },
      { ...DEFAULT_THRESHOLDS, max_requests: { value: 7 } },
      { seconds: 10 },
    ],
  ])('%s', (_label, policy, thresholds, timeout) => {
    const seen = asEnvoySees(clusterFor(policy));
    expect(seen['circuit_breakers']).toEqual({ thresholds: [thresholds] });
    expect(seen['connect_timeout']).toEqual(timeout);
  });
});

// applyLoadBalancer's switch on `simple`, applySimpleDefaultLoadBalancer / defaultLBAlgorithm
// (LEAST_REQUEST), applyRoundRobinLoadBalancer / applyLeastRequestLoadBalancer (slow start),
// setWarmup, ApplyRingHashLoadBalancer. ROUND_ROBIN is the proto default: absent on the wire.
describe('lb_policy and lb_config (applyLoadBalancer)', () => {
  const SLOW_START_60 = { slow_start_config: { slow_start_window: { seconds: 60 } } };
  it.each<[string, TrafficPolicy['loadBalancer'], Record<string, unknown>]>([
    ['no loadBalancer: LEAST_REQUEST', undefined, { lb_policy: 'LEAST_REQUEST' }],
    ['localityLbSetting only: LEAST_REQUEST', { localityLbSetting: { enabled: true } }, { lb_policy: 'LEAST_REQUEST' }],
    ['UNSPECIFIED: LEAST_REQUEST', { simple: 'UNSPECIFIED' }, { lb_policy: 'LEAST_REQUEST' }],
    ['LEAST_CONN: LEAST_REQUEST', { simple: 'LEAST_CONN' }, { lb_policy: 'LEAST_REQUEST' }],
    ['LEAST_REQUEST', { simple: 'LEAST_REQUEST' }, { lb_policy: 'LEAST_REQUEST' }],
    ['ROUND_ROBIN: the proto default, left off the wire', { simple: 'ROUND_ROBIN' }, {}],
    ['RANDOM', { simple: 'RANDOM' }, { lb_policy: 'RANDOM' }],
    ['RANDOM ignores warmup', { simple: 'RANDOM', warmupDurationSecs: '60s' }, { lb_policy: 'RANDOM' }],
    ['default with warmupDurationSecs: least-request slow start', { warmupDurationSecs: '60s' }, { lb_policy: 'LEAST_REQUEST', least_request_lb_config: SLOW_START_60 }],
    ['ROUND_ROBIN with warmupDurationSecs', { simple: 'ROUND_ROBIN', warmupDurationSecs: '60s' }, { round_robin_lb_config: SLOW_START_60 }],
    [
      'warmup: istiod defaults aggression 1 and minimum weight 10%, fixed runtime key',
      { simple: 'LEAST_REQUEST', warmup: { duration: '30s' } },
      {
        lb_policy: 'LEAST_REQUEST',
        least_request_lb_config: {
          slow_start_config: { slow_start_window: { seconds: 30 }, aggression: { default_value: 1, runtime_key: '(' }, min_weight_percent: { value: 10 } },
        },
      },
    ],
    [
      'warmup wins over warmupDurationSecs',
      { simple: 'ROUND_ROBIN', warmupDurationSecs: '60s', warmup: { duration: '30s', minimumPercent: 25, aggression: 2 } },
      {
        round_robin_lb_config: {
          slow_start_config: { slow_start_window: { seconds: 30 }, aggression: { default_value: 2, runtime_key: '(' }, min_weight_percent: { value: 25 } },
        },
      },
    ],
    ['consistentHash, no algorithm: RING_HASH, Envoy 1024 entries', { consistentHash: { httpHeaderName: 'x-user' } }, { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 1024 } } }],
    ['consistentHash minimumRingSize (deprecated)', { consistentHash: { useSourceIp: true, minimumRingSize: 2048 } }, { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 2048 } } }],
    ['ringHash with a size', { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 4096 } } }, { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 4096 } } }],
    ['ringHash without a size: no lb_config', { consistentHash: { useSourceIp: true, ringHash: {} } }, { lb_policy: 'RING_HASH' }],
    ['maglev with a table size', { consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } }, { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 65537 } } }],
    ['consistentHash overrides simple and drops its slow start', { simple: 'ROUND_ROBIN', warmupDurationSecs: '60s', consistentHash: { maglev: { tableSize: 7 } } }, { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 7 } } }],
  ])('%s', (_label, loadBalancer, want) => {
    const seen = asEnvoySees(clusterFor(loadBalancer ? { loadBalancer } : undefined));
    const got: Record<string, unknown> = {};
    for (const k of ['lb_policy', 'round_robin_lb_config', 'least_request_lb_config', 'ring_hash_lb_config', 'maglev_lb_config']) if (seen[k] !== undefined) got[k] = seen[k];
    expect(got).toEqual(want);
    expect(seen['type']).toBe('EDS');
  });
});

describe('PASSTHROUGH: an ORIGINAL_DST cluster balanced by the cluster itself', () => {
  function subsetCluster(spec: Record<string, unknown>): Cluster {
    const { registry } = mesh([
      svc('api', { app: 'api' }, [{ name: 'grpc', port: 8080 }]),
      we('api-a', { address: '10.0.0.1', labels: { app: 'api', v: '1' } }),
      dr('api', { host: 'api', ...spec }),
    ]);
    return buildCluster(registry.cluster('outbound|8080|v1|api.pay.svc.cluster.local')!);
  }
  it('top-level simple: PASSTHROUGH: ORIGINAL_DST, CLUSTER_PROVIDED, no EDS config, pool and panic threshold kept', () => {
    const seen = asEnvoySees(clusterFor({ loadBalancer: { simple: 'PASSTHROUGH' } }));
    expect(seen['type']).toBe('ORIGINAL_DST');
    expect(seen['lb_policy']).toBe('CLUSTER_PROVIDED');
    expect(seen['eds_cluster_config']).toBeUndefined();
    expect(seen['circuit_breakers']).toEqual({ thresholds: [DEFAULT_THRESHOLDS] });
    expect(seen['common_lb_config']).toEqual({ healthy_panic_threshold: ZERO });
  });
  it("a subset's own PASSTHROUGH wins over its port-level policy, and stops before consistent hashing", () => {
    const c = subsetCluster({
      subsets: [
        {
          name: 'v1',
          labels: { v: '1' },
          trafficPolicy: {
            loadBalancer: { simple: 'PASSTHROUGH', consistentHash: { useSourceIp: true } },
            portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'ROUND_ROBIN' } }],
          },
        },
      ],
    });
    const seen = asEnvoySees(c);
    expect(seen['type']).toBe('ORIGINAL_DST');
    expect(seen['lb_policy']).toBe('CLUSTER_PROVIDED');
    expect(seen['ring_hash_lb_config']).toBeUndefined();
  });
  it('a rule-level PASSTHROUGH with consistentHash keeps the ring config (istiod applies it before the ORIGINAL_DST override)', () => {
    const seen = asEnvoySees(clusterFor({ loadBalancer: { simple: 'PASSTHROUGH', consistentHash: { useSourceIp: true } } }));
    expect(seen['lb_policy']).toBe('CLUSTER_PROVIDED');
    expect(seen['ring_hash_lb_config']).toEqual({ minimum_ring_size: { value: 1024 } });
  });
  it('a subset inherits the rule-level PASSTHROUGH', () => {
    const seen = asEnvoySees(subsetCluster({ trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } }, subsets: [{ name: 'v1', labels: { v: '1' } }] }));
    expect(seen['type']).toBe('ORIGINAL_DST');
    expect(seen['lb_policy']).toBe('CLUSTER_PROVIDED');
  });
});

describe('clusterLbOptions: what the Envoy LB model takes from the Cluster', () => {
  it.each<[string, TrafficPolicy | undefined, boolean, ReturnType<typeof clusterLbOptions>]>([
    ['no rule: panic off, LEAST_REQUEST, no locality weighting, no ejection', undefined, false, { panicThreshold: 0, localityWeighted: false, outlierDetection: false, lbPolicy: 'LEAST_REQUEST' }],
    [
      'outlier detection: minHealthPercent, Envoy default ejection cap',
      { outlierDetection: { minHealthPercent: 30 } },
      false,
      { panicThreshold: 30, localityWeighted: false, outlierDetection: { maxEjectionPercent: 10 }, lbPolicy: 'LEAST_REQUEST' },
    ],
    [
      'outlier detection, unhealthy sent: 0',
      { outlierDetection: { minHealthPercent: 30, maxEjectionPercent: 100 } },
      true,
      { panicThreshold: 0, localityWeighted: false, outlierDetection: { maxEjectionPercent: 100 }, lbPolicy: 'LEAST_REQUEST' },
    ],
    [
      'failover with outlier detection',
      { loadBalancer: { localityLbSetting: { failover: [{ from: 'r1', to: 'r2' }] } }, outlierDetection: { maxEjectionPercent: 50 } },
      false,
      { panicThreshold: 0, localityWeighted: true, outlierDetection: { maxEjectionPercent: 50 }, lbPolicy: 'LEAST_REQUEST' },
    ],
    ['simple: RANDOM', { loadBalancer: { simple: 'RANDOM' } }, false, { panicThreshold: 0, localityWeighted: false, outlierDetection: false, lbPolicy: 'RANDOM' }],
  ])('%s', (_label, policy, sendUnhealthy, want) => {
    expect(clusterLbOptions(clusterFor(policy, sendUnhealthy))).toEqual(want);
  });
});
