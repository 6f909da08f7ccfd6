// Network gateways found in the registry, as istiod's Kubernetes controller finds them: a Service
// labeled topology.istio.io/network (its gateway port from networking.istio.io/gatewayPort,
// default 15443, which the Service must expose), or one that meshNetworks names by
// registryServiceName in a network listing this registry in fromRegistry. Its addresses are the
// LoadBalancer ingress IPs and spec.externalIPs. Together with meshNetworks' addresses they are
// the gateways split horizon uses, so deleting such a Service takes its gateway away.
import type { ConfigStore } from '../config/store.js';
import type { KubeService } from '../config/resources.js';
import type { EdsCache } from '../eds/eds-cache.js';
import { DEFAULT_CLUSTER_ID, LABEL_NETWORK } from './labels.js';
import { NetworkGateways, type MeshNetworks, type NetworkGateway } from './mesh-networks.js';

export const LABEL_GATEWAY_PORT = 'networking.istio.io/gatewayPort';
export const DEFAULT_GATEWAY_PORT = 15443;

/** LoadBalancer ingress addresses (when of that type), then externalIPs (any type). */
function externalAddresses(svc: KubeService): string[] {
  const out: string[] = [];
  if (svc.spec.type === 'LoadBalancer') {
    const ingress = (svc as { status?: { loadBalancer?: { ingress?: { ip?: unknown; hostname?: unknown }[] } } }).status?.loadBalancer?.ingress;
    for (const i of Array.isArray(ingress) ? ingress : []) {
      const a = typeof i?.ip === 'string' && i.ip ? i.ip : typeof i?.hostname === 'string' ? i.hostname : '';
      if (a) out.push(a);
    }
  }
  const ext = (svc.spec as { externalIPs?: unknown }).externalIPs;
  if (Array.isArray(ext)) for (const a of ext) if (typeof a === 'string' && a) out.push(a);
  return out;
}

/** The gateways (network and port, no address yet) a Service stands for. */
function gatewayTemplates(svc: KubeService, meshNetworks: MeshNetworks | undefined, clusterId: string): { network: string; port: number }[] {
  const network = svc.metadata.labels?.[LABEL_NETWORK];
  if (network) {
    const label = svc.metadata.labels?.[LABEL_GATEWAY_PORT];
    const parsed = label !== undefined && /^\d+$/.test(label) ? Number(label) : DEFAULT_GATEWAY_PORT;
    // A sidecar can only use the mTLS port; a Service not exposing it is no gateway for one.
    return (svc.spec.ports ?? []).some((p) => p.port === parsed) ? [{ network, port: parsed }] : [];
  }
  const host = `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`;
  const out: { network: string; port: number }[] = [];
  for (const [name, nw] of Object.entries(meshNetworks?.networks ?? {})) {
    if (!(nw.endpoints ?? []).some((e) => e.fromRegistry === clusterId)) continue;
    for (const g of nw.gateways ?? []) if (g.registryServiceName === host) out.push({ network: name, port: g.port });
  }
  return out;
}

export function serviceGateways(svc: KubeService, meshNetworks: MeshNetworks | undefined, clusterId = DEFAULT_CLUSTER_ID): NetworkGateway[] {
  const templates = gatewayTemplates(svc, meshNetworks, clusterId);
  if (templates.length === 0) return [];
  const out: NetworkGateway[] = [];
  for (const address of externalAddresses(svc)) for (const t of templates) out.push({ ...t, cluster: clusterId, address });
  return out;
}

/** meshNetworks' addresses plus every Service's gateways. */
export function meshGateways(store: ConfigStore, meshNetworks: MeshNetworks | undefined, clusterId = DEFAULT_CLUSTER_ID): NetworkGateways {
  const fromServices: NetworkGateway[] = [];
  for (const [, svc] of store.entries('Service')) fromServices.push(...serviceGateways(svc, meshNetworks, clusterId));
  const fromMesh = NetworkGateways.fromMeshNetworks(meshNetworks).all;
  return fromServices.length === 0 && fromMesh.length === 0 ? NetworkGateways.NONE : new NetworkGateways([...fromMesh, ...fromServices]);
}

/** Keeps `eds`'s gateways equal to meshGateways(store) from now on; returns the unsubscribe. */
export function watchNetworkGateways(store: ConfigStore, eds: EdsCache, meshNetworks: MeshNetworks | undefined, clusterId = DEFAULT_CLUSTER_ID): () => void {
  eds.setNetworkGateways(meshGateways(store, meshNetworks, clusterId));
  return store.subscribe((batch) => {
    // Only a Service can move a gateway; the recompute is a scan of the Services.
    if (batch.some((e) => e.resource.kind === 'Service')) eds.setNetworkGateways(meshGateways(store, meshNetworks, clusterId));
  });
}
