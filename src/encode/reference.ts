// The straightforward encoding of a ClusterLoadAssignment: build the whole plain object and let
// protobufjs encode it. Too slow for serving (every endpoint re-encoded on every view), but it is
// the correctness oracle for the splice assembler in cla.ts and the baseline the benchmarks
// compare against. Uses the same leaf messages as fragments.ts, so any difference is in splicing.
import type { Locality } from '../model/locality.js';
import type { Endpoint } from '../model/registry.js';
import type { PeerAuthentications } from '../model/peer-authentication.js';
import { types, type ClusterLoadAssignment } from '../proto/index.js';
import { lbEndpointMessage, localityMessage } from './fragments.js';

/** The parts of a view group (eds/view-group.ts ViewGroup over EncodedEndpoint) the reference reads. */
export interface ReferenceGroup {
  readonly source: { readonly locality: Locality };
  readonly endpoints: readonly { readonly endpoint: Pick<Endpoint, 'address' | 'port' | 'weight' | 'unhealthy' | 'workload'> }[];
  readonly weight: number;
  readonly priority: number;
}

/**
 * The ClusterLoadAssignment of `groups` as a protobufjs plain object (snake_case field names);
 * `ruleTlsMode` is the cluster's DestinationRule TLS mode and `peer` the mesh's PeerAuthentications,
 * which the endpoints' metadata reflects.
 */
export function referenceClaObject(
  clusterName: string,
  groups: readonly ReferenceGroup[],
  ruleTlsMode?: string,
  peer?: PeerAuthentications,
): ClusterLoadAssignment {
  return {
    cluster_name: clusterName,
    endpoints: groups.map((g) => ({
      locality: localityMessage(g.source.locality),
      // The endpoint's own flag is the health to encode (no unhealthy WorkloadEntry reaches a
      // view today, as in istiod, so it is always healthy here).
      lb_endpoints: g.endpoints.map((e) => lbEndpointMessage(e.endpoint, e.endpoint.unhealthy, ruleTlsMode, peer)),
      load_balancing_weight: { value: g.weight },
      priority: g.priority,
    })),
  };
}

/** `ClusterLoadAssignment.encode(fromObject(obj))`: the whole message encoded by protobufjs. */
export function encodeReference(obj: ClusterLoadAssignment): Uint8Array {
  const t = types.ClusterLoadAssignment;
  return t.encode(t.fromObject(obj as Record<string, unknown>)).finish();
}
