// Terse builders for test meshes.
import type {
  DestinationRule,
  KubeService,
  Resource,
  ServiceEntry,
  WorkloadEntry,
  WorkloadEntrySpec,
} from '../../src/config/resources.js';
import { ConfigStore } from '../../src/config/store.js';
import { EdsCache } from '../../src/eds/eds-cache.js';
import { proxyView, type ProxyInfo } from '../../src/eds/proxy.js';
import { parseLocality } from '../../src/model/locality.js';
import { Registry } from '../../src/model/registry.js';

export function we(
  name: string,
  spec: WorkloadEntrySpec,
  extra: { namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; healthy?: boolean } = {},
): WorkloadEntry {
  const annotations = { ...(extra.annotations ?? {}) };
  if (extra.healthy !== undefined) annotations['proxy.istio.io/health-checks-enabled'] = 'true';
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: { name, namespace: extra.namespace ?? 'pay', labels: extra.labels, annotations },
    spec,
    ...(extra.healthy !== undefined
      ? { status: { conditions: [{ type: 'Healthy', status: extra.healthy ? 'True' : 'False' }] } }
      : {}),
  };
}

export function svc(name: string, selector: Record<string, string>, ports: KubeService['spec']['ports'], namespace = 'pay'): KubeService {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector, ports } };
}

export function se(name: string, spec: ServiceEntry['spec'], namespace = 'pay'): ServiceEntry {
  return { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace }, spec };
}

export function dr(name: string, spec: DestinationRule['spec'], namespace = 'pay'): DestinationRule {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace }, spec };
}

export function mesh(resources: Resource[], opts: { sendUnhealthy?: boolean } = {}) {
  const store = new ConfigStore();
  store.commit(resources.map((resource) => ({ op: 'apply' as const, resource })));
  const registry = new Registry(store);
  const eds = new EdsCache(registry, opts);
  return { store, registry, eds };
}

export function proxy(locality: string, more: Partial<Omit<ProxyInfo, 'locality'>> = {}) {
  return proxyView({ ...more, locality: parseLocality(locality) });
}

/** A compact, readable summary of a view: `locality|priority|weight|addr:port*weight,...`. */
export function summarize(eds: EdsCache, cluster: string, p = proxy('')): string[] {
  const v = eds.view(cluster, p);
  if (!v) return ['<no cluster>'];
  return v.groups.map((g) => {
    const l = g.source.locality;
    const eps = g.endpoints
      .map((e) => `${e.endpoint.address}:${e.endpoint.port}${e.endpoint.weight !== 1 ? `*${e.endpoint.weight}` : ''}${e.endpoint.unhealthy ? '!' : ''}`)
      .join(',');
    return `${l.region}/${l.zone}/${l.subZone} p${g.priority} w${g.weight} [${eps}]`;
  });
}
