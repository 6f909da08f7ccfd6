// Who a simulated istio-agent claims to be: the xDS Node a VM's istio-agent sends, with the
// node metadata names istiod reads (pilot/pkg/model NodeMetadata JSON names).
import { encode, toStruct } from '../proto/index.js';
import type { Node } from '../proto/messages.js';

export interface AgentLocality {
  region: string;
  zone: string;
  subZone: string;
}

export interface AgentIdentity {
  /** Instance name (a VM's hostname); the node id's "<name>.<ns>" part and the NAME metadata. */
  name: string;
  namespace: string;
  /** First of INSTANCE_IPS: the address auto-registration gives the WorkloadEntry. */
  ip: string;
  /** More addresses after `ip` in INSTANCE_IPS. */
  extraIps?: readonly string[];
  /** WorkloadGroup to auto-register into (AUTO_REGISTER_GROUP); omitted = no auto-registration. */
  group?: string;
  /** An existing WorkloadEntry this agent only reports health for (WORKLOAD_ENTRY). */
  workloadEntry?: string;
  network?: string;
  labels?: Readonly<Record<string, string>>;
  locality?: AgentLocality;
  clusterId?: string;
  istioVersion?: string;
  serviceAccount?: string;
  meshId?: string;
  /** DNS domain for the node id (default cluster.local). */
  domain?: string;
}

export const DEFAULT_ISTIO_VERSION = '1.31.0';
export const DEFAULT_CLUSTER_ID = 'Kubernetes';

/** Istio proxy id: `sidecar~<ip>~<name>.<namespace>~<namespace>.svc.<domain>`. */
export function nodeId(id: Pick<AgentIdentity, 'ip' | 'name' | 'namespace' | 'domain'>): string {
  return `sidecar~${id.ip}~${id.name}.${id.namespace}~${id.namespace}.svc.${id.domain ?? 'cluster.local'}`;
}

/** Node metadata as plain JSON, with only the keys that carry a value (like istio's omitempty). */
export function nodeMetadata(id: AgentIdentity): Record<string, unknown> {
  const md: Record<string, unknown> = {
    NAME: id.name,
    NAMESPACE: id.namespace,
    INSTANCE_IPS: [id.ip, ...(id.extraIps ?? [])].join(','),
    ISTIO_VERSION: id.istioVersion ?? DEFAULT_ISTIO_VERSION,
    CLUSTER_ID: id.clusterId ?? DEFAULT_CLUSTER_ID,
    INTERCEPTION_MODE: 'REDIRECT',
  };
  if (id.group) md['AUTO_REGISTER_GROUP'] = id.group;
  if (id.workloadEntry) md['WORKLOAD_ENTRY'] = id.workloadEntry;
  if (id.network) md['NETWORK'] = id.network;
  if (id.labels && Object.keys(id.labels).length > 0) md['LABELS'] = { ...id.labels };
  if (id.serviceAccount) md['SERVICE_ACCOUNT'] = id.serviceAccount;
  if (id.meshId) md['MESH_ID'] = id.meshId;
  return md;
}

/** The Node message (messages.ts shape) an agent with this identity sends. */
export function buildNode(id: AgentIdentity): Node {
  const node: Node = {
    id: nodeId(id),
    // istio-agent sets the cluster to the workload's service cluster name: <name>.<namespace>.
    cluster: `${id.labels?.['app'] ?? id.name}.${id.namespace}`,
    metadata: toStruct(nodeMetadata(id)),
    user_agent_name: 'envoy',
    user_agent_version: 'xdsim-agent',
  };
  if (id.locality && (id.locality.region || id.locality.zone || id.locality.subZone)) {
    node.locality = { region: id.locality.region, zone: id.locality.zone, sub_zone: id.locality.subZone };
  }
  return node;
}

/** The Node encoded once, to splice into the first request of every stream. */
export function encodeNode(id: AgentIdentity): Uint8Array {
  return encode('Node', buildNode(id));
}
