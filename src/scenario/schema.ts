// TypeBox schema of a scenario file (docs/scenarios.md). Like the manifest schemas, it is both
// the validator and the source of the "expected ..." half of error messages; mappings are
// closed so a misspelt field is warned about, not silently ignored.
import { Type, type Static } from '@sinclair/typebox';
import { DURATION_PATTERN, PERCENT_PATTERN, RATE_PATTERN } from './units.js';
import { MeshNetworksSchema } from '../model/mesh-networks.js';
import { BIT_RATE_PATTERN } from '../network/link-shape.js';

export const SCENARIO_API_VERSION = 'xdsim.io/v1alpha1';

const closed = { additionalProperties: false } as const;
const StringEnum = <const T extends readonly string[]>(values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
const StringMap = Type.Record(Type.String(), Type.String());
const NonEmpty = Type.String({ minLength: 1 });
const Count = (minimum = 0) => Type.Integer({ minimum });

export const Duration = Type.String({ pattern: DURATION_PATTERN, expected: 'a duration like "500ms", "10s" or "1m30s"' });
/** A fraction of a whole: 0.25 or "25%". */
export const Fraction = Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.String({ pattern: PERCENT_PATTERN })], {
  expected: 'a fraction 0..1 or a percentage like "10%"',
});
const Rate = Type.Union([Type.Number({ minimum: 0 }), Type.String({ pattern: RATE_PATTERN })], {
  expected: 'a rate like "100/s" or "600/m", or a number per second',
});
/** `region`, `region/zone` or `region/zone/subzone`; `*` matches anything in one part. */
const LocalityPattern = Type.String({ minLength: 1, expected: 'a locality like "region/zone/subzone"' });
const Manifest = Type.Record(Type.String(), Type.Unknown(), { expected: 'a Kubernetes object (a mapping with apiVersion and kind)' });
const OneOrMany = <T extends Parameters<typeof Type.Array>[0]>(t: T, expected: string) => Type.Union([t, Type.Array(t)], { expected });

// ---- mesh ------------------------------------------------------------------------------------

export const TopologySchema = Type.Object(
  {
    regions: Count(1),
    zonesPerRegion: Count(1),
    subzonesPerZone: Count(1),
    services: Count(0),
    namespaces: Type.Optional(Count(1)),
    entriesPerLocality: Type.Optional(Count(0)),
    totalEntries: Type.Optional(Count(0)),
    weights: Type.Optional(StringEnum(['none', 'random'] as const)),
    maxWeight: Type.Optional(Type.Integer({ minimum: 1, maximum: 4294967295 })),
    healthChecked: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    unhealthy: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    destinationRules: Type.Optional(StringEnum(['none', 'failover', 'distribute', 'failoverPriority', 'mixed'] as const)),
    subsets: Type.Optional(Count(0)),
    networks: Type.Optional(Count(0)),
    racks: Type.Optional(Count(0)),
    emptyServices: Type.Optional(Count(0)),
    serviceKind: Type.Optional(StringEnum(['Service', 'ServiceEntry', 'mixed'] as const)),
    seed: Type.Optional(Type.Integer()),
  },
  closed,
);

const MeshSchema = Type.Object(
  {
    files: Type.Optional(Type.Array(NonEmpty)),
    manifests: Type.Optional(Type.Array(Manifest)),
    topology: Type.Optional(TopologySchema),
  },
  closed,
);

// ---- control plane ---------------------------------------------------------------------------

const ControlPlaneSchema = Type.Object(
  {
    /** PILOT_WORKLOAD_ENTRY_GRACE_PERIOD */
    gracePeriod: Type.Optional(Duration),
    /**
     * Entries past the grace period deleted per second (embedded xdsim only; istiod's is fixed
     * at 20/s, the default). Large fleets leaving would otherwise make a run wait minutes.
     */
    cleanupRate: Type.Optional(Rate),
    /** PILOT_DEBOUNCE_AFTER */
    debounceAfter: Type.Optional(Duration),
    /** PILOT_DEBOUNCE_MAX */
    debounceMax: Type.Optional(Duration),
    /** PILOT_ENABLE_EDS_DEBOUNCE */
    edsDebounce: Type.Optional(Type.Boolean()),
    /** PILOT_SEND_UNHEALTHY_ENDPOINTS */
    sendUnhealthyEndpoints: Type.Optional(Type.Boolean()),
    /** PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS */
    autoSendUnhealthyEndpoints: Type.Optional(Type.Boolean()),
    /** ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY */
    validateIdentity: Type.Optional(Type.Boolean()),
    /** istiod's --keepaliveInterval: the server pings each agent connection this often (embedded only). */
    keepaliveInterval: Type.Optional(Duration),
    /** istiod's --keepaliveTimeout: an unanswered ping closes the connection after this (embedded only). */
    keepaliveTimeout: Type.Optional(Duration),
    /** istiod's meshNetworks (`xdsim serve --mesh-networks`): networks and their gateways. */
    meshNetworks: Type.Optional(MeshNetworksSchema),
    /** A control plane at an address instead of the embedded one (`xdsim run --target`). */
    target: Type.Optional(
      Type.Object(
        {
          address: Type.String({ pattern: '^(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):\\d+$', expected: 'host:port' }),
          applyUrl: Type.Optional(Type.String({ pattern: '^https?://', expected: 'an http(s) URL' })),
          /** Or a shell command taking the YAML on stdin (`kubectl apply -f -`). */
          applyCommand: Type.Optional(Type.String({ minLength: 1 })),
          /** With applyCommand: the delete command (`kubectl delete -f -`). */
          deleteCommand: Type.Optional(Type.String({ minLength: 1 })),
          /** Bound on each apply / delete command (default 60s). */
          commandTimeout: Type.Optional(Duration),
          tokenFile: Type.Optional(Type.String({ minLength: 1 })),
          /** A command printing one service account's token ($NAMESPACE, $SERVICE_ACCOUNT set), e.g. kubectl create token. */
          tokenCommand: Type.Optional(Type.String({ minLength: 1 })),
          /** TLS to the xDS port (istiod's 15012), as `xdsim agents --tls-ca/--tls-cert/--tls-key/--sni`. */
          tls: Type.Optional(
            Type.Object(
              {
                caFile: Type.Optional(Type.String({ minLength: 1 })),
                certFile: Type.Optional(Type.String({ minLength: 1 })),
                keyFile: Type.Optional(Type.String({ minLength: 1 })),
                serverName: Type.Optional(Type.String({ minLength: 1 })),
              },
              closed,
            ),
          ),
          /** Prometheus metrics to scrape into the report (istiod: http://<istiod>:15014/metrics). */
          metricsUrl: Type.Optional(Type.String({ pattern: '^https?://', expected: 'an http(s) URL' })),
          /** Base of the debug API listing its config (istiod: http://<istiod>:15014). */
          debugUrl: Type.Optional(Type.String({ pattern: '^https?://', expected: 'an http(s) URL' })),
          name: Type.Optional(Type.String({ minLength: 1 })),
        },
        closed,
      ),
    ),
  },
  closed,
);

// ---- fleet -----------------------------------------------------------------------------------

const ProbeModelSchema = Type.Object(
  {
    /** What the agents' simulated probes report (their group must have a probe). */
    model: StringEnum(['healthy', 'unhealthy', 'flapping'] as const),
    /** flapping: one full healthy + unhealthy cycle. */
    period: Type.Optional(Duration),
    /** Share of the set's agents that use this model (the rest stay healthy); default all. */
    agents: Type.Optional(Fraction),
  },
  closed,
);

const AgentSetSchema = Type.Object(
  {
    /** `namespace/name` of the WorkloadGroup the agents auto-register into. */
    group: NonEmpty,
    count: Count(1),
    /** Spread evenly over a list, or by weight over a mapping. */
    localities: Type.Optional(
      Type.Union([Type.Array(LocalityPattern, { minItems: 1 }), Type.Record(Type.String(), Type.Number({ minimum: 0 }))], {
        expected: 'a list of localities or a mapping locality -> weight',
      }),
    ),
    network: Type.Optional(Type.String()),
    labels: Type.Optional(StringMap),
    /** The service account the agents' tokens and SERVICE_ACCOUNT name (default: the group template's). */
    serviceAccount: Type.Optional(NonEmpty),
    probe: Type.Optional(ProbeModelSchema),
  },
  closed,
);

export const CHURN_MODELS = ['disconnect', 'ipChange', 'storm', 'flap', 'scale'] as const;

/** Churn models of the fleet (src/fleet/churn.ts), one per entry. */
const ChurnSchema = Type.Object(
  {
    model: StringEnum(CHURN_MODELS),
    /** Share of running agents affected each time (disconnect, ipChange, storm, flap). */
    agents: Type.Optional(Fraction),
    /** disconnect, ipChange: time between occurrences. */
    every: Type.Optional(Duration),
    /** disconnect, ipChange: first occurrence (default: one period in). */
    start: Type.Optional(Duration),
    /** disconnect, ipChange: number of occurrences (default: until the end). */
    times: Type.Optional(Count(1)),
    /** How long affected agents stay away (disconnect default 1s, others 0s). */
    down: Type.Optional(Duration),
    /** storm, flap, scale: when it happens. */
    at: Type.Optional(Duration),
    /** flap: one full healthy + unhealthy cycle. */
    period: Type.Optional(Duration),
    /** scale: running agents become this share of the set. */
    to: Type.Optional(Fraction),
  },
  closed,
);

export const FleetSchema = Type.Object(
  {
    /** How long the agents run, counted from the start of the run (t=0). */
    duration: Duration,
    /** Fleet-wide connects per second during ramp-up; unset: all at once. */
    ramp: Type.Optional(Rate),
    mode: Type.Optional(StringEnum(['sotw', 'delta'] as const)),
    /**
     * What agents watch: by default everything (CDS wildcard, then EDS of every cluster), as a
     * sidecar does. With `clusters`, only the EDS of those; registration is then observed by one
     * extra watcher stream per worker.
     */
    subscribe: Type.Optional(Type.Object({ clusters: Type.Array(NonEmpty, { minItems: 1 }) }, closed)),
    workers: Type.Optional(Count(1)),
    seed: Type.Optional(Type.Integer()),
    agents: Type.Array(AgentSetSchema, { minItems: 1 }),
    churn: Type.Optional(Type.Array(ChurnSchema)),
  },
  closed,
);

// ---- network ---------------------------------------------------------------------------------

const BitRate = Type.String({ pattern: BIT_RATE_PATTERN, expected: 'a bit rate like "1Mbit", "512kbit" or "10Gbit"' });

/** One direction's shape; on a link, the same keys set both directions. */
const ShapeFields = {
  /** One-way delay. */
  delay: Type.Optional(Duration),
  /** The delay varies by up to this much either way (never reordering the stream). */
  jitter: Type.Optional(Duration),
  /** Per-segment loss probability, emulated as retransmission stalls (docs/scenarios.md#network). */
  loss: Type.Optional(Fraction),
  rate: Type.Optional(BitRate),
};
const DirectionShapeSchema = Type.Object(ShapeFields, closed);

const LinkSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', expected: 'a name like "zone-b" (lowercase letters, digits, -)' }),
    /** The agents that go through this link: a group's, a locality's, or both (agents of the group in the locality). */
    select: Type.Object({ group: Type.Optional(NonEmpty), locality: Type.Optional(LocalityPattern) }, closed),
    ...ShapeFields,
    /** Per-direction shapes over the link's own: what agents send, what the control plane sends. */
    toServer: Type.Optional(DirectionShapeSchema),
    toAgents: Type.Optional(DirectionShapeSchema),
  },
  closed,
);

export const NetworkSchema = Type.Object({ links: Type.Array(LinkSchema, { minItems: 1 }) }, closed);

// ---- timeline --------------------------------------------------------------------------------

/** Which agents an action touches: all, or those of a group and/or under a locality; a share or a count of them. */
const AgentSelectorSchema = Type.Object(
  {
    agents: Type.Optional(Type.Union([Count(0), Type.String({ pattern: PERCENT_PATTERN })], { expected: 'a count or a percentage like "10%"' })),
    group: Type.Optional(NonEmpty),
    locality: Type.Optional(LocalityPattern),
    /** reconnect: agents come back spread over about this long (0.5x..1.5x of it), not at once. */
    spread: Type.Optional(Duration),
  },
  closed,
);

const ResourceRef = Type.String({ pattern: '^[A-Za-z]+/([^/]*/)?[^/]+$', expected: 'a reference like "Kind/namespace/name"' });

export const TimelineEntrySchema = Type.Object(
  {
    at: Duration,
    /** Manifests applied in one batch: an object or a list. */
    apply: Type.Optional(OneOrMany(Manifest, 'a Kubernetes object or a list of them')),
    /** A manifest file (relative to the scenario) applied in one batch. */
    applyFile: Type.Optional(NonEmpty),
    delete: Type.Optional(OneOrMany(ResourceRef, 'a reference like "Kind/namespace/name" or a list of them')),
    /** Agents disconnect and stay away until `restore`. */
    drop: Type.Optional(AgentSelectorSchema),
    /** Agents' probes start failing (they report unhealthy). */
    unhealthy: Type.Optional(AgentSelectorSchema),
    /** Agents' probes pass again. */
    healthy: Type.Optional(AgentSelectorSchema),
    /** Dropped agents come back and every selected agent is healthy again. */
    restore: Type.Optional(AgentSelectorSchema),
    /** Agents drop their connection and reconnect at once (a connect storm when many do). */
    reconnect: Type.Optional(AgentSelectorSchema),
    /** A network link is cut for a while, both ways or one. */
    partition: Type.Optional(
      Type.Object(
        {
          link: NonEmpty,
          for: Duration,
          direction: Type.Optional(StringEnum(['both', 'toAgents', 'toServer'] as const)),
        },
        closed,
      ),
    ),
    note: Type.Optional(Type.String()),
  },
  closed,
);

export const TIMELINE_ACTIONS = ['apply', 'applyFile', 'delete', 'drop', 'unhealthy', 'healthy', 'restore', 'reconnect', 'partition'] as const;

// ---- expectations ----------------------------------------------------------------------------

const LbSharesSchema = Type.Object(
  {
    cluster: NonEmpty,
    proxy: Type.Object(
      {
        locality: Type.String(),
        network: Type.Optional(Type.String()),
        labels: Type.Optional(StringMap),
      },
      closed,
    ),
    client: Type.Optional(StringEnum(['envoy', 'grpc'] as const)),
    /** Locality pattern -> expected share of traffic (summed over matching localities). */
    localities: Type.Optional(Type.Record(Type.String(), Fraction)),
    /** Priority -> expected share. */
    priorities: Type.Optional(Type.Record(Type.String({ pattern: '^\\d+$' }), Fraction)),
    /** Allowed absolute difference per share (default 1%). */
    tolerance: Type.Optional(Fraction),
    /** Endpoints (ip:port) the client treats as failing, e.g. ejected by outlier detection. */
    failing: Type.Optional(Type.Array(NonEmpty)),
  },
  closed,
);

const Bound = Type.Object({ min: Type.Optional(Count(0)), max: Type.Optional(Count(0)) }, closed);

const ConvergenceSchema = Type.Object(
  {
    p50Ms: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    p90Ms: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    p99Ms: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    maxMs: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    /** Only pushes whose first change came at or after this time (e.g. after the ramp-up). */
    from: Type.Optional(Duration),
    /** Only pushes whose first change came before this time. */
    until: Type.Optional(Duration),
    /**
     * `server`: the control plane's pushes, first change -> last affected stream ACKed (only the
     * embedded xdsim shows them); `client`: a change (a VM registering, a probe flipping, a
     * config step) -> every agent subscribed to it holds it. Default: server where shown, else client.
     */
    side: Type.Optional(Type.Union([Type.Literal('server'), Type.Literal('client')])),
  },
  closed,
);

export const ExpectationSchema = Type.Object(
  {
    name: Type.Optional(NonEmpty),
    /** When to check (default: the end of the fleet's duration, before agents stop). */
    at: Type.Optional(Duration),
    /**
     * Checked only against this kind of control plane (say why in a comment): e.g. a step the
     * embedded store can take but a remote one cannot (marking a static WorkloadEntry unhealthy).
     * Against the other kind it is reported as skipped.
     */
    onlyAgainst: Type.Optional(Type.Union([Type.Literal('embedded'), Type.Literal('remote')])),
    lbShares: Type.Optional(LbSharesSchema),
    /** Upper bounds on push convergence (first change -> last affected stream ACKs). */
    convergence: Type.Optional(ConvergenceSchema),
    /** Auto-registered WorkloadEntries present; a number is a minimum, `all` = every agent. */
    registered: Type.Optional(Type.Union([Count(0), Type.Literal('all'), Bound], { expected: 'a minimum count, "all", or {min, max}' })),
    /** Agents connected to the control plane; a number is a minimum, `all` = every agent. */
    connected: Type.Optional(Type.Union([Count(0), Type.Literal('all'), Bound], { expected: 'a minimum count, "all", or {min, max}' })),
    /** Endpoints of a cluster, all proxies' union. */
    endpoints: Type.Optional(
      Type.Object({ cluster: NonEmpty, min: Type.Optional(Count(0)), max: Type.Optional(Count(0)), equals: Type.Optional(Count(0)) }, closed),
    ),
    /** Upper bounds over the whole run. */
    nacks: Type.Optional(Count(0)),
    errors: Type.Optional(Count(0)),
    /** Auto-registered entries left once agents stopped and the grace period passed. */
    leakedEntries: Type.Optional(Count(0)),
  },
  closed,
);

export const EXPECTATION_KINDS = ['lbShares', 'convergence', 'registered', 'connected', 'endpoints', 'nacks', 'errors', 'leakedEntries'] as const;
export type ExpectationKind = (typeof EXPECTATION_KINDS)[number];

// ---- document --------------------------------------------------------------------------------

export const ScenarioSchema = Type.Object(
  {
    apiVersion: Type.Literal(SCENARIO_API_VERSION),
    kind: Type.Literal('Scenario'),
    metadata: Type.Object({ name: NonEmpty, description: Type.Optional(Type.String()) }, closed),
    mesh: Type.Optional(MeshSchema),
    workloadGroups: Type.Optional(Type.Array(Manifest)),
    controlPlane: Type.Optional(ControlPlaneSchema),
    fleet: FleetSchema,
    /** Emulated network links between agents and the control plane. */
    network: Type.Optional(NetworkSchema),
    timeline: Type.Optional(Type.Array(TimelineEntrySchema)),
    expectations: Type.Optional(Type.Array(ExpectationSchema)),
  },
  closed,
);

export type ScenarioDocument = Static<typeof ScenarioSchema>;
export type TopologyDocument = Static<typeof TopologySchema>;
export type FleetDocument = Static<typeof FleetSchema>;
export type ChurnDocument = Static<typeof ChurnSchema>;
export type TimelineEntryDocument = Static<typeof TimelineEntrySchema>;
export type NetworkDocument = Static<typeof NetworkSchema>;
export type ExpectationDocument = Static<typeof ExpectationSchema>;
