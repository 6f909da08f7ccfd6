// One endpoint of one cluster: a workload reached on the port the cluster's service maps to.
import type { Labels } from './labels.js';
import type { Locality } from './locality.js';
import type { Workload } from './workload.js';

/**
 * Two fields and getters rather than a copy of the workload's fields: a full load creates one of
 * these per (workload, cluster), so its size is the load's memory and GC time.
 */
export class Endpoint {
  constructor(
    readonly workload: Workload,
    readonly port: number,
  ) {}

  /** The workload it comes from; unique within a cluster. */
  get key(): string {
    return this.workload.key;
  }
  get address(): string {
    return this.workload.address;
  }
  get weight(): number {
    return this.workload.weight;
  }
  get locality(): Locality {
    return this.workload.locality;
  }
  /** `localityString(locality)`, the endpoint's locality group. */
  get localityKey(): string {
    return this.workload.localityKey;
  }
  /** Health-checked and not healthy (SPEC §2). */
  get unhealthy(): boolean {
    return this.workload.unhealthy;
  }
  /** Labels `failoverPriority` compares (workload labels plus topology labels). */
  get labels(): Labels {
    return this.workload.priorityLabels;
  }

  /** Whether `other` encodes and behaves exactly like this endpoint. */
  sameAs(other: Endpoint): boolean {
    if (this.workload === other.workload) return this.port === other.port;
    const a = this.workload;
    const b = other.workload;
    if (a.address !== b.address || this.port !== other.port || a.weight !== b.weight || a.unhealthy !== b.unhealthy) return false;
    if (a.localityKey !== b.localityKey || a.network !== b.network) return false;
    // Endpoint metadata: the telemetry name, namespace and cluster, and the TLS mode.
    if (a.workloadName !== b.workloadName || a.namespace !== b.namespace || a.clusterId !== b.clusterId || a.tlsMode !== b.tlsMode) return false;
    // priorityLabels derive from labels, locality and network, so comparing labels suffices.
    return sameLabels(a.labels, b.labels);
  }
}

function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}
