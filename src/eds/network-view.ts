// A cluster's locality groups as a proxy on one network sees them under split horizon, encoded:
// the same shape as LocalityGroup (a body of locality field + endpoint fields), so the locality
// rules and the assembly run on them unchanged. Built once per (cluster version, network key) and
// shared by every view with that key.
import type { EncodedEndpointField, EncodedLocality } from '../encode/cla.js';
import { encodeGatewayLbEndpointField } from '../encode/fragments.js';
import { copyRange, tag, varintSize, writeVarint, WIRE_LEN, WIRE_VARINT } from '../encode/wire.js';
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

const LB_ENDPOINTS_TAG = tag(2, WIRE_LEN);
const WEIGHT_TAG = tag(4, WIRE_LEN);
const VALUE_TAG = tag(1, WIRE_VARINT);

/*
 * Split horizon scales every weight, so most fields differ from the cached ones by their weight
 * only. protobufjs writes LbEndpoint fields by number: load_balancing_weight (4) is the last, and
 * a field is rewritten by copying all but that tail and writing a new tail and length prefix,
 * instead of encoding the endpoint again (which costs about a hundred times more).
 */

/** Where the LbEndpoint inside the `lb_endpoints` field at `start` begins. */
function innerStart(src: Uint8Array, start: number): number {
  let p = start + 1;
  while (src[p]! >= 0x80) p++;
  return p + 1;
}

function innerLength(src: Uint8Array, start: number): number {
  let n = 0;
  let shift = 1;
  for (let p = start + 1; ; p++) {
    const b = src[p]!;
    n += (b & 0x7f) * shift;
    if (b < 0x80) return n;
    shift *= 128;
  }
}

function weightTail(weight: number): number {
  return 3 + varintSize(weight);
}

/** Size of the field at `start` (weight `from`) with weight `to`. */
export function reweightedSize(src: Uint8Array, start: number, from: number, to: number): number {
  const inner = innerLength(src, start) - weightTail(from) + weightTail(to);
  return 1 + varintSize(inner) + inner;
}

/** Writes the field at `start` (weight `from`, at least 1) with weight `to` into `out` at `pos`; returns the end. */
export function writeReweighted(src: Uint8Array, start: number, from: number, to: number, out: Uint8Array, pos: number): number {
  const begin = innerStart(src, start);
  const keep = innerLength(src, start) - weightTail(from);
  if (src[start] !== LB_ENDPOINTS_TAG || src[begin + keep] !== WEIGHT_TAG || src[begin + keep + 2] !== VALUE_TAG) {
    throw new Error('LbEndpoint field without load_balancing_weight last');
  }
  out[pos++] = LB_ENDPOINTS_TAG;
  pos = writeVarint(out, pos, keep + weightTail(to));
  copyRange(src, begin, keep, out, pos);
  pos += keep;
  out[pos++] = WEIGHT_TAG;
  pos = writeVarint(out, pos, 1 + varintSize(to));
  out[pos++] = VALUE_TAG;
  return writeVarint(out, pos, to);
}

/** Each gateway's field encoded once, with this weight, and reweighted per locality. */
const GATEWAY_TEMPLATE_WEIGHT = 1;
const gatewayFields = new WeakMap<NetworkGateway, Uint8Array>();

function gatewayField(g: NetworkGateway): Uint8Array {
  let f = gatewayFields.get(g);
  if (f === undefined) gatewayFields.set(g, (f = encodeGatewayLbEndpointField(g, GATEWAY_TEMPLATE_WEIGHT)));
  return f;
}

/** The labels istiod gives a gateway endpoint (what failoverPriority compares): network and cluster. */
function gatewayLabels(g: NetworkGateway): Labels {
  return g.cluster ? { [LABEL_NETWORK]: g.network, [LABEL_CLUSTER]: g.cluster } : { [LABEL_NETWORK]: g.network };
}

/** Counters for tests and benchmarks: locality groups split afresh, and reused from an earlier build. */
export const networkCounters = { localitySplits: 0, localityReuses: 0 };

interface CachedSplit {
  /** The source group's body when it was split: a group that changed has a new one. */
  readonly body: Uint8Array;
  /** Undefined: nothing of the locality is in the proxy's network view. */
  readonly group: NetworkLocalityGroup | undefined;
}

/**
 * A cluster's split-horizon groups per network key, kept per locality across changes: a locality
 * depends only on its own endpoints (their encoding included: the body changes with them), the
 * gateways and the key, so after one endpoint change only its locality is split again.
 */
export class NetworkGroupCache {
  private readonly byKey = new Map<string, Map<LocalityGroup, CachedSplit>>();

  constructor(readonly gateways: NetworkGateways) {}

  groups(cluster: ClusterEndpoints, nk: string, proxy: SplitHorizonProxy): NetworkLocalityGroup[] {
    const before = this.byKey.get(nk);
    const now = new Map<LocalityGroup, CachedSplit>();
    const out: NetworkLocalityGroup[] = [];
    for (const g of cluster.localities()) {
      const body = g.body;
      let c = before?.get(g);
      if (c !== undefined && c.body === body) networkCounters.localityReuses++;
      else {
        c = { body, group: networkLocalities(cluster, this.gateways, proxy, [g])[0] };
        networkCounters.localitySplits++;
      }
      now.set(g, c);
      if (c.group !== undefined) out.push(c.group);
    }
    // Only the current localities are kept: removed groups go with the map they were in.
    this.byKey.set(nk, now);
    return out;
  }
}

export function networkLocalities(
  cluster: ClusterEndpoints,
  gateways: NetworkGateways,
  proxy: SplitHorizonProxy,
  localities: readonly LocalityGroup[] = cluster.localities(),
): NetworkLocalityGroup[] {
  const split = splitHorizon<EncodedEndpoint, LocalityGroup>(localities, gateways, proxy, (e) => cluster.mtls(e));
  const out = new Array<NetworkLocalityGroup>(split.length);
  const sizes: number[] = [];
  for (let i = 0; i < split.length; i++) {
    const { source, entries, weight } = split[i]!;
    // Reading the body brings the members' offsets up to date; every field is copied out of it
    // (or out of the gateway's own field), its weight rewritten where it changed.
    const sourceBody = source.body;
    let size = source.localityField.length;
    for (let j = 0; j < entries.length; j++) {
      const x = entries[j]!;
      const n =
        x.gateway !== undefined
          ? reweightedSize(gatewayField(x.gateway), 0, GATEWAY_TEMPLATE_WEIGHT, x.weight)
          : x.weight === x.endpoint.weight
            ? x.endpoint.fieldLength
            : reweightedSize(sourceBody, x.endpoint.fieldOffset, x.endpoint.weight, x.weight);
      sizes[j] = n;
      size += n;
    }
    const body = Buffer.allocUnsafeSlow(size);
    body.set(source.localityField, 0);
    let pos = source.localityField.length;
    const endpoints = new Array<NetworkEndpoint>(entries.length);
    for (let j = 0; j < entries.length; j++) {
      const x = entries[j]!;
      const n = sizes[j]!;
      if (x.gateway !== undefined) {
        writeReweighted(gatewayField(x.gateway), 0, GATEWAY_TEMPLATE_WEIGHT, x.weight, body, pos);
        endpoints[j] = new NetworkEndpoint(x.weight, gatewayLabels(x.gateway), pos, n, x.gateway);
      } else {
        const e = x.endpoint;
        if (x.weight === e.weight) copyRange(sourceBody, e.fieldOffset, n, body, pos);
        else writeReweighted(sourceBody, e.fieldOffset, e.weight, x.weight, body, pos);
        endpoints[j] = new NetworkEndpoint(x.weight, e.labels, pos, n, e);
      }
      pos += n;
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
