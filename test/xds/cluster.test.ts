// The CDS Cluster istiod would send for a DestinationRule's traffic policy: outlier detection,
// panic threshold and locality weighting, checked as decoded by the official Envoy protos.
import { describe, expect, it } from 'vitest';
import type { TrafficPolicy } from '../../src/config/resources.js';
import { clusterLbOptions } from '../../src/lb/index.js';
import { encode } from '../../src/proto/index.js';
import type { Cluster } from '../../src/proto/messages.js';
import { buildCluster } from '../../src/xds/resources/cluster.js';
import { dr, mesh, svc, we } from '../helpers/mesh.js';
import { loadOfficialRoot } from '../proto/official.js';

const CLUSTER = 'outbound|8080||api.pay.svc.cluster.local';

function clusterFor(trafficPolicy: TrafficPolicy | undefined, sendUnhealthy = false): Cluster {
  const { registry } = mesh([
    svc('api', { app: 'api' }, [{ name: 'grpc', port: 8080 }]),
    we('api-a', { address: '10.0.0.1', labels: { app: 'api' } }),
    ...(trafficPolicy ? [dr('api', { host: 'api', trafficPolicy })] : []),
  ]);
  return buildCluster(registry.cluster(CLUSTER)!, { sendUnhealthy });
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
    ['no rule: no outlier detection, no common_lb_config', undefined, undefined, undefined],
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
      'distribute alone: locality-weighted, Envoy default panic threshold',
      { loadBalancer: { localityLbSetting: { distribute: [{ from: 'r1/*', to: { 'r1/*': 100 } }] } } },
      undefined,
      { locality_weighted_lb_config: {} },
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

describe('clusterLbOptions: what the Envoy LB model takes from the Cluster', () => {
  it.each<[string, TrafficPolicy | undefined, boolean, ReturnType<typeof clusterLbOptions>]>([
    ['no rule: Envoy defaults, no locality weighting, no ejection', undefined, false, { localityWeighted: false, outlierDetection: false }],
    [
      'outlier detection: minHealthPercent, Envoy default ejection cap',
      { outlierDetection: { minHealthPercent: 30 } },
      false,
      { panicThreshold: 30, localityWeighted: false, outlierDetection: { maxEjectionPercent: 10 } },
    ],
    [
      'outlier detection, unhealthy sent: 0',
      { outlierDetection: { minHealthPercent: 30, maxEjectionPercent: 100 } },
      true,
      { panicThreshold: 0, localityWeighted: false, outlierDetection: { maxEjectionPercent: 100 } },
    ],
    [
      'failover with outlier detection',
      { loadBalancer: { localityLbSetting: { failover: [{ from: 'r1', to: 'r2' }] } }, outlierDetection: { maxEjectionPercent: 50 } },
      false,
      { panicThreshold: 0, localityWeighted: true, outlierDetection: { maxEjectionPercent: 50 } },
    ],
  ])('%s', (_label, policy, sendUnhealthy, want) => {
    expect(clusterLbOptions(clusterFor(policy, sendUnhealthy))).toEqual(want);
  });
});
