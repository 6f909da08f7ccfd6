// The EDS cache: per cluster, the encoded endpoint state and the views built from it. A view is
// built and encoded once per (cluster, view key) and shared by every proxy with that key; a
// registry change invalidates only the views of the clusters it touched.
import { assembleClusterLoadAssignment, clusterNameField } from '../encode/cla.js';
import { ClaTemplate } from '../encode/cla-template.js';
import type { ClusterModel, Registry, RegistryDelta } from '../model/registry.js';
import type { PeerAuthentications } from '../model/peer-authentication.js';
import { ClusterEndpoints, LocalityGroup, type ClusterEndpointsOptions, type EncodedEndpoint } from './cluster-endpoints.js';
import { NetworkGateways } from '../model/mesh-networks.js';
import { NetworkGroupCache, networkKey, networkLocalities, type NetworkEndpoint, type NetworkLocalityGroup } from './network-view.js';
import type { ProxyView } from './proxy.js';
import { computeView, viewKey } from './view.js';
import type { ViewGroup } from './view-group.js';

export interface EncodedView {
  readonly cluster: string;
  readonly key: string;
  /** Serialized envoy.config.endpoint.v3.ClusterLoadAssignment. */
  readonly bytes: Uint8Array;
  /** Bumped on every change of the cluster's endpoints or policy. */
  readonly clusterVersion: number;
  /** Registry endpoints and locality groups, or under split horizon the network's (network-view.ts). */
  readonly groups: readonly ViewGroup<EncodedEndpoint, LocalityGroup>[] | readonly ViewGroup<NetworkEndpoint, NetworkLocalityGroup>[];
}

interface ClusterState {
  model: ClusterModel;
  endpoints: ClusterEndpoints;
  nameField: Uint8Array;
  version: number;
  views: Map<string, EncodedView>;
  /** Views built since the last change, counted until there is a template. */
  builds: number;
  /** Built on the second view it suits after a change (see encode/cla-template.ts). */
  template: ClaTemplate | undefined;
  /** Split-horizon locality groups per network key, built on demand since the last change. */
  networks: Map<string, NetworkLocalityGroup[]> | undefined;
  /** Split-horizon localities kept across changes (a change re-splits its locality only); dropped with the gateways. */
  networkCache: NetworkGroupCache | undefined;
}

/** A view's groups as registry endpoints; for callers that never see split horizon (no gateways), e.g. reference encodings. */
export function registryGroups(v: EncodedView): readonly ViewGroup<EncodedEndpoint, LocalityGroup>[] {
  if (v.groups.some((g) => !(g.source instanceof LocalityGroup))) throw new Error(`${v.cluster}: a split-horizon view has gateway endpoints`);
  return v.groups as readonly ViewGroup<EncodedEndpoint, LocalityGroup>[];
}

export type EdsChangeListener = (clusters: ReadonlySet<string>) => void;

export const viewCounters = { viewBuilds: 0, viewHits: 0 };

export class EdsCache {
  private readonly clusters = new Map<string, ClusterState>();
  private readonly listeners = new Set<EdsChangeListener>();
  private readonly unsubscribe: () => void;
  /** What every cluster's endpoints are encoded against: the registry's PeerAuthentications now. */
  private readonly peerAuthn = (): PeerAuthentications | undefined => this.registry.peerAuthentications;
  private gateways: NetworkGateways = NetworkGateways.NONE;

  constructor(
    private readonly registry: Registry,
    readonly options: ClusterEndpointsOptions = {},
  ) {
    for (const name of registry.clusterNames()) this.rebuild(name);
    this.unsubscribe = registry.onChange((d) => this.onDelta(d));
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  /** Called with the clusters whose output may have changed. */
  onChange(listener: EdsChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get networkGateways(): NetworkGateways {
    return this.gateways;
  }

  /**
   * The mesh's network gateways (meshNetworks). A different set changes every view under split
   * horizon (and the weight scale of all), so every cluster is rebuilt and pushed.
   */
  setNetworkGateways(gateways: NetworkGateways): void {
    if (gateways.signature === this.gateways.signature) return;
    this.gateways = gateways;
    const changed = new Set<string>();
    for (const [name, s] of this.clusters) {
      bump(s);
      changed.add(name);
    }
    if (changed.size > 0) for (const l of this.listeners) l(changed);
  }

  has(cluster: string): boolean {
    return this.clusters.has(cluster);
  }

  clusterNames(): string[] {
    return [...this.clusters.keys()].sort();
  }

  version(cluster: string): number | undefined {
    return this.clusters.get(cluster)?.version;
  }

  endpointCount(cluster: string): number {
    return this.clusters.get(cluster)?.endpoints.endpointCount ?? 0;
  }

  /** The ClusterLoadAssignment `proxy` gets for `cluster`, or undefined for an unknown cluster. */
  view(cluster: string, proxy: ProxyView): EncodedView | undefined {
    const s = this.clusters.get(cluster);
    if (!s) return undefined;
    const nk = networkKey(this.gateways, proxy);
    const key = nk === undefined ? viewKey(s.model.policy, proxy) : `${nk}\u0002${viewKey(s.model.policy, proxy)}`;
    const hit = s.views.get(key);
    if (hit) {
      viewCounters.viewHits++;
      return hit;
    }
    const v = nk === undefined ? buildView(s, key, proxy) : buildNetworkView(s, key, proxy, this.networkGroups(s, nk, proxy));
    s.views.set(key, v);
    return v;
  }

  private networkGroups(s: ClusterState, nk: string, proxy: ProxyView): NetworkLocalityGroup[] {
    s.networks ??= new Map();
    let groups = s.networks.get(nk);
    if (groups === undefined) {
      if (s.networkCache?.gateways !== this.gateways) s.networkCache = new NetworkGroupCache(this.gateways);
      s.networks.set(nk, (groups = s.networkCache.groups(s.endpoints, nk, proxy)));
    }
    return groups;
  }

  /** Builds and encodes `proxy`'s view afresh, neither reading nor filling the cache (benchmarks, perf gate). */
  buildUncached(cluster: string, proxy: ProxyView): EncodedView | undefined {
    const s = this.clusters.get(cluster);
    if (!s) return undefined;
    const nk = networkKey(this.gateways, proxy);
    if (nk === undefined) return buildView(s, viewKey(s.model.policy, proxy), proxy);
    return buildNetworkView(s, `${nk}\u0002${viewKey(s.model.policy, proxy)}`, proxy, networkLocalities(s.endpoints, this.gateways, proxy));
  }

  private onDelta(d: RegistryDelta): void {
    const changed = new Set<string>();
    for (const name of d.removed) if (this.clusters.delete(name)) changed.add(name);
    for (const name of d.rebuilt) if (this.rebuild(name)) changed.add(name);
    for (const [name, delta] of d.endpoints) {
      const s = this.clusters.get(name);
      if (s && s.endpoints.apply(delta)) {
        bump(s);
        changed.add(name);
      }
    }
    // A PeerAuthentication change: only the endpoints whose mTLS it turned on or off.
    for (const [name, keys] of d.reencode) {
      const s = this.clusters.get(name);
      if (s && s.endpoints.reencode(keys)) {
        bump(s);
        changed.add(name);
      }
    }
    if (changed.size > 0) for (const l of this.listeners) l(changed);
  }

  private rebuild(name: string): boolean {
    const model = this.registry.cluster(name);
    if (!model) return this.clusters.delete(name);
    let s = this.clusters.get(name);
    if (!s) {
      s = { model, endpoints: new ClusterEndpoints(this.peerAuthn), nameField: clusterNameField(name), version: 0, views: new Map(), builds: 0, template: undefined, networks: undefined, networkCache: undefined };
      this.clusters.set(name, s);
    }
    const policyChanged = s.model !== model;
    s.model = model;
    const tlsChanged = s.endpoints.setRuleTlsMode(model.policy.tlsMode);
    const endpointsChanged = s.endpoints.reset(this.registry.endpointsOf(name)) || tlsChanged;
    if (s.version === 0 || policyChanged || endpointsChanged) {
      bump(s);
      return true;
    }
    return false;
  }
}

function bump(s: ClusterState): void {
  s.version++;
  s.views.clear();
  s.builds = 0;
  s.template = undefined;
  s.networks = undefined;
}

/**
 * Perf-gate test hook (docs/perf-gate.md): XDSIM_INJECT_VIEW_SLOWDOWN=0.15 makes every view build
 * spin 15% longer than it took, so the gate can be shown to catch a slowdown. Read once; unset, it
 * costs two always-false branches per build.
 */
const INJECTED_VIEW_SLOWDOWN = Math.max(0, Number(process.env['XDSIM_INJECT_VIEW_SLOWDOWN'] ?? '') || 0);

/**
 * The cluster's template, built now if these groups are the kind it serves and this is not the
 * first view since the change: a cluster that changes between every view (or has one view) would
 * pay for a template it never reuses.
 */
function templateFor(s: ClusterState, groups: readonly ViewGroup<EncodedEndpoint, LocalityGroup>[]): ClaTemplate | undefined {
  if (s.template === undefined) {
    if (s.builds++ === 0) return undefined;
    const localities = s.endpoints.localities();
    if (!ClaTemplate.suits(localities, groups)) return undefined;
    s.template = ClaTemplate.build(s.nameField, localities);
  }
  return s.template;
}

/** A view under split horizon: the locality rules run on the network's groups; no template (few views per network). */
function buildNetworkView(s: ClusterState, key: string, proxy: ProxyView, localities: readonly NetworkLocalityGroup[]): EncodedView {
  viewCounters.viewBuilds++;
  const groups = computeView<NetworkEndpoint, NetworkLocalityGroup>(localities, s.model.policy, proxy);
  return { cluster: s.model.name, key, bytes: assembleClusterLoadAssignment(s.nameField, groups), clusterVersion: s.version, groups };
}

function buildView(s: ClusterState, key: string, proxy: ProxyView): EncodedView {
  const t0 = INJECTED_VIEW_SLOWDOWN > 0 ? performance.now() : 0;
  viewCounters.viewBuilds++;
  const groups = computeView<EncodedEndpoint, LocalityGroup>(s.endpoints.localities(), s.model.policy, proxy);
  const view: EncodedView = {
    cluster: s.model.name,
    key,
    bytes: templateFor(s, groups)?.render(groups) ?? assembleClusterLoadAssignment(s.nameField, groups),
    clusterVersion: s.version,
    groups,
  };
  if (INJECTED_VIEW_SLOWDOWN > 0) {
    const t1 = performance.now();
    const until = t1 + (t1 - t0) * INJECTED_VIEW_SLOWDOWN;
    while (performance.now() < until);
  }
  return view;
}
