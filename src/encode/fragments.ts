// Encodes the leaves a ClusterLoadAssignment is spliced from, with protobufjs: one LbEndpoint per
// endpoint and one Locality per group, each wrapped as the field it becomes.
import { getType, types } from '../proto/index.js';
import type { Locality } from '../model/locality.js';
import type { Endpoint } from '../model/registry.js';
import protobuf from 'protobufjs';
import { lbEndpointMetadata } from './endpoint-metadata.js';
import type { PeerAuthentications } from '../model/peer-authentication.js';
import { tag, WIRE_LEN } from './wire.js';

const LLE_LOCALITY = 1;
const LLE_LB_ENDPOINTS = 2;
const HEALTH_UNHEALTHY = 2;

/** What an LbEndpoint is encoded from. */
export type EncodableEndpoint = Pick<Endpoint, 'address' | 'port' | 'weight' | 'workload'>;

/**
 * LbEndpoint as istiod sends it: socket address, explicit weight, health only when unhealthy,
 * and its metadata (`ruleTlsMode`: the cluster's DestinationRule TLS mode, if any; `peer`: the
 * mesh's PeerAuthentications, if any).
 */
export function lbEndpointMessage(ep: EncodableEndpoint, unhealthy: boolean, ruleTlsMode?: string, peer?: PeerAuthentications): object {
  return {
    endpoint: { address: { socket_address: { address: ep.address, port_value: ep.port } } },
    health_status: unhealthy ? HEALTH_UNHEALTHY : 0,
    metadata: lbEndpointMetadata(ep.workload, ruleTlsMode, ep.port, peer),
    load_balancing_weight: { value: ep.weight },
  };
}

/**
 * One writer for every fragment: protobufjs writes the field's tag, then the message with its
 * length prefix (`encodeDelimited`). Encoding is synchronous, so sharing it is safe.
 */
const fragmentWriter = protobuf.Writer.create();

/**
 * The shared writer's bytes as an exact-size copy, and the writer emptied. `finish()` alone
 * returns a view into a shared 8 KiB pool slab; cached fragments live as long as their endpoint
 * or locality, and one long-lived view pins its whole slab, so they are copied out.
 */
function takeWritten(): Uint8Array {
  const bytes = new Uint8Array(fragmentWriter.finish());
  fragmentWriter.reset();
  return bytes;
}

/** One `lb_endpoints` field (tag, length, LbEndpoint) as its own bytes. */
export function encodeLbEndpointField(ep: EncodableEndpoint, unhealthy: boolean, ruleTlsMode?: string, peer?: PeerAuthentications): Uint8Array {
  appendLbEndpoint(ep, unhealthy, ruleTlsMode, peer);
  return takeWritten();
}

/**
 * Batch encoding of many `lb_endpoints` fields, back to back: append each, noting the returned
 * end offsets, then take all the bytes at once. One buffer for a whole locality group instead of
 * one per endpoint.
 */
export function appendLbEndpoint(ep: EncodableEndpoint, unhealthy: boolean, ruleTlsMode?: string, peer?: PeerAuthentications): number {
  // Plain objects with numeric enums encode directly; fromObject would only copy them.
  types.LbEndpoint.encodeDelimited(lbEndpointMessage(ep, unhealthy, ruleTlsMode, peer), fragmentWriter.uint32(tag(LLE_LB_ENDPOINTS, WIRE_LEN)));
  return fragmentWriter.len;
}

/**
 * Everything appended since the last take, as a view that may share a pool slab: read it and let
 * it go, copying whatever must be kept.
 */
export function takeAppended(): Uint8Array {
  const bytes = fragmentWriter.finish();
  fragmentWriter.reset();
  return bytes;
}

export function localityMessage(l: Locality): object {
  return { region: l.region, zone: l.zone, sub_zone: l.subZone };
}

const LocalityType = getType('envoy.config.core.v3.Locality');

/**
 * Every cluster with endpoints in a locality has a group for it, and all of them start with the
 * same field: one copy per distinct locality (parsed localities are shared objects). Callers only
 * read it.
 */
const localityFields = new WeakMap<Locality, Uint8Array>();

export function encodeLocalityField(l: Locality): Uint8Array {
  let field = localityFields.get(l);
  if (field === undefined) {
    LocalityType.encodeDelimited(localityMessage(l), fragmentWriter.uint32(tag(LLE_LOCALITY, WIRE_LEN)));
    field = takeWritten();
    localityFields.set(l, field);
  }
  return field;
}

/** What istiod's split-horizon filter puts in place of another network's endpoints. */
export interface GatewayEndpoint {
  readonly address: string;
  readonly port: number;
  /** The registry the gateway was found in; "" for a meshNetworks address. */
  readonly cluster: string;
}

/**
 * A gateway's `lb_endpoints` field as istiod builds it: address and weight, tlsMode istio (the
 * gateway routes by mTLS SNI) and a telemetry string with nothing but the gateway's cluster.
 */
export function encodeGatewayLbEndpointField(gw: GatewayEndpoint, weight: number): Uint8Array {
  const message = {
    endpoint: { address: { socket_address: { address: gw.address, port_value: gw.port } } },
    health_status: 0,
    metadata: {
      filter_metadata: {
        'envoy.transport_socket_match': { fields: { tlsMode: { stringValue: 'istio' } } },
        istio: { fields: { workload: { stringValue: `;;;;${gw.cluster}` } } },
      },
    },
    load_balancing_weight: { value: weight },
  };
  types.LbEndpoint.encodeDelimited(message, fragmentWriter.uint32(tag(LLE_LB_ENDPOINTS, WIRE_LEN)));
  return takeWritten();
}
