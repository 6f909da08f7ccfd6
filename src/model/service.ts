// Services and ServiceEntries as hosts with ports and a way to pick endpoints (SPEC §3).
import type { KubeService, ServiceEntry } from '../config/resources.js';
import { keyOf } from '../config/resources.js';
import type { Labels } from './labels.js';
import { kubePortProtocol, parseProtocol, type Protocol } from './protocol.js';
import { workloadFromInlineEndpoint, type Workload } from './workload.js';

export const DOMAIN_SUFFIX = 'cluster.local';

export interface ServicePort {
  name: string;
  /** The service port: the one in the cluster name. */
  number: number;
  targetPort?: number | string;
  /** The application protocol istiod reads off the port (name prefix, appProtocol, protocol). */
  protocol: Protocol;
}

export interface ServiceModel {
  /** Resource key of the Service / ServiceEntry this came from. */
  readonly key: string;
  readonly source: 'Service' | 'ServiceEntry';
  readonly namespace: string;
  readonly hosts: readonly string[];
  readonly ports: readonly ServicePort[];
  /** Labels picking WorkloadEntries in `namespace`; undefined: this service selects none. */
  readonly selector?: Labels;
  /** ServiceEntry inline endpoints. */
  readonly inline: readonly Workload[];
  /** istiod's DefaultAddress: the clusterIP, or a ServiceEntry's first address; 0.0.0.0 without one. */
  readonly address?: string;
}

/** istiod's constants.UnspecifiedIP, the address of a service that has none. */
export const UNSPECIFIED_IP = '0.0.0.0';

export function serviceFromKube(svc: KubeService): ServiceModel | undefined {
  // Headless services and services without a selector have no endpoints istiod computes from WorkloadEntries.
  if (svc.spec.clusterIP === 'None' || !svc.spec.selector || Object.keys(svc.spec.selector).length === 0) return undefined;
  const ns = svc.metadata.namespace;
  return {
    key: keyOf(svc),
    source: 'Service',
    namespace: ns,
    hosts: [`${svc.metadata.name}.${ns}.svc.${DOMAIN_SUFFIX}`],
    ports: (svc.spec.ports ?? []).map((p) => ({ name: p.name ?? '', number: p.port, targetPort: p.targetPort, protocol: kubePortProtocol(p) })),
    selector: svc.spec.selector,
    inline: [],
    address: svc.spec.clusterIP || UNSPECIFIED_IP,
  };
}

export function serviceFromEntry(se: ServiceEntry): ServiceModel | undefined {
  const resolution = se.spec.resolution ?? 'NONE';
  // DNS-resolved entries become STRICT_DNS clusters with inline endpoints, not EDS.
  if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') return undefined;
  const ns = se.metadata.namespace;
  const selector = se.spec.workloadSelector?.labels;
  return {
    key: keyOf(se),
    source: 'ServiceEntry',
    namespace: ns,
    hosts: se.spec.hosts,
    ports: (se.spec.ports ?? []).map((p) => ({ name: p.name, number: p.number, targetPort: p.targetPort, protocol: parseProtocol(p.protocol) })),
    selector: selector && Object.keys(selector).length > 0 ? selector : undefined,
    inline: (se.spec.endpoints ?? []).map((e, i) => workloadFromInlineEndpoint(ns, se.metadata.name, i, e)),
    address: se.spec.addresses?.[0] ?? UNSPECIFIED_IP,
  };
}

/**
 * The port a workload serves a service port on, or undefined when it does not serve it.
 * Kubernetes Service (istiod's findServiceTargetPort + serviceInstanceFromWorkloadInstance): a
 * string targetPort is a port name, looked up in the entry's ports (missing: not served); a
 * numeric one (or none, which the API server defaults to the port itself) is used unless the
 * entry has a port named like the service port, which wins.
 * ServiceEntry: the entry's port of the same name if > 0, else targetPort, else the port number.
 */
export function endpointPort(svc: ServiceModel, port: ServicePort, w: Workload): number | undefined {
  if (svc.source === 'Service') {
    const t = port.targetPort;
    if (typeof t === 'string' && t !== '') {
      const mapped = w.ports[t];
      return mapped && mapped > 0 ? mapped : undefined;
    }
    const byName = port.name ? w.ports[port.name] : undefined;
    if (byName && byName > 0) return byName;
    return typeof t === 'number' && t > 0 ? t : port.number;
  }
  const mapped = w.ports[port.name];
  if (mapped && mapped > 0) return mapped;
  if (typeof port.targetPort === 'number' && port.targetPort > 0) return port.targetPort;
  return port.number;
}

export function clusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}

export function parseClusterName(name: string): { port: number; subset: string; host: string } | undefined {
  const parts = name.split('|');
  if (parts.length !== 4 || parts[0] !== 'outbound') return undefined;
  const port = Number(parts[1]);
  if (!Number.isInteger(port)) return undefined;
  return { port, subset: parts[2]!, host: parts[3]! };
}
