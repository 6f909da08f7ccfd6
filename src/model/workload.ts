// A WorkloadEntry (or a ServiceEntry inline endpoint) reduced to what endpoint computation needs (SPEC §2).
import type { WorkloadEntry, WorkloadEntrySpec } from '../config/resources.js';
import {
  ANNOTATION_HEALTH_CHECKS,
  DEFAULT_CLUSTER_ID,
  LABEL_LEGACY_LOCALITY,
  LABEL_LOCALITY,
  augmentTopologyLabels,
  type Labels,
} from './labels.js';
import { parseLocality, type Locality } from './locality.js';

export interface Workload {
  /** Resource key of the WorkloadEntry, or `ServiceEntry/<ns>/<name>#<index>` for inline endpoints. */
  readonly key: string;
  readonly namespace: string;
  readonly address: string;
  readonly ports: Readonly<Record<string, number>>;
  /** spec.labels merged with metadata.labels (metadata wins); used for selection. */
  readonly labels: Labels;
  /** `labels` plus topology labels; what `failoverPriority` compares. */
  readonly priorityLabels: Labels;
  readonly locality: Locality;
  /** Always >= 1 (0 or unset means 1). */
  readonly weight: number;
  readonly network: string;
  readonly serviceAccount: string;
  /** Health-checked and not reporting Healthy=True: left out of EDS (or sent UNHEALTHY). */
  readonly unhealthy: boolean;
}

export function workloadFromEntry(we: WorkloadEntry, clusterId = DEFAULT_CLUSTER_ID): Workload {
  const labels = { ...(we.spec.labels ?? {}), ...(we.metadata.labels ?? {}) };
  const healthChecked = we.metadata.annotations?.[ANNOTATION_HEALTH_CHECKS] === 'true';
  const healthy = we.status?.conditions?.some((c) => c.type === 'Healthy' && c.status === 'True') ?? false;
  return build(
    `WorkloadEntry/${we.metadata.namespace}/${we.metadata.name}`,
    we.metadata.namespace,
    we.spec,
    labels,
    healthChecked && !healthy,
    clusterId,
  );
}

export function workloadFromInlineEndpoint(
  seNamespace: string,
  seName: string,
  index: number,
  spec: WorkloadEntrySpec,
  clusterId = DEFAULT_CLUSTER_ID,
): Workload {
  return build(`ServiceEntry/${seNamespace}/${seName}#${index}`, seNamespace, spec, { ...(spec.labels ?? {}) }, false, clusterId);
}

function build(
  key: string,
  namespace: string,
  spec: WorkloadEntrySpec,
  labels: Record<string, string>,
  unhealthy: boolean,
  clusterId: string,
): Workload {
  const locality = parseLocality(spec.locality || labels[LABEL_LOCALITY] || labels[LABEL_LEGACY_LOCALITY]);
  const network = spec.network ?? '';
  return {
    key,
    namespace,
    address: spec.address ?? '',
    ports: spec.ports ?? {},
    labels,
    priorityLabels: augmentTopologyLabels(labels, { region: locality.region, zone: locality.zone, subZone: locality.subZone, network, clusterId }),
    locality,
    weight: spec.weight && spec.weight > 0 ? spec.weight : 1,
    network,
    serviceAccount: spec.serviceAccount ?? 'default',
    unhealthy,
  };
}
