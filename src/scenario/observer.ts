// Observers: what a proxy with a given identity receives from the control plane, over its wire.
// Each observer is a real SotW ADS stream (CDS wildcard + EDS for one cluster) sent as a sidecar
// with the expectation's locality, network, labels and namespace; it ACKs every response and
// keeps the latest Cluster and ClusterLoadAssignment, which `lbShares` / `endpoints`
// expectations feed to the client LB model. It knows nothing of the server behind the address:
// the embedded xdsim and any other xDS server are observed the same way.
import * as grpc from '@grpc/grpc-js';
import { buildNode, type AgentLocality } from '../agent/identity.js';
import { clusterLbOptions, computeShares, type ClaJson, type Shares } from '../lb/index.js';
import { toCanonicalJson, toObject, TYPE_URL, type Cluster, type DiscoveryRequest, type DiscoveryResponse, type Node } from '../proto/index.js';
import { clientDefinitions } from '../xds/service-definitions.js';
import type { LbSharesSpec } from './model.js';

/** How to reach the control plane's xDS port, as the agents do. */
export interface ObserverTransport {
  /** `host:port`. */
  xds: string;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  /**
   * A bearer token for a namespace (sent as `authorization`), when the control plane verifies
   * tokens on every stream. Called once per observer with the observer's namespace.
   */
  token?: (namespace: string) => Promise<string | undefined>;
}

/** The proxy an observer stands for. */
export interface ObserverProxy {
  /** "region/zone/subzone" (parts may be empty); '' = no locality. */
  locality: string;
  network: string;
  labels: Record<string, string>;
  namespace: string;
}

const CDS = TYPE_URL.CLUSTER;
const EDS = TYPE_URL.ENDPOINT;
const RETRY_MS = 500;

/** The namespace of an `outbound|port|subset|host` cluster's host, else 'default'. */
export function clusterNamespace(cluster: string): string {
  const host = cluster.split('|')[3] ?? '';
  const parts = host.split('.');
  return parts.length >= 3 && parts[1] ? parts[1] : 'default';
}

function agentLocality(l: string): AgentLocality | undefined {
  if (!l) return undefined;
  const [region = '', zone = '', subZone = ''] = l.split('/');
  return { region, zone, subZone };
}

type AdsCall = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

export class ClusterObserver {
  /** The latest Cluster of that name from CDS; undefined once a CDS response no longer has it. */
  cluster: Cluster | undefined;
  /** Whether any CDS response arrived (so `cluster` undefined means "does not exist"). */
  cdsSeen = false;
  /** The latest assignment for the cluster. */
  cla: ClaJson | undefined;
  /** Responses received (all types). */
  responses = 0;
  /** performance.now() of the last response. */
  lastResponseAt = 0;
  lastError: string | undefined;
  private call: AdsCall | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly node: Node;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly client: grpc.Client,
    private readonly transport: ObserverTransport,
    readonly clusterName: string,
    readonly proxy: ObserverProxy,
    index: number,
  ) {
    const locality = agentLocality(proxy.locality);
    this.node = buildNode({
      name: `xdsim-observer-${index}`,
      namespace: proxy.namespace,
      // A loopback address: no workload of the mesh has it, so the proxy is nobody's endpoint.
      ip: `127.0.0.${(index % 250) + 2}`,
      labels: proxy.labels,
      ...(proxy.network ? { network: proxy.network } : {}),
      ...(locality ? { locality } : {}),
    });
  }

  /** Opens the stream (and reopens it after a failure until stopped). */
  async start(): Promise<void> {
    if (this.stopped) return;
    const md = new grpc.Metadata();
    let token: string | undefined;
    try {
      token = await this.transport.token?.(this.proxy.namespace);
    } catch (err) {
      this.lastError = `token: ${(err as Error).message}`;
    }
    if (token) md.set('authorization', `Bearer ${token}`);
    if (this.stopped) return;
    const call = (this.client as unknown as { StreamAggregatedResources(md: grpc.Metadata): AdsCall }).StreamAggregatedResources(md);
    this.call = call;
    call.on('data', (r: DiscoveryResponse) => this.onResponse(call, r));
    call.on('error', (e: grpc.ServiceError) => {
      if (this.stopped || e.code === grpc.status.CANCELLED) return;
      this.lastError = `${grpc.status[e.code] ?? e.code}: ${e.details || e.message}`;
      this.retry = setTimeout(() => void this.start(), RETRY_MS);
    });
    call.on('end', () => {});
    call.write({ node: this.node, type_url: CDS, resource_names: [] });
    call.write({ type_url: EDS, resource_names: [this.clusterName] });
  }

  private onResponse(call: AdsCall, r: DiscoveryResponse): void {
    const t = r.type_url ?? '';
    try {
      if (t === CDS) {
        let found: Cluster | undefined;
        for (const any of r.resources ?? []) {
          const c = toObject<Cluster>('Cluster', any.value ?? new Uint8Array());
          if (c.name === this.clusterName) found = c;
        }
        this.cluster = found;
        this.cdsSeen = true;
      } else if (t === EDS) {
        for (const any of r.resources ?? []) {
          const cla = toCanonicalJson('ClusterLoadAssignment', any.value ?? new Uint8Array()) as unknown as ClaJson;
          if (cla.clusterName === this.clusterName) this.cla = cla;
        }
      }
    } catch (err) {
      this.lastError = `bad response: ${(err as Error).message}`;
    }
    this.responses++;
    this.lastResponseAt = performance.now();
    call.write({
      type_url: t,
      version_info: r.version_info ?? '',
      response_nonce: r.nonce ?? '',
      resource_names: t === EDS ? [this.clusterName] : [],
    });
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once the cluster's fate is known (CDS, and EDS when it exists), or at the deadline. */
  async ready(timeoutMs: number): Promise<boolean> {
    const done = () => this.cdsSeen && (!this.cluster || this.cla !== undefined);
    if (done()) return true;
    return new Promise<boolean>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(done());
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
      this.waiters.add(check);
    });
  }

  /** Endpoints in the assignment (all localities), undefined when the cluster does not exist. */
  endpointCount(): number | undefined {
    if (!this.cluster) return undefined;
    return (this.cla?.endpoints ?? []).reduce((n, g) => n + (g.lbEndpoints?.length ?? 0), 0);
  }

  /** The client model's shares over what this proxy received. */
  lbShares(spec: Pick<LbSharesSpec, 'client' | 'failing'>): Shares | { error: string } {
    const why = this.lastError ? ` (observer: ${this.lastError})` : '';
    if (!this.cdsSeen) return { error: `the observer received no CDS for ${this.clusterName} from the control plane${why}` };
    if (!this.cluster) return { error: `cluster ${this.clusterName} does not exist (any more)` };
    if (!this.cla) return { error: `the observer received no endpoints for ${this.clusterName}${why}` };
    return computeShares(this.cla, { client: spec.client, unhealthy: spec.failing, ...clusterLbOptions(this.cluster) });
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.call?.cancel();
    for (const w of [...this.waiters]) w();
  }
}

const AdsClient = grpc.makeGenericClientConstructor(clientDefinitions().ads, 'AggregatedDiscoveryService');

/** The observers of a run: one per distinct (cluster, proxy), all on one channel. */
export class Observers {
  private readonly byKey = new Map<string, ClusterObserver>();
  private client: grpc.Client | undefined;

  constructor(private readonly transport: ObserverTransport) {}

  private static key(cluster: string, proxy: ObserverProxy): string {
    return JSON.stringify([cluster, proxy.locality, proxy.network, proxy.namespace, Object.entries(proxy.labels).sort()]);
  }

  /** The observer for this cluster and proxy, created (not started) on first use. */
  add(cluster: string, proxy: ObserverProxy): ClusterObserver {
    const k = Observers.key(cluster, proxy);
    let o = this.byKey.get(k);
    if (!o) {
      this.client ??= new AdsClient(this.transport.xds, this.transport.credentials ?? grpc.credentials.createInsecure(), {
        ...(this.transport.channelOptions ?? {}),
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': 256 * 1024 * 1024,
      });
      o = new ClusterObserver(this.client, this.transport, cluster, proxy, this.byKey.size);
      this.byKey.set(k, o);
    }
    return o;
  }

  get(cluster: string, proxy: ObserverProxy): ClusterObserver | undefined {
    return this.byKey.get(Observers.key(cluster, proxy));
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Starts every observer and waits (bounded) until each knows its cluster. */
  async start(timeoutMs: number): Promise<{ ready: number; total: number }> {
    const all = [...this.byKey.values()];
    await Promise.all(all.map((o) => o.start()));
    const ready = await Promise.all(all.map((o) => o.ready(timeoutMs)));
    return { ready: ready.filter(Boolean).length, total: all.length };
  }

  /**
   * Waits until no observer has received anything for `quietMs` (a push in flight has landed),
   * at most `maxMs`.
   */
  async settle(quietMs: number, maxMs: number): Promise<void> {
    const deadline = performance.now() + maxMs;
    for (;;) {
      const now = performance.now();
      const last = Math.max(0, ...[...this.byKey.values()].map((o) => o.lastResponseAt));
      const wait = last + quietMs - now;
      if (wait <= 0 || now >= deadline) return;
      await new Promise((r) => setTimeout(r, Math.min(wait, deadline - now)));
    }
  }

  stop(): void {
    for (const o of this.byKey.values()) o.stop();
    this.client?.close();
    this.client = undefined;
  }
}

/** The proxy of an `lbShares` expectation (namespace: the service's). */
export function lbSharesProxy(spec: LbSharesSpec): ObserverProxy {
  return { locality: spec.proxy.locality, network: spec.proxy.network, labels: spec.proxy.labels, namespace: clusterNamespace(spec.cluster) };
}

/** The proxy of an `endpoints` expectation: no locality, the service's namespace. */
export function endpointsProxy(cluster: string): ObserverProxy {
  return { locality: '', network: '', labels: {}, namespace: clusterNamespace(cluster) };
}
