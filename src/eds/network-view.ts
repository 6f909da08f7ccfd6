// A cluster's locality groups as a proxy on one network sees them under split horizon, encoded:
// the same shape as LocalityGroup (a body of locality field + endpoint fields), so the locality
// rules and the assembly run on them unchanged. Built once per (cluster version, network key) and
// shared by every view with that key.
import type { EncodedEndpointField, EncodedLocality } from '../encode/cla.js';
import { encodeGatewayLbEndpointField } from '../encode/fragments.js';
import { LABEL_CLUSTER, LABEL_NETWORK, type Labels } from '../model/labels.js';
import type { Locality } from '../model/locality.js';
import type { NetworkGateway, NetworkGateways } from '../model/mesh-networks.js';
import type { ClusterEndpoints, EncodedEndpoint, LocalityGroup } from './cluster-endpoints.js';
import { splitHorizon, type SplitHorizonProxy } from './network-filter.js';
import type { LocalityInput, WeightedEndpoint } from './view-group.js';

/** A LocalityLbEndpoints left with no endpoints has no weight on the wire (istiod sends none). */
export const NO_WEIGHT = -1;

export class NetworkEndpoint implements WeightedEndpoint, EncodedEndpointField {
  constructor(
    readonly weight: number,
    readonly labels: Labels,
    readonly fieldOffset: number,
    readonly fieldLength: number,
    /** The registry endpoint, or the gateway that stands for other networks' endpoints. */
    readonly origin: EncodedEndpoint | NetworkGateway,
  ) {}

  /** What a listing shows: the endpoint, or the gateway as one host. */
  get endpoint(): { readonly address: string; readonly port: number; readonly weight: number; readonly unhealthy: boolean } {
    return { address: this.origin.address, port: this.origin.port, weight: this.weight, unhealthy: false };
  }
}

export class NetworkLocalityGroup implements LocalityInput<NetworkEndpoint>, EncodedLocality {
  constructor(
    readonly locality: Locality,
    readonly localityField: Uint8Array,
    readonly endpoints: readonly NetworkEndpoint[],
    readonly weight: number,
    readonly body: Uint8Array,
  ) {}
}

/** The labels istiod gives a gateway endpoint (what failoverPriority compares): network and cluster. */
function gatewayLabels(g: NetworkGateway): Labels {
  return g.cluster ? { [LABEL_NETWORK]: g.network, [LABEL_CLUSTER]: g.cluster } : { [LABEL_NETWORK]: g.network };
}

export function networkLocalities(cluster: ClusterEndpoints, gateways: NetworkGateways, proxy: SplitHorizonProxy): NetworkLocalityGroup[] {
  const split = splitHorizon<EncodedEndpoint, LocalityGroup>(cluster.localities(), gateways, proxy, (e) => cluster.mtls(e));
  const out = new Array<NetworkLocalityGroup>(split.length);
  for (let i = 0; i < split.length; i++) {
    const { source, entries, weight } = split[i]!;
    // Reading the body brings the members' offsets up to date; unchanged fields are copied from it.
    const sourceBody = source.body;
    const parts = new Array<Uint8Array>(entries.length);
    let size = source.localityField.length;
    for (let j = 0; j < entries.length; j++) {
      const x = entries[j]!;
      let part: Uint8Array;
      if (x.gateway !== undefined) part = encodeGatewayLbEndpointField(x.gateway, x.weight);
      else if (x.weight === x.endpoint.weight) part = sourceBody.subarray(x.endpoint.fieldOffset, x.endpoint.fieldOffset + x.endpoint.fieldLength);
      else part = cluster.encodeWithWeight(x.endpoint, x.weight);
      parts[j] = part;
      size += part.length;
    }
    const body = Buffer.allocUnsafeSlow(size);
    body.set(source.localityField, 0);
    let pos = source.localityField.length;
    const endpoints = new Array<NetworkEndpoint>(entries.length);
    for (let j = 0; j < entries.length; j++) {
      const x = entries[j]!;
      const part = parts[j]!;
      body.set(part, pos);
      endpoints[j] =
        x.gateway !== undefined
          ? new NetworkEndpoint(x.weight, gatewayLabels(x.gateway), pos, part.length, x.gateway)
          : new NetworkEndpoint(x.weight, x.endpoint.labels, pos, part.length, x.endpoint);
      pos += part.length;
    }
    out[i] = new NetworkLocalityGroup(source.locality, source.localityField, endpoints, weight ?? NO_WEIGHT, body);
  }
  return out;
}

/**
 * The part of a proxy split horizon depends on, or undefined when it does not apply (no gateway
 * anywhere and no requested network view): single-network meshes keep their view keys as they were.
 */
export function networkKey(gateways: NetworkGateways, proxy: SplitHorizonProxy): string | undefined {
  const view = proxy.networkView;
  if (!gateways.enabled && !(view && view.length > 0)) return undefined;
  return view && view.length > 0 ? `${proxy.network}\u0003${[...view].sort().join(',')}` : proxy.network;
}
