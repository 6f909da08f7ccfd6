// Label conventions shared by workloads and proxies.

export type Labels = Readonly<Record<string, string>>;

export const LABEL_LOCALITY = 'topology.istio.io/locality';
export const LABEL_LEGACY_LOCALITY = 'istio-locality';
export const LABEL_NETWORK = 'topology.istio.io/network';
export const LABEL_REGION = 'topology.kubernetes.io/region';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_SUBZONE = 'topology.istio.io/subzone';
export const LABEL_CLUSTER = 'topology.istio.io/cluster';

export const ANNOTATION_HEALTH_CHECKS = 'proxy.istio.io/health-checks-enabled';

/** Endpoint metadata inputs (istiod's getTLSModeFromWorkloadEntry, WorkloadNameFromWorkloadEntry). */
export const LABEL_TLS_MODE = 'security.istio.io/tlsMode';
export const LABEL_WORKLOAD_NAME = 'service.istio.io/workload-name';
export const ANNOTATION_AUTO_REGISTRATION_GROUP = 'istio.io/autoRegistrationGroup';
export const TLS_MODE_ISTIO = 'istio';
export const TLS_MODE_DISABLED = 'disabled';

/** istiod's default cluster ID when none is configured. */
export const DEFAULT_CLUSTER_ID = 'Kubernetes';

/** Whether `labels` contains every key/value of `selector` (an empty selector selects all). */
export function selectorMatches(selector: Labels, labels: Labels): boolean {
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

/**
 * The topology labels istiod adds to both endpoints and proxies (`AugmentLabels`), so that
 * `failoverPriority` can name them. Existing labels are not overwritten.
 */
export function augmentTopologyLabels(
  labels: Labels,
  t: { region: string; zone: string; subZone: string; network: string; clusterId: string },
): Labels {
  const out: Record<string, string> = {};
  if (t.region) out[LABEL_REGION] = t.region;
  if (t.zone) out[LABEL_ZONE] = t.zone;
  if (t.subZone) out[LABEL_SUBZONE] = t.subZone;
  if (t.network) out[LABEL_NETWORK] = t.network;
  if (t.clusterId) out[LABEL_CLUSTER] = t.clusterId;
  for (const k in labels) out[k] = labels[k]!;
  return out;
}
