// The service registry: WorkloadEntries, Services, ServiceEntries and DestinationRules turned into
// clusters and their endpoints, kept up to date incrementally from config store batches.
import type { ConfigBatch, ConfigEvent, ConfigStore } from '../config/store.js';
import type {
  DestinationRule,
  ResourceKind,
  KubeService,
  LocalityLbSetting,
  PeerAuthentication,
  ServiceEntry,
  WorkloadEntry,
} from '../config/resources.js';
import { clusterLbPolicy, ruleHost, hostMatches, selectDestinationRule, ROOT_NAMESPACE, type ClusterLbPolicy } from './destination-rule.js';
import { selectorMatches, TLS_MODE_ISTIO, type Labels } from './labels.js';
import { namespaceAffected, PeerAuthentications } from './peer-authentication.js';
import {
  clusterName,
  endpointPort,
  serviceFromEntry,
  serviceFromKube,
  type ServiceModel,
  type ServicePort,
} from './service.js';
import { Endpoint } from './endpoint.js';
import { workloadFromEntry, type Workload } from './workload.js';

export { Endpoint };

export interface ClusterModel {
  readonly name: string;
  readonly host: string;
  readonly service: ServiceModel;
  readonly port: ServicePort;
  readonly subset: string;
  readonly subsetLabels?: Labels;
  readonly policy: ClusterLbPolicy;
}

export interface EndpointDelta {
  readonly upserts: Map<string, Endpoint>;
  readonly removes: Set<string>;
}

/** What one config batch changed, cluster by cluster. */
export interface RegistryDelta {
  /** Clusters that are new or whose definition changed: recompute their endpoints from scratch. */
  readonly rebuilt: Set<string>;
  readonly removed: Set<string>;
  /** Endpoint-level changes of clusters that kept their definition. */
  readonly endpoints: Map<string, EndpointDelta>;
  /**
   * Endpoints (by key) whose encoded metadata changed without the endpoint changing: a
   * PeerAuthentication change turned their mTLS on or off. Clusters in `rebuilt` are not listed.
   */
  readonly reencode: Map<string, Set<string>>;
}

export function affectedClusters(d: RegistryDelta): Set<string> {
  return new Set([...d.rebuilt, ...d.removed, ...d.endpoints.keys(), ...d.reencode.keys()]);
}

export interface RegistryOptions {
  /** Mesh-wide `localityLbSetting` (default: enabled, no rules). */
  meshLocalityLb?: LocalityLbSetting;
  clusterId?: string;
}

export type RegistryListener = (delta: RegistryDelta) => void;

export class Registry {
  private readonly workloads = new Map<string, Workload>();
  /** namespace -> label key -> label value -> workloads; selection scans the smallest set. */
  private readonly labelIndex = new Map<string, Map<string, Map<string, Set<Workload>>>>();
  private readonly services = new Map<string, ServiceModel>();
  /** namespace -> "k=v" (one pair of each selector) -> service keys: the candidates for a workload. */
  private readonly selectorIndex = new Map<string, Map<string, Set<string>>>();
  private readonly clusters = new Map<string, ClusterModel>();
  private readonly clustersByService = new Map<string, string[]>();
  private readonly destinationRules = new Map<string, DestinationRule>();
  /** Exact rule host -> rule keys; wildcard rules are few and scanned. */
  private readonly rulesByHost = new Map<string, Set<string>>();
  private readonly wildcardRules = new Set<string>();
  private readonly servicesByHost = new Map<string, Set<string>>();
  private readonly listeners = new Set<RegistryListener>();
  private readonly unsubscribe: () => void;
  /** The PeerAuthentications in effect; undefined when there are none (the common case). */
  private peerAuthn: PeerAuthentications | undefined;

  constructor(
    private readonly store: ConfigStore,
    private readonly options: RegistryOptions = {},
  ) {
    this.unsubscribe = store.subscribe((batch) => this.onBatch(batch));
    // The initial load is generated rather than listed: a 100k-entry store would otherwise
    // keep 100k event objects alive (and copied by the GC) for the length of the load. Services
    // and rules first, then workloads, each pass reading only its kinds.
    this.peerAuthn = this.loadPeerAuthentications();
    const revision = store.revision;
    const added = (kinds: readonly ResourceKind[]): Iterable<ConfigEvent> => ({
      *[Symbol.iterator]() {
        for (const kind of kinds) for (const [key, resource] of store.entries(kind)) yield { type: 'added', key, resource, revision };
      },
    });
    if (store.size > 0) this.apply(added(['Service', 'ServiceEntry', 'DestinationRule']), added(['WorkloadEntry']));
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  onChange(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  cluster(name: string): ClusterModel | undefined {
    return this.clusters.get(name);
  }

  clusterNames(): string[] {
    return [...this.clusters.keys()].sort();
  }

  /** The PeerAuthentication policies endpoints are encoded against; undefined when there are none. */
  get peerAuthentications(): PeerAuthentications | undefined {
    return this.peerAuthn;
  }

  get workloadCount(): number {
    return this.workloads.size;
  }

  /** Every endpoint of a cluster, unsorted (ordering is the EDS layer's job). */
  endpointsOf(name: string): Endpoint[] {
    const c = this.clusters.get(name);
    if (!c) return [];
    const out: Endpoint[] = [];
    const svc = c.service;
    if (svc.selector) {
      for (const w of this.select(svc.namespace, svc.selector)) {
        const ep = this.endpointFor(c, w);
        if (ep) out.push(ep);
      }
    }
    for (const w of svc.inline) {
      const ep = this.endpointFor(c, w);
      if (ep) out.push(ep);
    }
    return out;
  }

  private onBatch(batch: ConfigBatch): void {
    const delta = this.apply(batch);
    if (delta.rebuilt.size + delta.removed.size + delta.endpoints.size + delta.reencode.size === 0) return;
    for (const l of this.listeners) l(delta);
  }

  /**
   * Applies a batch: service and rule changes first (cluster rebuilds), then workload changes as
   * endpoint deltas of the clusters that were not rebuilt anyway. `workloadEvents` is where the
   * second pass reads (the same batch unless the caller has them apart).
   */
  private apply(batch: Iterable<ConfigEvent>, workloadEvents: Iterable<ConfigEvent> = batch): RegistryDelta {
    const delta: RegistryDelta = { rebuilt: new Set(), removed: new Set(), endpoints: new Map(), reencode: new Map() };
    const servicesToRebuild = new Set<string>();
    for (const ev of batch) {
      const r = ev.resource;
      const deleted = ev.type === 'deleted';
      if (r.kind === 'Service' || r.kind === 'ServiceEntry') this.applyService(r, deleted, servicesToRebuild);
      else if (r.kind === 'DestinationRule') this.applyDestinationRule(r, deleted, ev.previous as DestinationRule | undefined, servicesToRebuild);
    }
    for (const key of servicesToRebuild) this.rebuildServiceClusters(key, delta);
    for (const ev of workloadEvents) {
      if (ev.resource.kind === 'WorkloadEntry') this.applyWorkload(ev.key, ev.resource, ev.type === 'deleted', delta);
    }
    let peerNamespaces: Set<string> | undefined;
    for (const ev of batch) if (ev.resource.kind === 'PeerAuthentication') (peerNamespaces ??= new Set()).add(ev.resource.metadata.namespace);
    if (peerNamespaces) this.applyPeerAuthentications(peerNamespaces, delta);
    return delta;
  }

  /** The store's PeerAuthentications with their creation times, which decide between policies. */
  private loadPeerAuthentications(): PeerAuthentications | undefined {
    const stamped = this.store.listStamped('PeerAuthentication');
    return PeerAuthentications.build(
      stamped.map((r: PeerAuthentication) => ({ resource: r, created: r.metadata.creationTimestamp ?? '' })),
      ROOT_NAMESPACE,
    );
  }

  /**
   * PeerAuthentications changed in `namespaces`: the endpoints whose mTLS turns on or off are
   * listed for re-encoding (istiod's EDS mTLS checker). Only `istio` endpoints of clusters whose
   * DestinationRule sets no TLS mode can change, and only in the namespaces the change reaches.
   */
  private applyPeerAuthentications(namespaces: ReadonlySet<string>, delta: RegistryDelta): void {
    const before = this.peerAuthn;
    const after = (this.peerAuthn = this.loadPeerAuthentications());
    for (const c of this.clusters.values()) {
      if (c.policy.tlsMode !== undefined || delta.rebuilt.has(c.name)) continue;
      if (!namespaceAffected(namespaces, ROOT_NAMESPACE, c.service.namespace)) continue;
      for (const ep of this.endpointsOf(c.name)) {
        const w = ep.workload;
        if (w.tlsMode !== TLS_MODE_ISTIO) continue;
        const labels = () => w.priorityLabels;
        const was = before?.disables(w.namespace, labels, ep.port) ?? false;
        const now = after?.disables(w.namespace, labels, ep.port) ?? false;
        if (was === now) continue;
        let keys = delta.reencode.get(c.name);
        if (!keys) delta.reencode.set(c.name, (keys = new Set()));
        keys.add(ep.key);
      }
    }
  }

  private applyWorkload(key: string, we: WorkloadEntry, deleted: boolean, delta: RegistryDelta): void {
    const old = this.workloads.get(key);
    const next = deleted ? undefined : workloadFromEntry(we, this.options.clusterId, key);
    if (old) this.unindexWorkload(old);
    if (next) {
      this.workloads.set(key, next);
      this.indexWorkload(next);
    } else {
      this.workloads.delete(key);
    }
    // Every cluster rebuilt (the initial load, a mesh-wide rule change): rebuilds read the index.
    if (delta.rebuilt.size === this.clusters.size) return;
    const candidates = new Set<string>();
    if (old) this.candidateServices(old, candidates);
    if (next) this.candidateServices(next, candidates);
    for (const svcKey of candidates) {
      for (const name of this.clustersByService.get(svcKey) ?? []) {
        // Rebuilt clusters get all their endpoints afresh; a delta would be thrown away.
        if (delta.rebuilt.has(name)) continue;
        const c = this.clusters.get(name)!;
        const was = old && this.isMember(c, old);
        const ep = next && this.isMember(c, next) ? this.endpointFor(c, next) : undefined;
        if (!ep && !was) continue;
        let d = delta.endpoints.get(name);
        if (!d) delta.endpoints.set(name, (d = { upserts: new Map(), removes: new Set() }));
        if (ep) {
          d.upserts.set(key, ep);
          d.removes.delete(key);
        } else {
          d.upserts.delete(key);
          d.removes.add(key);
        }
      }
    }
  }

  private applyService(r: KubeService | ServiceEntry, deleted: boolean, rebuild: Set<string>): void {
    const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
    const old = this.services.get(key);
    if (old) this.unindexService(old);
    const next = deleted ? undefined : r.kind === 'Service' ? serviceFromKube(r) : serviceFromEntry(r);
    if (next) {
      this.services.set(key, next);
      this.indexService(next);
    } else {
      this.services.delete(key);
    }
    rebuild.add(key);
  }

  private applyDestinationRule(
    dr: DestinationRule,
    deleted: boolean,
    previous: DestinationRule | undefined,
    rebuild: Set<string>,
  ): void {
    const key = `DestinationRule/${dr.metadata.namespace}/${dr.metadata.name}`;
    const old = this.destinationRules.get(key);
    if (old) this.unindexRule(key, ruleHost(old));
    if (deleted) this.destinationRules.delete(key);
    else {
      this.destinationRules.set(key, dr);
      this.indexRule(key, ruleHost(dr));
    }
    const patterns = new Set([ruleHost(dr)]);
    if (previous) patterns.add(ruleHost(previous));
    for (const pattern of patterns) {
      if (!pattern.includes('*')) {
        for (const svcKey of this.servicesByHost.get(pattern) ?? []) rebuild.add(svcKey);
        continue;
      }
      for (const svc of this.services.values()) if (svc.hosts.some((h) => hostMatches(pattern, h))) rebuild.add(svc.key);
    }
  }

  private indexRule(key: string, pattern: string): void {
    if (pattern.includes('*')) this.wildcardRules.add(key);
    else addTo(this.rulesByHost, pattern, key);
  }

  private unindexRule(key: string, pattern: string): void {
    if (pattern.includes('*')) this.wildcardRules.delete(key);
    else removeFrom(this.rulesByHost, pattern, key);
  }

  /** Rules that may apply to `host`: those naming it exactly, and the wildcard ones. */
  private rulesFor(host: string): DestinationRule[] {
    const out: DestinationRule[] = [];
    for (const k of this.rulesByHost.get(host) ?? []) out.push(this.destinationRules.get(k)!);
    for (const k of this.wildcardRules) out.push(this.destinationRules.get(k)!);
    return out;
  }

  private rebuildServiceClusters(svcKey: string, delta: RegistryDelta): void {
    const before = new Map<string, ClusterModel>();
    for (const name of this.clustersByService.get(svcKey) ?? []) {
      before.set(name, this.clusters.get(name)!);
      this.clusters.delete(name);
    }
    this.clustersByService.delete(svcKey);
    const svc = this.services.get(svcKey);
    const names: string[] = [];
    if (svc) {
      for (const host of svc.hosts) {
        const dr = selectDestinationRule(this.rulesFor(host), host, svc.namespace);
        for (const port of svc.ports) {
          const subsets = [{ name: '', labels: undefined as Labels | undefined }, ...(dr?.spec.subsets ?? [])];
          for (const s of subsets) {
            const name = clusterName(port.number, s.name, host);
            // Two services claiming one host: the first one (in key order) keeps the cluster.
            if (this.clusters.has(name)) continue;
            this.clusters.set(name, {
              name,
              host,
              service: svc,
              port,
              subset: s.name,
              subsetLabels: s.labels,
              policy: clusterLbPolicy(dr, port.number, s.name, this.options.meshLocalityLb),
            });
            names.push(name);
            delta.rebuilt.add(name);
            delta.removed.delete(name);
          }
        }
      }
      this.clustersByService.set(svcKey, names);
    }
    for (const name of before.keys()) if (!this.clusters.has(name)) delta.removed.add(name);
  }

  private isMember(c: ClusterModel, w: Workload): boolean {
    const svc = c.service;
    if (!svc.selector || w.namespace !== svc.namespace) return false;
    if (!selectorMatches(svc.selector, w.labels)) return false;
    return !c.subsetLabels || selectorMatches(c.subsetLabels, w.labels);
  }

  private endpointFor(c: ClusterModel, w: Workload): Endpoint | undefined {
    if (c.subsetLabels && !selectorMatches(c.subsetLabels, w.labels)) return undefined;
    if (!w.address) return undefined;
    const port = endpointPort(c.service, c.port, w);
    if (port === undefined) return undefined;
    return new Endpoint(w, port);
  }

  /** Workloads in `ns` whose labels contain `selector`. */
  private select(ns: string, selector: Labels): Iterable<Workload> {
    // serviceFromKube/serviceFromEntry never produce an empty selector (it selects nothing).
    if (isEmpty(selector)) return [];
    const idx = this.labelIndex.get(ns);
    if (!idx) return [];
    let smallest: Set<Workload> | undefined;
    let pairs = 0;
    for (const k in selector) {
      const s = idx.get(k)?.get(selector[k]!);
      if (!s) return [];
      if (!smallest || s.size < smallest.size) smallest = s;
      pairs++;
    }
    if (pairs === 1) return smallest!;
    const out: Workload[] = [];
    for (const w of smallest!) if (selectorMatches(selector, w.labels)) out.push(w);
    return out;
  }

  private indexWorkload(w: Workload): void {
    let idx = this.labelIndex.get(w.namespace);
    if (!idx) this.labelIndex.set(w.namespace, (idx = new Map()));
    for (const k in w.labels) {
      let values = idx.get(k);
      if (!values) idx.set(k, (values = new Map()));
      const v = w.labels[k]!;
      let s = values.get(v);
      if (!s) values.set(v, (s = new Set()));
      s.add(w);
    }
  }

  private unindexWorkload(w: Workload): void {
    const idx = this.labelIndex.get(w.namespace);
    if (!idx) return;
    for (const k in w.labels) {
      const values = idx.get(k);
      const s = values?.get(w.labels[k]!);
      if (!s) continue;
      s.delete(w);
      if (s.size > 0) continue;
      values!.delete(w.labels[k]!);
      if (values!.size === 0) idx.delete(k);
    }
    if (idx.size === 0) this.labelIndex.delete(w.namespace);
  }

  private static selectorAnchor(selector: Labels): string {
    const k = Object.keys(selector).sort()[0]!;
    return `${k}=${selector[k]}`;
  }

  private indexService(svc: ServiceModel): void {
    for (const h of svc.hosts) addTo(this.servicesByHost, h, svc.key);
    if (!svc.selector) return;
    let idx = this.selectorIndex.get(svc.namespace);
    if (!idx) this.selectorIndex.set(svc.namespace, (idx = new Map()));
    const anchor = Registry.selectorAnchor(svc.selector);
    let s = idx.get(anchor);
    if (!s) idx.set(anchor, (s = new Set()));
    s.add(svc.key);
  }

  private unindexService(svc: ServiceModel): void {
    for (const h of svc.hosts) removeFrom(this.servicesByHost, h, svc.key);
    if (!svc.selector) return;
    this.selectorIndex.get(svc.namespace)?.get(Registry.selectorAnchor(svc.selector))?.delete(svc.key);
  }

  /** Services whose selector could match `w`: those anchored on one of its label pairs. */
  private candidateServices(w: Workload, out: Set<string>): void {
    const idx = this.selectorIndex.get(w.namespace);
    if (!idx) return;
    for (const k in w.labels) {
      const s = idx.get(`${k}=${w.labels[k]}`);
      if (s) for (const key of s) out.add(key);
    }
  }
}

function addTo(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
