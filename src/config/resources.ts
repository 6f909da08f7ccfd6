// The Kubernetes-style resources xdsim reads (SPEC §1), as plain data after validation.
// Field names follow the Istio / Kubernetes YAML exactly so a manifest maps 1:1.

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set by the config store on every write; a manifest value is ignored. */
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  /** Set by the config store (ConfigStore.uid); a manifest value is ignored. */
  uid?: string;
  /** Written by controllers (auto-registration); a manifest value is ignored. */
  ownerReferences?: OwnerReference[];
}

/** A Kubernetes owner reference (metav1.OwnerReference). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
}

/** `WorkloadEntry.spec`, also the shape of ServiceEntry inline endpoints and WorkloadGroup templates. */
export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export interface WorkloadEntry {
  apiVersion: string;
  kind: 'WorkloadEntry';
  metadata: ObjectMeta;
  spec: WorkloadEntrySpec;
  status?: { conditions?: Condition[] };
}

export interface HttpHeader {
  name: string;
  value: string;
}

export interface ReadinessProbe {
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  httpGet?: { path?: string; port: number; host?: string; scheme?: string; httpHeaders?: HttpHeader[] };
  tcpSocket?: { host?: string; port: number };
  exec?: { command: string[] };
  grpc?: { port: number; service?: string };
}

export interface WorkloadGroup {
  apiVersion: string;
  kind: 'WorkloadGroup';
  metadata: ObjectMeta;
  spec: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    template: WorkloadEntrySpec;
    probe?: ReadinessProbe;
  };
}

export interface ServicePortSpec {
  number: number;
  protocol?: string;
  name: string;
  targetPort?: number;
}

export interface ServiceEntry {
  apiVersion: string;
  kind: 'ServiceEntry';
  metadata: ObjectMeta;
  spec: {
    hosts: string[];
    addresses?: string[];
    ports?: ServicePortSpec[];
    location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
    resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
    endpoints?: WorkloadEntrySpec[];
    workloadSelector?: { labels?: Record<string, string> };
    exportTo?: string[];
    subjectAltNames?: string[];
  };
}

export interface LocalityLbSetting {
  distribute?: { from?: string; to?: Record<string, number> }[];
  failover?: { from?: string; to?: string }[];
  failoverPriority?: string[];
  enabled?: boolean;
}

/** The parts of consistentHash that shape the Cluster; the hash key itself goes to routes. */
export interface ConsistentHashSettings {
  httpHeaderName?: unknown;
  httpCookie?: unknown;
  useSourceIp?: unknown;
  httpQueryParameterName?: unknown;
  ringHash?: { minimumRingSize?: number };
  maglev?: { tableSize?: number };
  /** Deprecated upstream (ringHash.minimumRingSize); still read by istiod. */
  minimumRingSize?: number;
}

/** Slow start; durations in Go syntax. */
export interface WarmupSettings {
  duration?: string;
  minimumPercent?: number;
  aggression?: number;
}

export interface LoadBalancerSettings {
  simple?: string;
  consistentHash?: ConsistentHashSettings;
  localityLbSetting?: LocalityLbSetting;
  /** Deprecated upstream in favour of `warmup`; a duration. */
  warmupDurationSecs?: string;
  warmup?: WarmupSettings;
}

/** DestinationRule connectionPool: the fields istiod writes into the Cluster's circuit breakers and connect timeout are typed. */
export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: string;
    tcpKeepalive?: unknown;
    maxConnectionDuration?: unknown;
    idleTimeout?: unknown;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    maxConcurrentStreams?: number;
    idleTimeout?: unknown;
    h2UpgradePolicy?: unknown;
    useClientProtocol?: unknown;
    http2KeepAlive?: unknown;
  };
}

/** DestinationRule outlierDetection; durations in Go syntax ("30s", "1m30s"). */
export interface OutlierDetection {
  /** Deprecated upstream and ignored by istiod; accepted so old rules load. */
  consecutiveErrors?: number;
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  consecutiveLocalOriginFailures?: number;
  splitExternalLocalOriginErrors?: boolean;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

/** Settings that can appear at the top of a TrafficPolicy and per port. */
export interface PortTrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: Record<string, unknown>;
}

export interface TrafficPolicy extends PortTrafficPolicy {
  portLevelSettings?: (PortTrafficPolicy & { port?: { number?: number } })[];
  tunnel?: Record<string, unknown>;
  proxyProtocol?: Record<string, unknown>;
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRule {
  apiVersion: string;
  kind: 'DestinationRule';
  metadata: ObjectMeta;
  spec: {
    host: string;
    trafficPolicy?: TrafficPolicy;
    subsets?: Subset[];
    exportTo?: string[];
    workloadSelector?: { matchLabels?: Record<string, string> };
  };
}

export interface KubeServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
  nodePort?: number;
}

export interface KubeService {
  apiVersion: string;
  kind: 'Service';
  metadata: ObjectMeta;
  spec: {
    selector?: Record<string, string>;
    ports?: KubeServicePort[];
    clusterIP?: string;
    type?: string;
  };
}

export interface Namespace {
  apiVersion: string;
  kind: 'Namespace';
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
}

export interface ServiceAccount {
  apiVersion: string;
  kind: 'ServiceAccount';
  metadata: ObjectMeta;
}

/** PeerAuthentication `mtls.mode` and port-level modes; UNSET inherits from the level above. */
export type PeerAuthenticationMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthentication {
  apiVersion: string;
  kind: 'PeerAuthentication';
  metadata: ObjectMeta;
  spec: {
    selector?: { matchLabels?: Record<string, string> };
    mtls?: { mode?: PeerAuthenticationMode };
    /** Keyed by the workload's (endpoint's) port, as a decimal string in YAML. */
    portLevelMtls?: Record<string, { mode?: PeerAuthenticationMode }>;
  };
}

export type Resource =
  | WorkloadEntry
  | WorkloadGroup
  | ServiceEntry
  | DestinationRule
  | PeerAuthentication
  | KubeService
  | Namespace
  | ServiceAccount;

export type ResourceKind = Resource['kind'];

export const RESOURCE_KINDS: readonly ResourceKind[] = [
  'WorkloadEntry',
  'WorkloadGroup',
  'ServiceEntry',
  'DestinationRule',
  'PeerAuthentication',
  'Service',
  'Namespace',
  'ServiceAccount',
];

/** Identity of a stored resource: `Kind/namespace/name` (cluster-scoped kinds use an empty namespace). */
export type ResourceKey = string;

export function resourceKey(kind: string, namespace: string, name: string): ResourceKey {
  // join builds one flat string; a template literal builds a chain of four cons strings, which
  // every map keyed by it keeps alive (13 MB and 400k heap objects at 100k entries).
  return [kind, namespace, name].join('/');
}

export function keyOf(r: { kind: string; metadata: { namespace: string; name: string } }): ResourceKey {
  return resourceKey(r.kind, r.metadata.namespace, r.metadata.name);
}
