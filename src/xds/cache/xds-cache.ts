// The resource side of the server (go-control-plane style: the server knows the protocol, the
// cache knows the resources). Clusters, listeners and routes are built from the registry and
// encoded once per version; endpoints come from the EdsCache's shared views. Every change is
// reported as the names it touched per type, and bumps that type's version.
import type { EdsCache } from '../../eds/eds-cache.js';
import type { ClusterModel, Registry, RegistryDelta } from '../../model/registry.js';
import { DOMAIN_SUFFIX, UNSPECIFIED_IP, parseClusterName } from '../../model/service.js';
import { encode, TYPE_URL } from '../../proto/index.js';
import type { ProxyNode } from '../stream/node.js';
import { buildCluster, buildProxylessCluster } from '../resources/cluster.js';
import { emptyEndpointResource, endpointResource, renamedEndpointResource } from '../resources/endpoint.js';
import { contentVersion } from '../resources/hash.js';
import { buildListener, buildProxylessListener } from '../resources/listener.js';
import { buildProxylessRoute, hashPolicyOf } from '../resources/proxyless-route.js';
import type { HashPolicy } from '../../proto/messages.js';
import { isHttpOrSniffed } from '../../model/protocol.js';
import { buildRoute, routeDomains } from '../resources/route.js';
import type { XdsType } from '../types.js';
import { EncodedResource } from '../stream/wire.js';

export interface ResourceChange {
  /** Per type, the names whose resource changed, appeared or disappeared. */
  readonly types: ReadonlyMap<XdsType, ReadonlySet<string>>;
  /** performance.now() when the change happened (start of convergence measurements). */
  readonly at: number;
}

export type ResourceChangeListener = (change: ResourceChange) => void;

function encoded(typeUrl: string, msgType: string, name: string, msg: object): EncodedResource {
  const bytes = encode(msgType, msg);
  return new EncodedResource(typeUrl, name, contentVersion(bytes), bytes);
}

export class XdsCache {
  private readonly clusters = new Map<string, EncodedResource>();
  private readonly listeners = new Map<string, EncodedResource>();
  private readonly routes = new Map<string, EncodedResource>();
  /** Listeners under a short name (`svc.ns:port`), made on request; dropped on any LDS change. */
  private readonly aliases = new Map<string, EncodedResource | null>();
  /**
   * The proxyless generator's flavour (nodes with `GENERATOR: grpc`): clusters and canonical
   * listeners by name; routes by `outbound|<port>||<host>` from their sources, encoded per proxy
   * DNS domain on request (dropped on any RDS change), since the short names differ by namespace.
   */
  private readonly proxylessClusters = new Map<string, EncodedResource>();
  private readonly proxylessListeners = new Map<string, EncodedResource>();
  private readonly proxylessRouteSources = new Map<string, ProxylessRouteSource>();
  private readonly proxylessRoutes = new Map<string, EncodedResource>();
  /** Canonical listener name `<host>:<port>` -> its cluster `outbound|<port>||<host>`. */
  private readonly listenerClusters = new Map<string, string>();
  /** Service port cluster -> undefined-subset names served from it (see undefinedSubset). */
  private readonly subsetAliases = new Map<string, Set<string>>();
  private readonly sortedNames = new Map<XdsType, string[]>();
  private readonly versions: Record<XdsType, number> = { cds: 1, eds: 1, lds: 1, rds: 1 };
  /** `versions` as version_info strings, made once per bump rather than once per stream and push. */
  private readonly versionStrings: Record<XdsType, string> = { cds: '1', eds: '1', lds: '1', rds: '1' };
  private readonly subscribers = new Set<ResourceChangeListener>();
  private readonly unsubscribe: (() => void)[];
  private pending: Map<XdsType, Set<string>> | undefined;
  private pendingAt = 0;

  constructor(
    private readonly registry: Registry,
    readonly eds: EdsCache,
  ) {
    this.applyClusters(registry.clusterNames(), new Map());
    this.unsubscribe = [registry.onChange((d) => this.onRegistry(d)), eds.onChange((c) => this.onEds(c))];
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.subscribers.clear();
  }

  onChange(l: ResourceChangeListener): () => void {
    this.subscribers.add(l);
    return () => this.subscribers.delete(l);
  }

  /** The version of a type: bumped whenever any of its resources changes. */
  version(t: XdsType): number {
    return this.versions[t];
  }

  /** The version of a type as a response's version_info (String(version(t))). */
  versionInfo(t: XdsType): string {
    return this.versionStrings[t];
  }

  /** Every name of a full-state type (what a wildcard subscription gets), sorted. */
  names(t: XdsType, proxy?: ProxyNode): readonly string[] {
    // istiod's proxyless generator builds only the clusters asked for by name: no wildcard CDS.
    if (t === 'cds' && proxy?.proxyless) return NO_NAMES;
    let n = this.sortedNames.get(t);
    if (!n) {
      const src = t === 'cds' ? this.clusters : t === 'lds' ? this.listeners : t === 'rds' ? this.routes : undefined;
      n = src ? [...src.keys()].sort() : this.eds.clusterNames();
      this.sortedNames.set(t, n);
    }
    return n;
  }

  /** One resource as `proxy` sees it, or undefined when it does not exist (never for EDS with a proxy). */
  get(t: XdsType, name: string, proxy: ProxyNode | undefined): EncodedResource | undefined {
    switch (t) {
      case 'cds':
        return (proxy?.proxyless ? this.proxylessClusters : this.clusters).get(name);
      case 'eds': {
        if (!proxy) return undefined;
        // istiod answers every EDS name; an unknown cluster gets an empty assignment at once.
        const v = this.eds.view(name, proxy.view);
        if (v) return endpointResource(v);
        return this.undefinedSubset(name, proxy) ?? emptyEndpointResource(name);
      }
      case 'lds':
        if (proxy?.proxyless) return this.proxylessListeners.get(name) ?? this.alias(name, proxy.namespace, true);
        return this.listeners.get(name) ?? this.alias(name, proxy?.namespace ?? '', false);
      case 'rds':
        return proxy?.proxyless ? this.proxylessRoute(name, proxy.dnsDomain) : this.routes.get(name);
    }
  }

  /**
   * A subset name the DestinationRule does not define (`outbound|80|v9|host`), of a service port
   * that exists: istiod's EDS builder finds no subset labels and filters nothing, so the proxy
   * gets the service port's endpoints under the name it asked for. Remembered, so a change of
   * the service port's cluster is pushed under this name too.
   */
  private undefinedSubset(name: string, proxy: ProxyNode): EncodedResource | undefined {
    const parsed = parseClusterName(name);
    if (!parsed || parsed.subset === '') return undefined;
    const base = `outbound|${parsed.port}||${parsed.host}`;
    const v = this.eds.view(base, proxy.view);
    if (!v) return undefined;
    let names = this.subsetAliases.get(base);
    if (!names) {
      if (this.subsetAliases.size >= 10_000) this.subsetAliases.clear();
      this.subsetAliases.set(base, (names = new Set()));
    }
    if (names.size < 1_000) names.add(name);
    return renamedEndpointResource(v, name);
  }

  /**
   * A listener asked for by a shorter name of a Kubernetes service (`svc.ns.svc:port`,
   * `svc.ns:port`, or `svc:port` in the proxy's namespace): same content under the asked name,
   * as istiod resolves them, routing through the canonical route.
   */
  private alias(name: string, namespace: string, proxyless: boolean): EncodedResource | undefined {
    const colon = name.lastIndexOf(':');
    if (colon <= 0) return undefined;
    const host = name.slice(0, colon);
    const port = name.slice(colon + 1);
    const dots = host.split('.').length - 1;
    let canonical: string;
    if (dots === 0 && namespace) canonical = `${host}.${namespace}.svc.${DOMAIN_SUFFIX}:${port}`;
    // istiod's proxyless generator (tryFindFQDN) expands `svc.ns` and `svc.ns.svc` only in the proxy's own namespace.
    else if (dots === 1 && (!proxyless || host.endsWith(`.${namespace}`))) canonical = `${host}.svc.${DOMAIN_SUFFIX}:${port}`;
    else if (dots === 2 && host.endsWith('.svc') && (!proxyless || host.endsWith(`.${namespace}.svc`))) canonical = `${host}.${DOMAIN_SUFFIX}:${port}`;
    else return undefined;
    const key = `${proxyless ? 'G' : 'S'}\u0000${name}\u0000${canonical}`;
    const hit = this.aliases.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const source = this.proxylessRouteSources.get(this.listenerClusters.get(canonical) ?? '');
    const made = !this.listeners.has(canonical)
      ? null
      : proxyless && source
        ? encoded(TYPE_URL.LISTENER, 'Listener', name, buildProxylessListener(name, source.cluster, source.address, source.port))
        : encoded(TYPE_URL.LISTENER, 'Listener', name, buildListener(name, canonical));
    if (this.aliases.size > 10_000) this.aliases.clear();
    this.aliases.set(key, made);
    return made ?? undefined;
  }

  /**
   * istiod's grpcgen buildHTTPRoute answers any name that parses as a cluster key with a host and a
   * port: the service's virtual host (also under a subset's name: it routes to the default cluster),
   * or no virtual host at all for a service it does not know.
   */
  private proxylessRoute(name: string, dnsDomain: string): EncodedResource | undefined {
    const parsed = parseClusterName(name);
    if (!parsed || !parsed.host || parsed.port === 0) return undefined;
    const source = this.proxylessRouteSources.get(parsed.subset ? `outbound|${parsed.port}||${parsed.host}` : name);
    const key = `${name}\u0000${source ? dnsDomain : ''}`;
    let r = this.proxylessRoutes.get(key);
    if (!r) {
      const route = source?.http ? buildProxylessRoute(source.cluster, source.host, source.port, source.address, dnsDomain, name, source.hash) : { name };
      r = encoded(TYPE_URL.ROUTE, 'RouteConfiguration', name, route);
      if (this.proxylessRoutes.size > 10_000) this.proxylessRoutes.clear();
      this.proxylessRoutes.set(key, r);
    }
    return r;
  }

  private onRegistry(d: RegistryDelta): void {
    const names = [...d.rebuilt, ...d.removed];
    if (names.length === 0) return;
    this.applyClusters(names, this.pendingChanges());
  }

  private onEds(clusters: ReadonlySet<string>): void {
    const pending = this.pendingChanges();
    let s = pending.get('eds');
    if (!s) pending.set('eds', (s = new Set()));
    for (const c of clusters) {
      s.add(c);
      for (const alias of this.subsetAliases.get(c) ?? NO_NAMES) s.add(alias);
    }
  }

  /**
   * The EdsCache and the registry report one config batch separately; their changes are
   * gathered and announced together (a microtask later, before any I/O), so a batch that touches
   * clusters and endpoints is one change, not an endpoint-only one followed by a full one.
   */
  private pendingChanges(): Map<XdsType, Set<string>> {
    if (!this.pending) {
      this.pending = new Map();
      this.pendingAt = performance.now();
      queueMicrotask(() => this.emitPending());
    }
    return this.pending;
  }

  private emitPending(): void {
    const changed = this.pending;
    this.pending = undefined;
    if (!changed) return;
    for (const [t, set] of changed) {
      if (set.size === 0) {
        changed.delete(t);
        continue;
      }
      this.versionStrings[t] = String(++this.versions[t]);
      this.sortedNames.delete(t);
      if (t === 'lds') this.aliases.clear();
      if (t === 'rds') this.proxylessRoutes.clear();
    }
    if (changed.size === 0) return;
    const change: ResourceChange = { types: changed, at: this.pendingAt };
    for (const s of this.subscribers) s(change);
  }

  private applyClusters(names: readonly string[], changed: Map<XdsType, Set<string>>): void {
    const mark = (t: XdsType, n: string) => {
      this.sortedNames.delete(t);
      let s = changed.get(t);
      if (!s) changed.set(t, (s = new Set()));
      s.add(n);
    };
    for (const name of names) {
      const model = this.registry.cluster(name);
      const sidecarChanged = put(this.clusters, name, model && encoded(TYPE_URL.CLUSTER, 'Cluster', name, buildCluster(model, this.eds.options)));
      if (put(this.proxylessClusters, name, model && encoded(TYPE_URL.CLUSTER, 'Cluster', name, buildProxylessCluster(model))) || sidecarChanged) mark('cds', name);
      const parsed = parseClusterName(name);
      if (!parsed) continue;
      if (parsed.subset !== '') {
        // A proxyless client may ask for a route by a subset's name: offer it whenever the cluster is rebuilt.
        mark('rds', name);
        continue;
      }
      const lname = `${parsed.host}:${parsed.port}`;
      const svc = model ?? undefined;
      const source = svc && proxylessRouteSource(svc);
      const listenerChanged = put(this.listeners, lname, svc && encoded(TYPE_URL.LISTENER, 'Listener', lname, buildListener(lname, lname)));
      const proxylessListener = source && encoded(TYPE_URL.LISTENER, 'Listener', lname, buildProxylessListener(lname, name, source.address, source.port));
      if (put(this.proxylessListeners, lname, proxylessListener) || listenerChanged) mark('lds', lname);
      if (svc) this.listenerClusters.set(lname, name);
      else this.listenerClusters.delete(lname);
      if (put(this.routes, lname, svc && routeFor(lname, svc))) mark('rds', lname);
      const before = this.proxylessRouteSources.get(name);
      if (source) this.proxylessRouteSources.set(name, source);
      else this.proxylessRouteSources.delete(name);
      if (!sameSource(before, source)) mark('rds', name);
    }
  }
}

const NO_NAMES: readonly string[] = Object.freeze([]);

/** What a proxyless route of a subset-less cluster is built from, besides the proxy's DNS domain. */
interface ProxylessRouteSource {
  readonly cluster: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** istiod builds a virtual host only for an HTTP (or sniffed) port; a TCP one gets none. */
  readonly http: boolean;
  /** From the rule's consistentHash for the port (hashForService). */
  readonly hash: HashPolicy | undefined;
}

function proxylessRouteSource(model: ClusterModel): ProxylessRouteSource {
  return { cluster: model.name, host: model.host, port: model.port.number, address: model.service.address ?? UNSPECIFIED_IP, http: isHttpOrSniffed(model.port.protocol), hash: hashPolicyOf(model.policy.loadBalancer?.consistentHash) };
}

function sameSource(a: ProxylessRouteSource | undefined, b: ProxylessRouteSource | undefined): boolean {
  if (!a || !b) return a === b;
  return a.cluster === b.cluster && a.host === b.host && a.port === b.port && a.address === b.address && a.http === b.http && JSON.stringify(a.hash) === JSON.stringify(b.hash);
}

function routeFor(name: string, model: ClusterModel): EncodedResource {
  const domains = routeDomains(model.host, model.port.number, model.service.source === 'Service');
  return encoded(TYPE_URL.ROUTE, 'RouteConfiguration', name, buildRoute(name, domains, model.name));
}

/** Stores or deletes; true when the stored version changed. */
function put(m: Map<string, EncodedResource>, name: string, r: EncodedResource | undefined): boolean {
  const old = m.get(name);
  if (!r) return m.delete(name);
  if (old && old.version === r.version) return false;
  m.set(name, r);
  return true;
}
