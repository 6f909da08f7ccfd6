// Client-side convergence: how long a change takes to reach every agent that subscribes to it,
// measured where the agents are, so it works against any control plane (no push log needed).
//
// A change is an endpoint entering or leaving EDS (an agent registering, an agent's probe
// flipping) or a config change at a known time. Every worker is told which changes to watch (the
// same list everywhere); each agent that takes part then notes, per cluster, the first
// ClusterLoadAssignment after which the watched endpoint is in its new state, and the agent that
// *is* the change notes when it happened (its health report, its first connect) and which clusters
// it is in. After the run the records of all workers and agent sets are put together: for each
// change, the subscribers are the agents that already held one of its clusters when it happened,
// and its convergence is the time until the last of them had it.
import { addressNeedle, containsNeedle } from '../agent/wire.js';

export type ChangeKind = 'registration' | 'health' | 'config';

/** A watched change: an endpoint (IP) appearing in or leaving EDS, or config changed at `at`. */
export type ChangeWatch =
  | { id: string; kind: 'registration' | 'health'; ip: string; present: boolean; /** Stop scanning for it then (epoch ms): one flip of a flapping probe is soon old news. */ until?: number }
  | { id: string; kind: 'config'; at: number };

/** Where a watched endpoint change began: when its agent reported (or connected), and its clusters. */
export interface ChangeOrigin {
  id: string;
  at: number;
  clusters: string[];
}

/** One worker's notes (plain data: it crosses threads and processes). */
export interface PropagationRecord {
  watches: ChangeWatch[];
  origins: ChangeOrigin[];
  /** Per watch, per cluster: [agent, since, at]: the agent had held the cluster since `since` and saw the change at `at`. */
  sightings: Record<string, Record<string, [string, number, number][]>>;
  /** Per cluster: [agent, since] for every taking-part agent holding it at the end. */
  holders: Record<string, [string, number][]>;
  /** Per config watch: [agent, streamSince, first response after the change or -1]. */
  responses: Record<string, [string, number, number][]>;
}

export function emptyPropagation(): PropagationRecord {
  return { watches: [], origins: [], sightings: {}, holders: {}, responses: {} };
}

/** Most endpoint changes watched at once: each costs a scan of every CLA an agent receives. */
export const MAX_ENDPOINT_WATCHES = 32;

interface EndpointWatch {
  id: string;
  needle: Buffer;
  present: boolean;
  until: number;
  sightings: Record<string, [string, number, number][]>;
}

/** What the tracker needs of an agent. */
export interface TrackedAgent {
  readonly key: string;
  readonly ip: string;
  /** Clusters whose endpoints hold the agent's own IP. */
  clustersPresent(): string[];
  /** When the current stream first had this cluster (undefined: it does not hold it). */
  clusterSince(cluster: string): number | undefined;
  /** Clusters the current stream holds, with when it first had each. */
  heldClusters(): Iterable<[string, number]>;
  /** When the current stream got its first response (undefined: no stream). */
  streamSince(): number | undefined;
}

/**
 * One worker's side: watches, the agents' sightings, the origins of changes its own agents made.
 * Agents that do not take part (a large fleet samples its subscribers) call nothing here.
 */
export class PropagationTracker {
  private readonly watches: ChangeWatch[] = [];
  private readonly endpoint: EndpointWatch[] = [];
  private readonly byIp = new Map<string, EndpointWatch[]>();
  private readonly origins: ChangeOrigin[] = [];
  /** Endpoint origins whose clusters are read at the end (the agent shows up in EDS later). */
  private readonly pendingOrigins: { id: string; at: number; agent: TrackedAgent; reported?: boolean }[] = [];
  /** Per agent: `watch\0cluster` already sighted. */
  private readonly seen = new Map<string, Set<string>>();
  private readonly config = new Map<string, { at: number; pending: Map<string, number>; done: [string, number, number][] }>();

  /** `takesPart`: whether an agent is one of the subscribers measured (a large fleet samples them). */
  constructor(private readonly takesPart: (agent: TrackedAgent) => boolean) {}

  /** Starts watching; `agents`: the worker's running agents (config changes wait for their next response). */
  watch(ws: readonly ChangeWatch[], agents: Iterable<TrackedAgent>): void {
    for (const w of ws) {
      if (this.watches.some((x) => x.id === w.id)) continue;
      if (w.kind === 'config') {
        this.watches.push(w);
        // Subscribers: agents with a stream from before the change; each waits for its next response.
        const pending = new Map<string, number>();
        for (const a of agents) {
          const since = a.streamSince();
          if (since !== undefined && since <= w.at && this.takesPart(a)) pending.set(a.key, since);
        }
        this.config.set(w.id, { at: w.at, pending, done: [] });
        continue;
      }
      if (this.active().length >= MAX_ENDPOINT_WATCHES) continue;
      this.watches.push(w);
      const e: EndpointWatch = { id: w.id, needle: addressNeedle(w.ip), present: w.present, until: w.until ?? Infinity, sightings: {} };
      this.endpoint.push(e);
      const list = this.byIp.get(w.ip);
      if (list) list.push(e);
      else this.byIp.set(w.ip, [e]);
    }
  }

  private active(now = Date.now()): EndpointWatch[] {
    return this.endpoint.filter((e) => e.until > now);
  }

  /**
   * A probe flip nobody asked for (a flapping probe): watched from here on, for `forMs`, unless
   * a timeline step already waits for this very flip. Returns the watch to pass on to the other
   * workers, or undefined.
   */
  watchFlip(agent: TrackedAgent, healthy: boolean, at: number, forMs: number): ChangeWatch | undefined {
    const awaited = (this.byIp.get(agent.ip) ?? []).some((e) => e.present === healthy && e.until > at && !this.hasOrigin(e.id));
    if (awaited) return undefined;
    const w: ChangeWatch = { id: `flip:${agent.key}:${at}`, kind: 'health', ip: agent.ip, present: healthy, until: at + forMs };
    const before = this.watches.length;
    this.watch([w], []);
    return this.watches.length > before ? w : undefined;
  }

  /** Flip watches still running (to bound how many a worker starts). */
  activeFlips(now: number): number {
    return this.endpoint.filter((e) => e.id.startsWith('flip:') && e.until > now).length;
  }

  /** The agent with this IP reported health `healthy` at `at` (a transition). */
  healthReported(agent: TrackedAgent, healthy: boolean, at: number): void {
    for (const e of this.byIp.get(agent.ip) ?? []) {
      const w = this.watches.find((x) => x.id === e.id);
      // A health-checked entry becomes an endpoint once its agent says it is healthy: that
      // report, not the connect, is the change a registration's subscribers wait for.
      const reg = w?.kind === 'registration' && healthy ? this.pendingOrigins.find((o) => o.id === e.id && !o.reported) : undefined;
      if (reg) {
        reg.at = Math.max(reg.at, at);
        reg.reported = true;
      }
      if (w?.kind !== 'health' || e.present !== healthy || this.hasOrigin(e.id)) continue;
      // Leaving: the clusters it is in now. Coming back: the ones it will be in, read at the end.
      if (!healthy) this.origins.push({ id: e.id, at, clusters: agent.clustersPresent() });
      else this.pendingOrigins.push({ id: e.id, at, agent });
    }
  }

  /** The agent with this IP started connecting as a new identity at `at`. */
  started(agent: TrackedAgent, at: number): void {
    for (const e of this.byIp.get(agent.ip) ?? []) {
      const w = this.watches.find((x) => x.id === e.id);
      if (w?.kind === 'registration' && !this.hasOrigin(e.id)) this.pendingOrigins.push({ id: e.id, at, agent });
    }
  }

  private hasOrigin(id: string): boolean {
    return this.origins.some((o) => o.id === id) || this.pendingOrigins.some((o) => o.id === id);
  }

  /** A ClusterLoadAssignment reached `agent` (`first`: the stream's first for this cluster). */
  endpoints(agent: TrackedAgent, cluster: string, cla: Uint8Array | undefined, at: number, first: boolean): void {
    // A stream's first copy of a cluster is its initial state: it says nothing about a change
    // that came before the stream, and such a stream is no subscriber of it anyway.
    if (first || this.endpoint.length === 0 || !this.takesPart(agent)) return;
    let seen = this.seen.get(agent.key);
    for (const e of this.endpoint) {
      if (e.until < at) continue;
      const k = `${e.id}\0${cluster}`;
      if (seen?.has(k)) continue;
      const present = cla !== undefined && containsNeedle(cla, e.needle);
      if (present !== e.present) continue;
      if (!seen) this.seen.set(agent.key, (seen = new Set()));
      seen.add(k);
      const since = agent.clusterSince(cluster) ?? at;
      (e.sightings[cluster] ??= []).push([agent.key, since, at]);
    }
  }

  /** Any response reached `agent`. */
  response(agent: TrackedAgent, at: number): void {
    if (this.config.size === 0) return;
    for (const c of this.config.values()) {
      if (at <= c.at) continue;
      const since = c.pending.get(agent.key);
      if (since === undefined) continue;
      c.pending.delete(agent.key);
      c.done.push([agent.key, since, at]);
    }
  }

  /** The worker's record at the end; `agents`: its agents still running. */
  record(agents: Iterable<TrackedAgent>): PropagationRecord {
    const out = emptyPropagation();
    out.watches = [...this.watches];
    out.origins = [...this.origins, ...this.pendingOrigins.map((p) => ({ id: p.id, at: p.at, clusters: p.agent.clustersPresent() }))];
    for (const e of this.endpoint) out.sightings[e.id] = e.sightings;
    for (const a of agents) if (this.takesPart(a)) for (const [cluster, since] of a.heldClusters()) (out.holders[cluster] ??= []).push([a.key, since]);
    for (const [id, c] of this.config) out.responses[id] = [...c.done, ...[...c.pending].map(([k, since]): [string, number, number] => [k, since, -1])];
    return out;
  }
}

/** Records of several workers (or agent sets) as one. */
export function mergePropagation(records: readonly (PropagationRecord | undefined)[]): PropagationRecord {
  const out = emptyPropagation();
  const watchIds = new Set<string>();
  const originIds = new Set<string>();
  for (const r of records) {
    if (!r) continue;
    for (const w of r.watches) if (!watchIds.has(w.id)) (watchIds.add(w.id), out.watches.push(w));
    // The agent that made a change runs in exactly one worker; keep its first word on it.
    for (const o of r.origins) if (!originIds.has(o.id)) (originIds.add(o.id), out.origins.push(o));
    for (const [id, byCluster] of Object.entries(r.sightings)) {
      const dst = (out.sightings[id] ??= {});
      for (const [c, list] of Object.entries(byCluster)) (dst[c] ??= []).push(...list);
    }
    for (const [c, list] of Object.entries(r.holders)) (out.holders[c] ??= []).push(...list);
    for (const [id, list] of Object.entries(r.responses)) (out.responses[id] ??= []).push(...list);
  }
  return out;
}

/** One change as the fleet saw it. */
export interface ChangeConvergence {
  id: string;
  kind: ChangeKind;
  /** When the change happened (epoch ms). */
  at: number;
  /** Subscriptions it had to reach: (agent, cluster) pairs held from before the change. */
  subscribers: number;
  /** How many had it by the end of the run. */
  reached: number;
  /** Change -> the last subscriber that had it (ms); undefined when none had it. */
  ms: number | undefined;
}

/**
 * Per change: subscribers are the (agent, cluster) pairs held from before the change (config
 * changes: agents with a stream from before it); its convergence is the change -> the last of
 * them seeing it. Changes that never happened (no origin) or touch no subscriber are left out.
 */
export function changeConvergence(r: PropagationRecord): ChangeConvergence[] {
  const out: ChangeConvergence[] = [];
  const origins = new Map(r.origins.map((o) => [o.id, o]));
  for (const w of r.watches) {
    if (w.kind === 'config') {
      const subs = (r.responses[w.id] ?? []).filter(([, since]) => since <= w.at);
      if (subs.length === 0) continue;
      const got = subs.filter(([, , t]) => t >= 0);
      out.push({ id: w.id, kind: 'config', at: w.at, subscribers: subs.length, reached: got.length, ms: got.length ? Math.max(...got.map(([, , t]) => t - w.at)) : undefined });
      continue;
    }
    const o = origins.get(w.id);
    if (!o || o.clusters.length === 0) continue;
    let subscribers = 0;
    let reached = 0;
    let last = -Infinity;
    for (const cluster of o.clusters) {
      const held = new Set<string>();
      for (const [agent, since] of r.holders[cluster] ?? []) if (since <= o.at) held.add(agent);
      const saw = new Map<string, number>();
      for (const [agent, since, t] of r.sightings[w.id]?.[cluster] ?? []) {
        if (since > o.at || t < o.at) continue;
        held.add(agent);
        saw.set(agent, Math.min(t, saw.get(agent) ?? Infinity));
      }
      subscribers += held.size;
      reached += saw.size;
      for (const t of saw.values()) last = Math.max(last, t);
    }
    if (subscribers === 0) continue;
    out.push({ id: w.id, kind: w.kind, at: o.at, subscribers, reached, ms: reached ? Math.max(0, last - o.at) : undefined });
  }
  return out.sort((a, b) => a.at - b.at);
}
