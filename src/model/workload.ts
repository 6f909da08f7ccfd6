// A WorkloadEntry (or a ServiceEntry inline endpoint) reduced to what endpoint computation needs (SPEC §2).
import type { WorkloadEntry, WorkloadEntrySpec } from '../config/resources.js';
import {
  ANNOTATION_AUTO_REGISTRATION_GROUP,
  ANNOTATION_HEALTH_CHECKS,
  DEFAULT_CLUSTER_ID,
  LABEL_LEGACY_LOCALITY,
  LABEL_LOCALITY,
  LABEL_TLS_MODE,
  LABEL_WORKLOAD_NAME,
  TLS_MODE_DISABLED,
  TLS_MODE_ISTIO,
  augmentTopologyLabels,
  type Labels,
} from './labels.js';
import { localityString, parseLocality, type Locality } from './locality.js';

/**
 * One workload. A class rather than a literal so that `priorityLabels`, which only
 * `failoverPriority` reads, is built on first use instead of once per entry on every load.
 */
export class Workload {
  private cachedPriorityLabels: Labels | undefined;
  /** `localityString(locality)`, computed once: the EDS layer groups endpoints by it. */
  readonly localityKey: string;

  constructor(
    /** Resource key of the WorkloadEntry, or `ServiceEntry/<ns>/<name>#<index>` for inline endpoints. */
    readonly key: string,
    readonly namespace: string,
    readonly address: string,
    readonly ports: Readonly<Record<string, number>>,
    /** spec.labels merged with metadata.labels (metadata wins); used for selection. */
    readonly labels: Labels,
    readonly locality: Locality,
    /** Always >= 1 (0 or unset means 1). */
    readonly weight: number,
    readonly network: string,
    readonly serviceAccount: string,
    /** Health-checked and not reporting Healthy=True: left out of EDS (or sent UNHEALTHY). */
    readonly unhealthy: boolean,
    readonly clusterId: string,
    /** Telemetry workload name: auto-registration group, workload-name label, or the entry's name. */
    readonly workloadName = '',
    /** The entry's TLS mode label, else `istio` with a service account, else `disabled`. */
    readonly tlsMode = TLS_MODE_DISABLED,
  ) {
    this.localityKey = localityString(locality);
  }

  /** `labels` plus topology labels; what `failoverPriority` compares. */
  get priorityLabels(): Labels {
    if (this.cachedPriorityLabels === undefined) {
      const l = this.locality;
      this.cachedPriorityLabels = augmentTopologyLabels(this.labels, {
        region: l.region,
        zone: l.zone,
        subZone: l.subZone,
        network: this.network,
        clusterId: this.clusterId,
      });
    }
    return this.cachedPriorityLabels;
  }
}

const NO_LABELS: Labels = Object.freeze({});
const NO_PORTS: Readonly<Record<string, number>> = Object.freeze({});

/** `key` may be passed when the caller already built it. */
export function workloadFromEntry(we: WorkloadEntry, clusterId = DEFAULT_CLUSTER_ID, key?: string): Workload {
  const specLabels = we.spec.labels;
  const metaLabels = we.metadata.labels;
  // Stored resources are never mutated, so a lone label set can be shared rather than copied.
  const labels = !metaLabels || isEmpty(metaLabels) ? (specLabels ?? NO_LABELS) : !specLabels || isEmpty(specLabels) ? metaLabels : { ...specLabels, ...metaLabels };
  const healthChecked = we.metadata.annotations?.[ANNOTATION_HEALTH_CHECKS] === 'true';
  const unhealthy = healthChecked && !(we.status?.conditions?.some((c) => c.type === 'Healthy' && c.status === 'True') ?? false);
  // istiod's WorkloadNameFromWorkloadEntry: the annotation, then the entry's own (metadata) label.
  const workloadName =
    we.metadata.annotations?.[ANNOTATION_AUTO_REGISTRATION_GROUP] ?? we.metadata.labels?.[LABEL_WORKLOAD_NAME] ?? we.metadata.name;
  return build(key ?? `WorkloadEntry/${we.metadata.namespace}/${we.metadata.name}`, we.metadata.namespace, we.spec, labels, unhealthy, clusterId, workloadName);
}

export function workloadFromInlineEndpoint(
  seNamespace: string,
  seName: string,
  index: number,
  spec: WorkloadEntrySpec,
  clusterId = DEFAULT_CLUSTER_ID,
): Workload {
  // istiod names an inline endpoint `<ServiceEntry name>-<index>` (convertServiceEntryToInstances).
  return build(`ServiceEntry/${seNamespace}/${seName}#${index}`, seNamespace, spec, spec.labels ?? NO_LABELS, false, clusterId, `${seName}-${index}`);
}

/** istiod's getTLSModeFromWorkloadEntry: the label as given, else `istio` when a service account is set. */
function tlsModeOf(spec: WorkloadEntrySpec, labels: Labels): string {
  const label = labels[LABEL_TLS_MODE];
  if (label !== undefined) return label;
  return spec.serviceAccount ? TLS_MODE_ISTIO : TLS_MODE_DISABLED;
}

function build(
  key: string,
  namespace: string,
  spec: WorkloadEntrySpec,
  labels: Labels,
  unhealthy: boolean,
  clusterId: string,
  workloadName: string,
): Workload {
  const locality = parseLocality(spec.locality || labels[LABEL_LOCALITY] || labels[LABEL_LEGACY_LOCALITY]);
  return new Workload(
    key,
    namespace,
    spec.address ?? '',
    spec.ports ?? NO_PORTS,
    labels,
    locality,
    spec.weight && spec.weight > 0 ? spec.weight : 1,
    spec.network ?? '',
    spec.serviceAccount ?? 'default',
    unhealthy,
    clusterId,
    workloadName,
    tlsModeOf(spec, labels),
  );
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
