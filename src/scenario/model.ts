// A scenario after validation: every value read into its unit (ms, fractions, per second),
// paths resolved, manifests parsed into resources. The runner and the expectations engine only
// ever see this shape.
import type { LoadedResource } from '../config/parse.js';
import type { ChurnSpec } from '../fleet/churn.js';
import type { MeshOptions } from '../topology/generate.js';
import type { RemoteTargetSpec } from './target.js';
import type { MeshNetworks } from '../model/mesh-networks.js';
import type { LinkShape } from '../network/link-shape.js';
import type { PartitionDirection } from '../network/link-relay.js';

export interface ControlPlaneSettings {
  gracePeriodMs: number;
  /** Deletions per second past the grace period (embedded only; istiod: 20). */
  cleanupPerSecond?: number;
  debounceAfterMs: number;
  debounceMaxMs: number;
  edsDebounce: boolean;
  sendUnhealthyEndpoints: boolean;
  /** PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS (default true, as istiod). */
  autoSendUnhealthyEndpoints: boolean;
  /** ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY (default true, as istiod). */
  validateIdentity: boolean;
  /** istiod's --keepaliveInterval / --keepaliveTimeout, for the embedded control plane (default 30s / 10s). */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** istiod's meshNetworks, for the embedded control plane. */
  meshNetworks?: MeshNetworks;
  /** Run against this control plane instead of the embedded one (the settings above are then the target's own business). */
  target?: RemoteTargetSpec;
}

export type ProbeModelSpec = { kind: 'healthy' } | { kind: 'unhealthy' } | { kind: 'flapping'; periodMs: number };

export interface AgentSetSpec {
  namespace: string;
  group: string;
  count: number;
  /** Locality -> weight (an even spread when given as a list); empty: no locality. */
  localities: [string, number][];
  network: string;
  labels: Record<string, string>;
  /** Service account of the agents (their token and SERVICE_ACCOUNT); default: the group template's. */
  serviceAccount?: string;
  probe?: { model: ProbeModelSpec; fraction: number };
}


export interface FleetSpec {
  durationMs: number;
  /** Connects per second during ramp-up; undefined: all at once. */
  rampPerSecond?: number;
  mode: 'sotw' | 'delta';
  /** EDS clusters agents subscribe to; undefined: everything (CDS wildcard + EDS). */
  clusters?: string[];
  workers?: number;
  seed: number;
  agents: AgentSetSpec[];
  churn: ChurnSpec[];
}

export interface AgentSelector {
  /** Exactly one of count / fraction; neither = all matching agents. */
  count?: number;
  fraction?: number;
  /** `namespace/name`. */
  group?: string;
  locality?: string;
  /** reconnect only: each agent stays away 0.5x..1.5x this long (0: back at once). */
  spreadMs?: number;
}

export type TimelineAction =
  | { kind: 'apply'; resources: LoadedResource[]; source: string }
  | { kind: 'delete'; keys: string[] }
  | { kind: 'drop' | 'unhealthy' | 'healthy' | 'restore' | 'reconnect'; selector: AgentSelector }
  | { kind: 'partition'; link: string; direction: PartitionDirection; forMs: number }
  /** The end of a partition: made by the loader from the partition's `for`. */
  | { kind: 'heal'; link: string; partitionedAtMs: number };

export interface TimelineEvent {
  atMs: number;
  action: TimelineAction;
  /** Human description ("drop 10% of agents in region-1"). */
  label: string;
  line: number;
  /** Position in the file's timeline list. */
  index: number;
}

/** An emulated link (src/network): the agents it selects reach the control plane through its relay. */
export interface NetworkLinkSpec {
  name: string;
  /** Agents of this group (`namespace/name`) and/or in this locality (a pattern); at least one. */
  select: { group?: string; locality?: string };
  shape: LinkShape;
  line: number;
}

export interface LbSharesSpec {
  kind: 'lbShares';
  cluster: string;
  proxy: { locality: string; network: string; labels: Record<string, string> };
  client: 'envoy' | 'grpc';
  localities: [string, number][];
  priorities: [number, number][];
  tolerance: number;
  failing: string[];
}

export type ExpectationSpec =
  | LbSharesSpec
  | {
      kind: 'convergence';
      bounds: Partial<Record<'p50Ms' | 'p90Ms' | 'p99Ms' | 'maxMs', number>>;
      fromMs?: number;
      untilMs?: number;
      /** server: the control plane's pushes (first change -> last ACK); client: change -> every subscribed agent has it. Default: server when the target shows its pushes, else client. */
      side?: 'server' | 'client';
    }
  | { kind: 'registered' | 'connected'; min?: number; max?: number }
  | { kind: 'endpoints'; cluster: string; min?: number; max?: number }
  | { kind: 'nacks' | 'errors' | 'leakedEntries'; max: number };

export interface Expectation {
  name: string;
  /** ms from t=0; undefined: at the end of the fleet's duration (leakedEntries: after the grace period). */
  atMs?: number;
  spec: ExpectationSpec;
  line: number;
  /** Position in the file's expectations list. */
  index: number;
  /** Checked only against this kind of target; skipped against the other. */
  onlyAgainst?: 'embedded' | 'remote';
}

export interface Scenario {
  name: string;
  description: string;
  /** The scenario file as given. */
  file: string;
  /** Every resource present at t=0: files, topology, inline manifests, workload groups. */
  resources: LoadedResource[];
  /** Generator options when the mesh uses a topology block. */
  topology?: MeshOptions;
  controlPlane: ControlPlaneSettings;
  fleet: FleetSpec;
  /** Emulated links; absent: every agent connects directly. */
  network?: { links: NetworkLinkSpec[] };
  timeline: TimelineEvent[];
  expectations: Expectation[];
}

export function totalAgents(f: FleetSpec): number {
  return f.agents.reduce((s, a) => s + a.count, 0);
}
