// Encodes the leaves a ClusterLoadAssignment is spliced from, with protobufjs: one LbEndpoint per
// endpoint and one Locality per group, each wrapped as the field it becomes.
import { getType, types } from '../proto/index.js';
import type { Locality } from '../model/locality.js';
import type { Endpoint } from '../model/registry.js';
import protobuf from 'protobufjs';
import { tag, WIRE_LEN } from './wire.js';

const LLE_LOCALITY = 1;
const LLE_LB_ENDPOINTS = 2;
const HEALTH_UNHEALTHY = 2;

/** LbEndpoint as istiod sends it: socket address, explicit weight, health only when unhealthy. */
export function lbEndpointMessage(ep: Pick<Endpoint, 'address' | 'port' | 'weight'>, unhealthy: boolean): object {
  return {
    endpoint: { address: { socket_address: { address: ep.address, port_value: ep.port } } },
    health_status: unhealthy ? HEALTH_UNHEALTHY : 0,
    load_balancing_weight: { value: ep.weight },
  };
}

/**
 * One writer for every fragment: protobufjs writes the field's tag, then the message with its
 * length prefix (`encodeDelimited`); `reset()` empties it after `finish()`. Encoding is synchronous, so sharing it
 * is safe.
 */
const fragmentWriter = protobuf.Writer.create();

/**
 * `finish()` returns a view into a shared 8 KiB pool slab. Fragments live as long as their
 * endpoint, and one long-lived view pins its whole slab, so under churn they could each hold
 * 8 KiB; an exact-size copy (small ones live on V8's heap) keeps memory proportional to bytes.
 */
function finishFragment(): Uint8Array {
  const bytes = new Uint8Array(fragmentWriter.finish());
  fragmentWriter.reset();
  return bytes;
}

export function encodeLbEndpointField(ep: Pick<Endpoint, 'address' | 'port' | 'weight'>, unhealthy: boolean): Uint8Array {
  // Plain objects with numeric enums encode directly; fromObject would only copy them.
  types.LbEndpoint.encodeDelimited(lbEndpointMessage(ep, unhealthy), fragmentWriter.uint32(tag(LLE_LB_ENDPOINTS, WIRE_LEN)));
  return finishFragment();
}

export function localityMessage(l: Locality): object {
  return { region: l.region, zone: l.zone, sub_zone: l.subZone };
}

const LocalityType = getType('envoy.config.core.v3.Locality');

export function encodeLocalityField(l: Locality): Uint8Array {
  LocalityType.encodeDelimited(localityMessage(l), fragmentWriter.uint32(tag(LLE_LOCALITY, WIRE_LEN)));
  return finishFragment();
}
