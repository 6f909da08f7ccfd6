// Who a simulated istio-agent claims to be: the xDS Node that istio-agent 1.31 on a VM sends
// when the VM was set up with `istioctl x workload entry configure` (its cluster.env and
// mesh.yaml), with the node metadata names istiod reads (pkg/model NodeMetadata JSON names).
// istio builds the metadata in pkg/bootstrap GetNodeMetaData: the ISTIO_META_* settings of
// cluster.env/proxyMetadata, POD_NAME/POD_NAMESPACE/SERVICE_ACCOUNT, ISTIO_METAJSON_LABELS, the
// instance IPs, the agent's own ports and PILOT_SAN, and the whole ProxyConfig as PROXY_CONFIG.
//
// Most of it is the same for every VM of a group: `sharedNode` builds and encodes that part once
// (a fleet of 10,000 agents shares one), and each agent encodes only its name, IPs and locality.
import type { ReadinessProbe } from '../config/resources.js';
import { encode, toStruct } from '../proto/index.js';
import type { Node } from '../proto/messages.js';

export interface AgentLocality {
  region: string;
  zone: string;
  subZone: string;
}

export interface AgentIdentity {
  /** Instance name (a VM's hostname, POD_NAME in istio-start.sh); the node id's "<name>.<ns>" part and the NAME metadata. */
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
  /** SERVICE_ACCOUNT: the group template's service account (istioctl writes it into cluster.env). */
  serviceAccount?: string;
  meshId?: string;
  /** DNS domain for the node id (default `<namespace>.svc.cluster.local`'s cluster.local). */
  domain?: string;
  /**
   * The group's readiness probe as the VM's mesh config carries it (istioctl copies
   * `WorkloadGroup.spec.probe` to `defaultConfig.readinessProbe`): sent in PROXY_CONFIG, and what
   * makes istiod mark the registered entry health-checked. Omitted: no probe, no health reports.
   */
  readinessProbe?: ReadinessProbe;
  /** The group template's ports (POD_PORTS metadata), when known. */
  podPorts?: Readonly<Record<string, number>>;
  /** DNS_CAPTURE (istioctl's --capture-dns, default true). */
  dnsCapture?: boolean;
  /** ProxyConfig.discoveryAddress (default istiod.istio-system.svc:15012); PILOT_SAN is its host. */
  discoveryAddress?: string;
  /** The encoded shared part (sharedNode), built once per fleet; computed per call when absent. */
  shared?: SharedNode;
}

export const DEFAULT_ISTIO_VERSION = '1.31.0';
export const DEFAULT_CLUSTER_ID = 'Kubernetes';
export const DEFAULT_DISCOVERY_ADDRESS = 'istiod.istio-system.svc:15012';
/** istio-agent's ENVOY_STATUS_PORT and ENVOY_PROMETHEUS_PORT defaults. */
export const ENVOY_STATUS_PORT = 15021;
export const ENVOY_PROMETHEUS_PORT = 15090;

/** Istio proxy id: `sidecar~<ip>~<name>.<namespace>~<namespace>.svc.<domain>`. */
export function nodeId(id: Pick<AgentIdentity, 'ip' | 'name' | 'namespace' | 'domain'>): string {
  return `sidecar~${id.ip}~${id.name}.${id.namespace}~${id.namespace}.svc.${id.domain ?? 'cluster.local'}`;
}

/** istio's CanonicalService (pkg/kube/labels): name and revision from labels, else the workload name and "latest". */
export function canonicalService(labels: Readonly<Record<string, string>>, workloadName: string): [string, string] {
  const first = (keys: string[]) => keys.map((k) => labels[k]).find((v) => v !== undefined);
  return [
    first(['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app']) ?? workloadName,
    first(['service.istio.io/canonical-revision', 'app.kubernetes.io/version', 'version']) ?? 'latest',
  ];
}

/**
 * LABELS as istioctl writes them (ISTIO_METAJSON_LABELS): the VM's labels plus the canonical
 * service name and revision. Without a group (no istioctl group config) the labels as given.
 */
export function agentLabels(id: Pick<AgentIdentity, 'labels' | 'group'>): Record<string, string> {
  const labels = { ...(id.labels ?? {}) };
  if (!id.group) return labels;
  const [name, rev] = canonicalService(labels, id.group);
  labels['service.istio.io/canonical-name'] = name;
  labels['service.istio.io/canonical-revision'] = rev;
  return labels;
}

/**
 * PROXY_CONFIG: istio's ProxyConfig as the agent sends it (proto JSON, default values left out):
 * istio's defaults (pkg/config/mesh DefaultProxyConfig), the serviceCluster istio-start.sh sets
 * from cluster.env's ISTIO_SERVICE, and mesh.yaml's proxyMetadata and readinessProbe as istioctl
 * writes them.
 */
export function proxyConfig(id: Omit<AgentIdentity, 'name' | 'ip' | 'extraIps' | 'locality' | 'shared'>): Record<string, unknown> {
  const labels = agentLabels(id);
  const proxyMetadata: Record<string, string> = {
    ISTIO_META_CLUSTER_ID: id.clusterId ?? DEFAULT_CLUSTER_ID,
    ISTIO_META_MESH_ID: id.meshId ?? '',
    ISTIO_META_NETWORK: id.network ?? '',
    ISTIO_METAJSON_LABELS: JSON.stringify(labels),
    POD_NAMESPACE: id.namespace,
    SERVICE_ACCOUNT: id.serviceAccount ?? '',
    TRUST_DOMAIN: 'cluster.local',
  };
  if (id.group) {
    const [cs, cr] = canonicalService(labels, id.group);
    proxyMetadata['CANONICAL_SERVICE'] = cs;
    proxyMetadata['CANONICAL_REVISION'] = cr;
    proxyMetadata['ISTIO_META_WORKLOAD_NAME'] = id.group;
    proxyMetadata['ISTIO_META_AUTO_REGISTER_GROUP'] = id.group;
  }
  if (id.dnsCapture !== false) proxyMetadata['ISTIO_META_DNS_CAPTURE'] = 'true';
  const ports = podPortsJson(id.podPorts);
  if (ports) proxyMetadata['ISTIO_META_POD_PORTS'] = ports;
  return {
    configPath: './etc/istio/proxy',
    binaryPath: '/usr/local/bin/envoy',
    serviceCluster: id.group ? `${id.group}.${id.namespace}` : 'istio-proxy',
    drainDuration: '45s',
    discoveryAddress: id.discoveryAddress ?? DEFAULT_DISCOVERY_ADDRESS,
    proxyAdminPort: 15000,
    controlPlaneAuthPolicy: 'MUTUAL_TLS',
    statNameLength: 189,
    statusPort: 15020,
    terminationDrainDuration: '5s',
    proxyMetadata,
    ...(id.readinessProbe ? { readinessProbe: id.readinessProbe } : {}),
  };
}

/** POD_PORTS: `[{"name":"http","containerPort":8080}]`, as istioctl marshals the template's ports. */
function podPortsJson(ports: Readonly<Record<string, number>> | undefined): string | undefined {
  if (!ports || Object.keys(ports).length === 0) return undefined;
  return JSON.stringify(Object.entries(ports).map(([name, containerPort]) => ({ name, containerPort })));
}

/** The metadata every VM of one group sends alike (everything but NAME and INSTANCE_IPS). */
export function sharedMetadata(id: Omit<AgentIdentity, 'name' | 'ip' | 'extraIps' | 'locality' | 'shared'>): Record<string, unknown> {
  const md: Record<string, unknown> = {
    PROXY_CONFIG: proxyConfig(id),
    ISTIO_VERSION: id.istioVersion ?? DEFAULT_ISTIO_VERSION,
    NAMESPACE: id.namespace,
    CLUSTER_ID: id.clusterId ?? DEFAULT_CLUSTER_ID,
    ENVOY_STATUS_PORT: ENVOY_STATUS_PORT,
    ENVOY_PROMETHEUS_PORT: ENVOY_PROMETHEUS_PORT,
    PILOT_SAN: [pilotSan(id.discoveryAddress ?? DEFAULT_DISCOVERY_ADDRESS)],
    METADATA_DISCOVERY: 'false',
  };
  const labels = agentLabels(id);
  if (Object.keys(labels).length > 0) {
    md['LABELS'] = labels;
    md['STATIC_LABELS'] = labels;
  }
  if (id.group) {
    md['AUTO_REGISTER_GROUP'] = id.group;
    md['WORKLOAD_NAME'] = id.group;
  }
  if (id.workloadEntry) md['WORKLOAD_ENTRY'] = id.workloadEntry;
  if (id.network) md['NETWORK'] = id.network;
  if (id.serviceAccount) md['SERVICE_ACCOUNT'] = id.serviceAccount;
  if (id.meshId) md['MESH_ID'] = id.meshId;
  if (id.dnsCapture !== false) md['DNS_CAPTURE'] = 'true';
  const ports = podPortsJson(id.podPorts);
  if (ports) md['POD_PORTS'] = ports;
  return md;
}

/** istio-agent's GetPilotSan: the discovery address's host (localhost stands for istiod). */
function pilotSan(discoveryAddress: string): string {
  const host = discoveryAddress.split(':')[0]!;
  return host === 'localhost' ? 'istiod.istio-system.svc' : host;
}

/** Node metadata as plain JSON, with only the keys that carry a value (like istio's omitempty). */
export function nodeMetadata(id: AgentIdentity): Record<string, unknown> {
  return { ...(id.shared?.metadata ?? sharedMetadata(id)), ...ownMetadata(id) };
}

function ownMetadata(id: AgentIdentity): Record<string, unknown> {
  return { NAME: id.name, INSTANCE_IPS: [id.ip, ...(id.extraIps ?? [])].join(',') };
}

/** The service cluster Envoy reports as node.cluster (istio-start.sh's ISTIO_SERVICE, else istio's app.namespace rule). */
function serviceCluster(id: Pick<AgentIdentity, 'group' | 'labels' | 'namespace'>): string {
  if (id.group) return `${id.group}.${id.namespace}`;
  const app = id.labels?.['app'] ?? id.labels?.['app.kubernetes.io/name'];
  return app ? `${app}.${id.namespace}` : `istio-proxy.${id.namespace}`;
}

/** The Node message (messages.ts shape) an agent with this identity sends. */
export function buildNode(id: AgentIdentity): Node {
  const node: Node = {
    id: nodeId(id),
    cluster: serviceCluster(id),
    metadata: toStruct(nodeMetadata(id)),
    user_agent_name: 'envoy',
    user_agent_version: 'xdsim-agent',
  };
  if (id.locality && (id.locality.region || id.locality.zone || id.locality.subZone)) {
    node.locality = { region: id.locality.region, zone: id.locality.zone, sub_zone: id.locality.subZone };
  }
  return node;
}

/** The shared part of a group's Nodes, encoded once: see sharedNode. */
export interface SharedNode {
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly cluster: string;
  /** The metadata as an encoded google.protobuf.Struct: a run of `fields` map entries. */
  readonly structBytes: Uint8Array;
}

/** Builds and encodes what every agent with these settings sends alike. */
export function sharedNode(id: Omit<AgentIdentity, 'name' | 'ip' | 'extraIps' | 'locality' | 'shared'>): SharedNode {
  const metadata = sharedMetadata(id);
  return { metadata, cluster: serviceCluster(id), structBytes: encode('Struct', toStruct(metadata)) };
}

/**
 * The Node encoded once per identity, to splice into the first request of every stream, in two
 * parts written back to back: the agent's own bytes (id, cluster, locality, and the metadata
 * field's tag and length followed by its own entries), then the shared Struct entries, which are
 * not copied per agent. A Struct's encoding is just its map entries, so the two runs together are
 * one Struct holding both.
 */
export function encodeNodeParts(id: AgentIdentity): [Uint8Array, Uint8Array] {
  const shared = id.shared ?? sharedNode(id);
  const head: Node = { id: nodeId(id), cluster: shared.cluster, user_agent_name: 'envoy', user_agent_version: 'xdsim-agent' };
  if (id.locality && (id.locality.region || id.locality.zone || id.locality.subZone)) {
    head.locality = { region: id.locality.region, zone: id.locality.zone, sub_zone: id.locality.subZone };
  }
  const headBytes = encode('Node', head);
  const own = encode('Struct', toStruct(ownMetadata(id)));
  const lenBytes = varint(own.length + shared.structBytes.length);
  const first = new Uint8Array(headBytes.length + 1 + lenBytes.length + own.length);
  first.set(headBytes, 0);
  let o = headBytes.length;
  first[o++] = (3 << 3) | 2; // Node.metadata, length-delimited
  first.set(lenBytes, o);
  first.set(own, o + lenBytes.length);
  return [first, shared.structBytes];
}

/** The whole Node, encoded (encodeNodeParts joined). */
export function encodeNode(id: AgentIdentity): Uint8Array {
  const [a, b] = encodeNodeParts(id);
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function varint(n: number): Uint8Array {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Uint8Array.from(bytes);
}
