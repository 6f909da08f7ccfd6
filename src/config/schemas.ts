// TypeBox schemas of every document kind xdsim reads (SPEC §1). They drive Ajv validation and
// double as the source of human error messages: `expected` annotations and the numeric ranges
// below are what a user sees in "expected ..., got ..." diagnostics.
//
// Objects we model are closed (`additionalProperties: false`) so typos surface as
// "unknown field" warnings; parts xdsim never interprets (tls, ...) are open.

import { Type, type Static, type TOptional, type TSchema, type TUnknown } from '@sinclair/typebox';
import type {
  Condition,
  DestinationRule,
  KubeService,
  Namespace,
  ObjectMeta,
  PeerAuthentication,
  ResourceKind,
  ServiceAccount,
  ServiceEntry,
  WorkloadEntry,
  WorkloadEntrySpec,
  WorkloadGroup,
} from './resources.js';

export const ISTIO_GROUP = 'networking.istio.io';
export const ISTIO_API_VERSIONS = [`${ISTIO_GROUP}/v1`, `${ISTIO_GROUP}/v1beta1`, `${ISTIO_GROUP}/v1alpha3`] as const;
export const CORE_API_VERSIONS = ['v1'] as const;
export const SECURITY_GROUP = 'security.istio.io';
export const SECURITY_API_VERSIONS = [`${SECURITY_GROUP}/v1`, `${SECURITY_GROUP}/v1beta1`] as const;

/** API group each kind belongs to ("" = Kubernetes core). */
export const KIND_GROUP: Readonly<Record<ResourceKind, string>> = {
  WorkloadEntry: ISTIO_GROUP,
  WorkloadGroup: ISTIO_GROUP,
  ServiceEntry: ISTIO_GROUP,
  DestinationRule: ISTIO_GROUP,
  PeerAuthentication: SECURITY_GROUP,
  Service: '',
  Namespace: '',
  ServiceAccount: '',
};

/** Kinds without a namespace. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(['Namespace']);

// ---- building blocks -------------------------------------------------------------------------

/** String enum as a single `enum` keyword, so Ajv reports one error rather than one per literal. */
function StringEnum<const T extends readonly string[]>(values: T) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
}

const Int = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum });
const Port = Int(1, 65535);
const Uint32 = Int(0, 4294967295);
const Int32NonNeg = Int(0, 2147483647);
const NonEmptyString = Type.String({ minLength: 1 });
const StringMap = Type.Record(Type.String(), Type.String());
/** Anything at all: a part of the API that xdsim accepts but never reads. */
const Opaque = Type.Unknown();
const OpaqueObject = Type.Record(Type.String(), Type.Unknown());
const closed = { additionalProperties: false } as const;

/** Optional fields of any content, one per name (typed, unlike a plain Object.fromEntries). */
function optionalOpaque<const K extends readonly string[]>(keys: K): { [P in K[number]]: TOptional<TUnknown> } {
  return Object.fromEntries(keys.map((k) => [k, Type.Optional(Type.Unknown())])) as {
    [P in K[number]]: TOptional<TUnknown>;
  };
}

/** Metadata fields the API server owns. Accepted silently, then dropped: the store stamps its own. */
export const SERVER_MANAGED_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'selfLink',
  'managedFields',
  'ownerReferences',
  'finalizers',
  'generateName',
] as const;

export const ObjectMetaSchema = Type.Object(
  {
    name: NonEmptyString,
    namespace: Type.Optional(Type.String()),
    labels: Type.Optional(StringMap),
    annotations: Type.Optional(StringMap),
    ...optionalOpaque(SERVER_MANAGED_METADATA),
  },
  closed,
);

// ---- WorkloadEntry / WorkloadGroup -----------------------------------------------------------

export const WorkloadEntrySpecSchema = Type.Object(
  {
    address: Type.Optional(Type.String()),
    ports: Type.Optional(Type.Record(Type.String(), Port)),
    labels: Type.Optional(StringMap),
    network: Type.Optional(Type.String()),
    locality: Type.Optional(Type.String()),
    weight: Type.Optional(Uint32),
    serviceAccount: Type.Optional(Type.String()),
  },
  closed,
);

const ConditionSchema = Type.Object(
  {
    type: NonEmptyString,
    status: StringEnum(['True', 'False', 'Unknown'] as const),
    reason: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
    lastProbeTime: Type.Optional(Type.String()),
    lastTransitionTime: Type.Optional(Type.String()),
    observedGeneration: Type.Optional(Opaque),
  },
  closed,
);

/** Istio's status block; only `conditions` matters to xdsim (health seeding, SPEC §2). */
const IstioStatusSchema = Type.Object(
  {
    conditions: Type.Optional(Type.Array(ConditionSchema)),
    observedGeneration: Type.Optional(Opaque),
    validationMessages: Type.Optional(Opaque),
  },
  closed,
);

const HttpHeaderSchema = Type.Object({ name: NonEmptyString, value: Type.String() }, closed);

export const ReadinessProbeSchema = Type.Object(
  {
    initialDelaySeconds: Type.Optional(Int32NonNeg),
    timeoutSeconds: Type.Optional(Int32NonNeg),
    periodSeconds: Type.Optional(Int32NonNeg),
    successThreshold: Type.Optional(Int32NonNeg),
    failureThreshold: Type.Optional(Int32NonNeg),
    httpGet: Type.Optional(
      Type.Object(
        {
          path: Type.Optional(Type.String()),
          port: Port,
          host: Type.Optional(Type.String()),
          scheme: Type.Optional(Type.String()),
          httpHeaders: Type.Optional(Type.Array(HttpHeaderSchema)),
        },
        closed,
      ),
    ),
    tcpSocket: Type.Optional(Type.Object({ host: Type.Optional(Type.String()), port: Port }, closed)),
    exec: Type.Optional(Type.Object({ command: Type.Array(Type.String(), { minItems: 1 }) }, closed)),
    grpc: Type.Optional(Type.Object({ port: Port, service: Type.Optional(Type.String()) }, closed)),
  },
  closed,
);

// ---- ServiceEntry ----------------------------------------------------------------------------

export const SERVICE_ENTRY_RESOLUTIONS = ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'] as const;
export const SERVICE_ENTRY_LOCATIONS = ['MESH_EXTERNAL', 'MESH_INTERNAL'] as const;

const ServicePortSchema = Type.Object(
  {
    number: Port,
    protocol: Type.Optional(Type.String()),
    name: NonEmptyString,
    targetPort: Type.Optional(Port),
  },
  closed,
);

export const ServiceEntrySpecSchema = Type.Object(
  {
    hosts: Type.Array(NonEmptyString, { minItems: 1 }),
    addresses: Type.Optional(Type.Array(Type.String())),
    ports: Type.Optional(Type.Array(ServicePortSchema)),
    location: Type.Optional(StringEnum(SERVICE_ENTRY_LOCATIONS)),
    resolution: Type.Optional(StringEnum(SERVICE_ENTRY_RESOLUTIONS)),
    endpoints: Type.Optional(Type.Array(WorkloadEntrySpecSchema)),
    workloadSelector: Type.Optional(Type.Object({ labels: Type.Optional(StringMap) }, closed)),
    exportTo: Type.Optional(Type.Array(Type.String())),
    subjectAltNames: Type.Optional(Type.Array(Type.String())),
  },
  closed,
);

// ---- DestinationRule -------------------------------------------------------------------------

export const SIMPLE_LB_POLICIES = [
  'UNSPECIFIED',
  'LEAST_CONN',
  'RANDOM',
  'PASSTHROUGH',
  'ROUND_ROBIN',
  'LEAST_REQUEST',
] as const;

export const LocalityLbSettingSchema = Type.Object(
  {
    distribute: Type.Optional(
      Type.Array(
        Type.Object(
          { from: Type.Optional(Type.String()), to: Type.Optional(Type.Record(Type.String(), Uint32)) },
          closed,
        ),
      ),
    ),
    failover: Type.Optional(
      Type.Array(Type.Object({ from: Type.Optional(Type.String()), to: Type.Optional(Type.String()) }, closed)),
    ),
    failoverPriority: Type.Optional(Type.Array(Type.String())),
    enabled: Type.Optional(Type.Boolean()),
  },
  closed,
);

/** uint64 sizes: JSON numbers here (JavaScript keeps integers exact up to 2^53). */
const Uint64 = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/** The hash key (header, cookie, source IP, query parameter) shapes routes, not the Cluster: open. */
const ConsistentHashSchema = Type.Object(
  {
    ...optionalOpaque(['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const),
    ringHash: Type.Optional(Type.Object({ minimumRingSize: Type.Optional(Uint64) }, closed)),
    maglev: Type.Optional(Type.Object({ tableSize: Type.Optional(Uint64) }, closed)),
    minimumRingSize: Type.Optional(Uint64),
  },
  closed,
);

/** Durations are checked by semantic checks; percent and aggression ranges by istiod's rules there too. */
const WarmupSchema = Type.Object(
  {
    duration: Type.Optional(Type.String()),
    minimumPercent: Type.Optional(Type.Number({ minimum: 0 })),
    aggression: Type.Optional(Type.Number()),
  },
  closed,
);

const LoadBalancerSchema = Type.Object(
  {
    simple: Type.Optional(StringEnum(SIMPLE_LB_POLICIES)),
    consistentHash: Type.Optional(ConsistentHashSchema),
    localityLbSetting: Type.Optional(LocalityLbSettingSchema),
    warmupDurationSecs: Type.Optional(Type.String()),
    warmup: Type.Optional(WarmupSchema),
  },
  closed,
);

/**
 * connectionPool: the counts and the connect timeout istiod writes into the Cluster are typed
 * (istiod refuses negative ones); the rest (keepalives, idle timeouts, HTTP/2 upgrade) is accepted
 * as is and not modelled.
 */
const ConnectionPoolSchema = Type.Object(
  {
    tcp: Type.Optional(
      Type.Object(
        {
          maxConnections: Type.Optional(Int32NonNeg),
          connectTimeout: Type.Optional(Type.String()),
          ...optionalOpaque(['tcpKeepalive', 'maxConnectionDuration', 'idleTimeout'] as const),
        },
        closed,
      ),
    ),
    http: Type.Optional(
      Type.Object(
        {
          http1MaxPendingRequests: Type.Optional(Int32NonNeg),
          http2MaxRequests: Type.Optional(Int32NonNeg),
          maxRequestsPerConnection: Type.Optional(Int32NonNeg),
          maxRetries: Type.Optional(Int32NonNeg),
          maxConcurrentStreams: Type.Optional(Int32NonNeg),
          ...optionalOpaque(['idleTimeout', 'h2UpgradePolicy', 'useClientProtocol', 'http2KeepAlive'] as const),
        },
        closed,
      ),
    ),
  },
  closed,
);

/** Durations are checked (and read) by semantic checks, which can say what a duration looks like. */
const OutlierDetectionSchema = Type.Object(
  {
    consecutiveErrors: Type.Optional(Int32NonNeg),
    consecutive5xxErrors: Type.Optional(Uint32),
    consecutiveGatewayErrors: Type.Optional(Uint32),
    consecutiveLocalOriginFailures: Type.Optional(Uint32),
    splitExternalLocalOriginErrors: Type.Optional(Type.Boolean()),
    interval: Type.Optional(Type.String()),
    baseEjectionTime: Type.Optional(Type.String()),
    maxEjectionPercent: Type.Optional(Int(0, 100)),
    minHealthPercent: Type.Optional(Int(0, 100)),
  },
  closed,
);

/** Fields shared by a TrafficPolicy and its per-port settings. */
const policyFields = {
  loadBalancer: Type.Optional(LoadBalancerSchema),
  connectionPool: Type.Optional(ConnectionPoolSchema),
  outlierDetection: Type.Optional(OutlierDetectionSchema),
  tls: Type.Optional(OpaqueObject),
};

export const TrafficPolicySchema = Type.Object(
  {
    ...policyFields,
    portLevelSettings: Type.Optional(
      Type.Array(
        Type.Object(
          { ...policyFields, port: Type.Optional(Type.Object({ number: Type.Optional(Port) }, closed)) },
          closed,
        ),
      ),
    ),
    tunnel: Type.Optional(OpaqueObject),
    proxyProtocol: Type.Optional(OpaqueObject),
    retryBudget: Type.Optional(Opaque),
  },
  closed,
);

const SubsetSchema = Type.Object(
  {
    name: NonEmptyString,
    labels: Type.Optional(StringMap),
    trafficPolicy: Type.Optional(TrafficPolicySchema),
  },
  closed,
);

export const DestinationRuleSpecSchema = Type.Object(
  {
    host: NonEmptyString,
    trafficPolicy: Type.Optional(TrafficPolicySchema),
    subsets: Type.Optional(Type.Array(SubsetSchema)),
    exportTo: Type.Optional(Type.Array(Type.String())),
    workloadSelector: Type.Optional(Type.Object({ matchLabels: Type.Optional(StringMap) }, closed)),
  },
  closed,
);

// ---- security.istio.io ------------------------------------------------------------------------

export const PEER_AUTHENTICATION_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;

const MutualTlsSchema = Type.Object({ mode: Type.Optional(StringEnum(PEER_AUTHENTICATION_MODES)) }, closed);

/**
 * PeerAuthentication (security.istio.io/v1beta1 PeerAuthentication). `portLevelMtls` is a map
 * keyed by port; whether a key is a port 1..65535 is a semantic check (semantic.ts), as in istiod.
 */
export const PeerAuthenticationSpecSchema = Type.Object(
  {
    selector: Type.Optional(Type.Object({ matchLabels: Type.Optional(StringMap) }, closed)),
    mtls: Type.Optional(MutualTlsSchema),
    portLevelMtls: Type.Optional(Type.Record(Type.String(), MutualTlsSchema)),
  },
  closed,
);

// ---- Kubernetes core -------------------------------------------------------------------------

const KubeServicePortSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    port: Port,
    targetPort: Type.Optional(Type.Union([Port, Type.String({ minLength: 1, expected: 'a port name' })])),
    protocol: Type.Optional(StringEnum(['TCP', 'UDP', 'SCTP'] as const)),
    appProtocol: Type.Optional(Type.String()),
    nodePort: Type.Optional(Int(0, 65535)),
  },
  closed,
);

/** Service spec fields that exist in Kubernetes but do not affect xdsim: accepted, not read. */
const KUBE_SERVICE_OTHER_FIELDS = [
  'clusterIPs',
  'externalIPs',
  'externalName',
  'externalTrafficPolicy',
  'internalTrafficPolicy',
  'healthCheckNodePort',
  'ipFamilies',
  'ipFamilyPolicy',
  'loadBalancerIP',
  'loadBalancerSourceRanges',
  'loadBalancerClass',
  'allocateLoadBalancerNodePorts',
  'publishNotReadyAddresses',
  'sessionAffinity',
  'sessionAffinityConfig',
  'trafficDistribution',
] as const;

export const KubeServiceSpecSchema = Type.Object(
  {
    selector: Type.Optional(StringMap),
    ports: Type.Optional(Type.Array(KubeServicePortSchema)),
    clusterIP: Type.Optional(Type.String()),
    type: Type.Optional(StringEnum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const)),
    ...optionalOpaque(KUBE_SERVICE_OTHER_FIELDS),
  },
  closed,
);

// ---- documents -------------------------------------------------------------------------------

function istioDoc<K extends string, S extends TSchema, St extends TSchema>(kind: K, spec: S, status: St) {
  return Type.Object(
    {
      apiVersion: StringEnum(ISTIO_API_VERSIONS),
      kind: Type.Literal(kind),
      metadata: ObjectMetaSchema,
      spec,
      status: Type.Optional(status),
    },
    closed,
  );
}

function coreDoc<K extends string, P extends Record<string, TSchema>>(kind: K, rest: P) {
  return Type.Object(
    {
      apiVersion: StringEnum(CORE_API_VERSIONS),
      kind: Type.Literal(kind),
      metadata: ObjectMetaSchema,
      ...rest,
    },
    closed,
  );
}

export const WorkloadEntryDocument = istioDoc('WorkloadEntry', WorkloadEntrySpecSchema, IstioStatusSchema);

export const WorkloadGroupDocument = istioDoc(
  'WorkloadGroup',
  Type.Object(
    {
      metadata: Type.Optional(
        Type.Object({ labels: Type.Optional(StringMap), annotations: Type.Optional(StringMap) }, closed),
      ),
      template: WorkloadEntrySpecSchema,
      probe: Type.Optional(ReadinessProbeSchema),
    },
    closed,
  ),
  OpaqueObject,
);

export const ServiceEntryDocument = istioDoc('ServiceEntry', ServiceEntrySpecSchema, OpaqueObject);
export const DestinationRuleDocument = istioDoc('DestinationRule', DestinationRuleSpecSchema, OpaqueObject);

export const PeerAuthenticationDocument = Type.Object(
  {
    apiVersion: StringEnum(SECURITY_API_VERSIONS),
    kind: Type.Literal('PeerAuthentication'),
    metadata: ObjectMetaSchema,
    spec: PeerAuthenticationSpecSchema,
    status: Type.Optional(OpaqueObject),
  },
  closed,
);

export const KubeServiceDocument = coreDoc('Service', {
  spec: KubeServiceSpecSchema,
  status: Type.Optional(OpaqueObject),
});

export const NamespaceDocument = coreDoc('Namespace', {
  spec: Type.Optional(OpaqueObject),
  status: Type.Optional(OpaqueObject),
});

export const ServiceAccountDocument = coreDoc('ServiceAccount', {
  secrets: Type.Optional(Opaque),
  imagePullSecrets: Type.Optional(Opaque),
  automountServiceAccountToken: Type.Optional(Type.Boolean()),
});

export const DOCUMENT_SCHEMAS: Readonly<Record<ResourceKind, TSchema>> = {
  WorkloadEntry: WorkloadEntryDocument,
  WorkloadGroup: WorkloadGroupDocument,
  ServiceEntry: ServiceEntryDocument,
  DestinationRule: DestinationRuleDocument,
  PeerAuthentication: PeerAuthenticationDocument,
  Service: KubeServiceDocument,
  Namespace: NamespaceDocument,
  ServiceAccount: ServiceAccountDocument,
};

// ---- compile-time agreement with resources.ts ------------------------------------------------
// A validated document, once metadata is normalised (namespace defaulted, server-managed fields
// dropped), must be a valid resource. These aliases fail to compile if a schema drifts.

type Assignable<T extends U, U> = [T, U];
type ServerManaged = (typeof SERVER_MANAGED_METADATA)[number];
type NormalisedMeta = Omit<Static<typeof ObjectMetaSchema>, ServerManaged> & { namespace: string };
type AsResource<S extends TSchema> = Omit<Static<S>, 'metadata'> & { metadata: NormalisedMeta };

export type SchemaChecks = [
  Assignable<NormalisedMeta, ObjectMeta>,
  Assignable<Static<typeof WorkloadEntrySpecSchema>, WorkloadEntrySpec>,
  Assignable<Static<typeof ConditionSchema>, Condition>,
  Assignable<AsResource<typeof WorkloadEntryDocument>, WorkloadEntry>,
  Assignable<AsResource<typeof WorkloadGroupDocument>, WorkloadGroup>,
  Assignable<AsResource<typeof ServiceEntryDocument>, ServiceEntry>,
  Assignable<AsResource<typeof DestinationRuleDocument>, DestinationRule>,
  Assignable<AsResource<typeof PeerAuthenticationDocument>, PeerAuthentication>,
  Assignable<AsResource<typeof KubeServiceDocument>, KubeService>,
  Assignable<AsResource<typeof NamespaceDocument>, Namespace>,
  Assignable<AsResource<typeof ServiceAccountDocument>, ServiceAccount>,
];
