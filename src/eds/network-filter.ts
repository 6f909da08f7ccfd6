// Split-horizon EDS (istiod's EndpointsByNetworkFilter, sidecar flavour): a proxy gets the
// endpoints it can reach directly, and an endpoint on another network that has gateways is
// replaced by those gateways, weighted by the endpoint weight behind them, per locality.
// Pure: the caller encodes the result (src/eds/network-view.ts) and runs the locality rules on it.
import { compareGateways, type NetworkGateway, type NetworkGateways } from '../model/mesh-networks.js';
import { MAX_UINT32, type LocalityInput, type WeightedEndpoint } from './view-group.js';

export interface NetworkedEndpoint extends WeightedEndpoint {
  readonly network: string;
  readonly clusterId: string;
}

export interface SplitHorizonProxy {
  readonly network: string;
  /** ISTIO_META_REQUESTED_NETWORK_VIEW: only endpoints on these networks (and on none) are seen. */
  readonly networkView?: readonly string[] | undefined;
}

export type SplitEntry<E> =
  | { readonly endpoint: E; readonly gateway?: undefined; readonly weight: number }
  | { readonly endpoint?: undefined; readonly gateway: NetworkGateway; readonly weight: number };

export interface SplitLocality<E, G> {
  readonly source: G;
  readonly entries: readonly SplitEntry<E>[];
  /** Sum of the entries' weights (uint32, wrapping as istiod's does); undefined when none are left. */
  readonly weight: number | undefined;
}

/** Whether this proxy's view needs the filter at all; otherwise the plain view applies. */
export function splitHorizonApplies(gateways: NetworkGateways, proxy: SplitHorizonProxy): boolean {
  return gateways.enabled || (proxy.networkView !== undefined && proxy.networkView.length > 0);
}

/**
 * `mtls(e)`: whether e's LbEndpoint carries tlsMode istio (the DestinationRule, the entry and
 * PeerAuthentication decide); a foreign endpoint without it cannot go through a gateway, which
 * routes by the SNI of mTLS, so it is left out.
 */
export function splitHorizon<E extends NetworkedEndpoint, G extends LocalityInput<E>>(
  localities: readonly G[],
  gateways: NetworkGateways,
  proxy: SplitHorizonProxy,
  mtls: (e: E) => boolean,
): SplitLocality<E, G>[] {
  const view = proxy.networkView?.length ? new Set(['', ...proxy.networkView]) : undefined;
  const out: SplitLocality<E, G>[] = [];
  if (!gateways.enabled) {
    // Only the requested network view: endpoints outside it never reach grouping in istiod, so a
    // locality left with none disappears.
    for (const source of localities) {
      const entries: SplitEntry<E>[] = [];
      for (const e of source.endpoints) if (view === undefined || view.has(e.network)) entries.push({ endpoint: e, weight: e.weight });
      if (entries.length > 0) out.push({ source, entries, weight: saturatingSum(entries) });
    }
    return out;
  }
  const scale = gateways.scaleFactor;
  for (const source of localities) {
    const entries: SplitEntry<E>[] = [];
    const perGateway = new Map<NetworkGateway, number>();
    let visible = 0;
    for (const e of source.endpoints) {
      if (view !== undefined && !view.has(e.network)) continue;
      visible++;
      const gws = gateways.forEndpoint(e.network, e.clusterId);
      const weight = e.weight < Math.floor(MAX_UINT32 / scale) ? e.weight * scale : MAX_UINT32;
      // A proxy with no network is in every network, but is still sent through a gateway to an
      // endpoint whose network has one.
      const forced = proxy.network === '' && e.network !== '' && gws.length > 0;
      const direct = e.network === '' || proxy.network === '' || e.network === proxy.network || gws.length === 0;
      if (!forced && direct) {
        entries.push({ endpoint: e, weight });
        continue;
      }
      if (!mtls(e)) continue;
      const share = Math.floor(weight / gws.length);
      for (const g of gws) perGateway.set(g, ((perGateway.get(g) ?? 0) + share) >>> 0);
    }
    // A locality whose every endpoint is outside the view is not a group at all.
    if (visible === 0) continue;
    for (const g of [...perGateway.keys()].sort(compareGateways)) entries.push({ gateway: g, weight: perGateway.get(g)! || 1 });
    let weight: number | undefined;
    if (entries.length > 0) {
      weight = 0;
      for (const x of entries) weight = (weight + x.weight) >>> 0;
    }
    out.push({ source, entries, weight });
  }
  return out;
}

function saturatingSum(entries: readonly SplitEntry<unknown>[]): number {
  let w = 0;
  for (const x of entries) w += x.weight;
  return w > MAX_UINT32 ? MAX_UINT32 : w;
}

