// The connecting proxy as far as endpoint computation cares (SPEC §9: cluster, locality, network, labels).
import { DEFAULT_CLUSTER_ID, augmentTopologyLabels, type Labels } from '../model/labels.js';
import { NO_LOCALITY, localityString, type Locality } from '../model/locality.js';

export interface ProxyInfo {
  readonly locality: Locality;
  readonly network: string;
  /** The labels the proxy declares (node metadata LABELS). */
  readonly labels: Labels;
  readonly clusterId?: string;
  /** ISTIO_META_REQUESTED_NETWORK_VIEW: the networks whose endpoints it wants to see (none: all). */
  readonly networkView?: readonly string[];
}

export interface ProxyView extends ProxyInfo {
  /** `labels` plus the topology labels istiod adds; what failoverPriority compares. */
  readonly priorityLabels: Labels;
  readonly localityKey: string;
}

export function proxyView(p: Partial<ProxyInfo> = {}): ProxyView {
  const locality = p.locality ?? NO_LOCALITY;
  const network = p.network ?? '';
  const labels = p.labels ?? {};
  const clusterId = p.clusterId ?? DEFAULT_CLUSTER_ID;
  return {
    locality,
    network,
    labels,
    clusterId,
    ...(p.networkView?.length ? { networkView: p.networkView } : {}),
    priorityLabels: augmentTopologyLabels(labels, { ...locality, network, clusterId }),
    localityKey: localityString(locality),
  };
}
