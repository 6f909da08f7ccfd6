// Which DestinationRule applies to a host, and the traffic policy in effect for one port/subset.
import type {
  ConnectionPoolSettings,
  DestinationRule,
  LoadBalancerSettings,
  LocalityLbSetting,
  OutlierDetection,
  PortTrafficPolicy,
  TrafficPolicy,
} from '../config/resources.js';
import { DOMAIN_SUFFIX } from './service.js';

export const ROOT_NAMESPACE = 'istio-system';

/** What endpoint computation needs from the policy of one cluster. */
export interface ClusterLbPolicy {
  /** The locality LB setting in effect, or null when locality LB is disabled. */
  readonly localityLb: LocalityLbSetting | null;
  /**
   * The outlierDetection in effect for the port/subset; the CDS Cluster carries it. Failover
   * priorities are only set when there is one (SPEC §4).
   */
  readonly outlier?: OutlierDetection;
  /** Whether istiod turns on Envoy's locality-weighted LB for the cluster (CDS common_lb_config). */
  readonly localityWeighted: boolean;
  /** The rule's client TLS mode for the port/subset (`ISTIO_MUTUAL`, `DISABLE`...); decides endpoints' tlsMode metadata. */
  readonly tlsMode?: string;
  /** The merged loadBalancer for the port/subset: the CDS Cluster's lb_policy and lb_config. */
  readonly loadBalancer?: LoadBalancerSettings;
  /** The merged connectionPool for the port/subset: the CDS Cluster's circuit breakers and connect timeout. */
  readonly connectionPool?: ConnectionPoolSettings;
  /**
   * `simple: PASSTHROUGH`, which makes istiod send an ORIGINAL_DST cluster: `subset` when the
   * subset's own top-level `simple` says so (istiod builds the subset cluster as ORIGINAL_DST
   * whatever its port-level settings say), else `loadBalancer` when the merged policy's does.
   */
  readonly passthrough?: 'subset' | 'loadBalancer';
}

/** DestinationRule host as a FQDN: short names are relative to the rule's namespace. */
export function ruleHost(dr: DestinationRule): string {
  const h = dr.spec.host;
  return h.includes('.') || h === '*' ? h : `${h}.${dr.metadata.namespace}.svc.${DOMAIN_SUFFIX}`;
}

export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (pattern === '*') return true;
  return pattern.startsWith('*.') && host.endsWith(pattern.slice(1));
}

/**
 * The rule for `host` of a service in `serviceNamespace`: exact host beats the longest wildcard;
 * on a tie the service's own namespace, then the root namespace, then the rest in key order.
 */
export function selectDestinationRule(
  rules: readonly DestinationRule[],
  host: string,
  serviceNamespace: string,
): DestinationRule | undefined {
  let best: DestinationRule | undefined;
  let bestScore = -1;
  for (const dr of rules) {
    const pattern = ruleHost(dr);
    if (!hostMatches(pattern, host)) continue;
    const specificity = pattern === host ? 1_000_000 : pattern.length * 10;
    const ns = dr.metadata.namespace;
    const nsScore = ns === serviceNamespace ? 2 : ns === ROOT_NAMESPACE ? 1 : 0;
    const score = specificity + nsScore;
    if (score > bestScore) {
      best = dr;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Istio's MergeTrafficPolicy: port-level settings replace (not inherit) the four policies;
 * a subset policy overrides the top-level ones it sets, then its own port-level settings apply.
 */
export function mergeTrafficPolicy(
  original: PortTrafficPolicy | undefined,
  override: TrafficPolicy | undefined,
  port: number,
): PortTrafficPolicy | undefined {
  if (!override) return original;
  const merged: PortTrafficPolicy = { ...(original ?? {}) };
  if (override.connectionPool) merged.connectionPool = override.connectionPool;
  if (override.outlierDetection) merged.outlierDetection = override.outlierDetection;
  if (override.loadBalancer) merged.loadBalancer = override.loadBalancer;
  if (override.tls) merged.tls = override.tls;
  const pl = override.portLevelSettings?.find((p) => p.port?.number === port);
  if (pl) {
    merged.connectionPool = pl.connectionPool;
    merged.outlierDetection = pl.outlierDetection;
    merged.loadBalancer = pl.loadBalancer;
    merged.tls = pl.tls;
  }
  return merged;
}

export const MESH_DEFAULT_LOCALITY_LB: LocalityLbSetting = Object.freeze({ enabled: true });

export function clusterLbPolicy(
  dr: DestinationRule | undefined,
  port: number,
  subset: string,
  meshDefault: LocalityLbSetting = MESH_DEFAULT_LOCALITY_LB,
): ClusterLbPolicy {
  let policy = mergeTrafficPolicy(undefined, dr?.spec.trafficPolicy, port);
  let subsetPassthrough = false;
  if (subset) {
    const s = dr?.spec.subsets?.find((x) => x.name === subset);
    policy = mergeTrafficPolicy(policy, s?.trafficPolicy, port);
    subsetPassthrough = s?.trafficPolicy?.loadBalancer?.simple === 'PASSTHROUGH';
  }
  const loadBalancer = policy?.loadBalancer;
  const connectionPool = policy?.connectionPool;
  const fromRule = policy?.loadBalancer?.localityLbSetting;
  const setting = fromRule ?? meshDefault;
  // Istio's GetLocalityLbSetting: a rule's setting is on unless it says enabled: false.
  const enabled = fromRule ? fromRule.enabled !== false : meshDefault.enabled !== false;
  const localityLb = enabled ? setting : null;
  const outlier = policy?.outlierDetection;
  const tlsMode = ruleTlsMode(dr, port, subset);
  return {
    localityLb,
    ...(outlier && { outlier }),
    ...(tlsMode !== undefined && { tlsMode }),
    ...(loadBalancer && { loadBalancer }),
    ...(connectionPool && { connectionPool }),
    ...(subsetPassthrough ? { passthrough: 'subset' as const } : loadBalancer?.simple === 'PASSTHROUGH' && { passthrough: 'loadBalancer' as const }),
    localityWeighted:
      !!localityLb &&
      (!!localityLb.distribute?.length || (!!outlier && (!!localityLb.failover?.length || !!localityLb.failoverPriority?.length))),
  };
}

type TlsPolicy = Pick<TrafficPolicy, 'tls' | 'portLevelSettings'> | undefined;

function policyTlsMode(tp: TlsPolicy, port: number): string | undefined {
  let mode = tp?.tls ? String(tp.tls['mode'] ?? 'DISABLE') : undefined;
  const pl = tp?.portLevelSettings?.find((p) => p.port?.number === port && p.tls);
  if (pl) mode = String(pl.tls!['mode'] ?? 'DISABLE');
  return mode;
}

/**
 * istiod's tlsModeForDestinationRule (EDS mTLS checker), which reads TLS apart from the merged
 * policy: a subset's own mode, else the top-level one; an unknown subset has none. A `tls` block
 * without a mode is DISABLE, the enum's zero value.
 */
export function ruleTlsMode(dr: DestinationRule | undefined, port: number, subset: string): string | undefined {
  if (!dr) return undefined;
  if (!subset) return policyTlsMode(dr.spec.trafficPolicy, port);
  const s = dr.spec.subsets?.find((x) => x.name === subset);
  if (!s) return undefined;
  return policyTlsMode(s.trafficPolicy, port) ?? policyTlsMode(dr.spec.trafficPolicy, port);
}
