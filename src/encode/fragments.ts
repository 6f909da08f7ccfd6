// Encodes the leaves a ClusterLoadAssignment is spliced from, with protobufjs: one LbEndpoint per
// endpoint and one Locality per group, each wrapped as the field it becomes.
import { getType, types } from '../proto/index.js';
import type { Locality } from '../model/locality.js';
import type { Endpoint } from '../model/registry.js';
import { lenField } from './wire.js';

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

export function encodeLbEndpointField(ep: Endpoint, unhealthy: boolean): Uint8Array {
  const t = types.LbEndpoint;
  // Plain objects with numeric enums encode directly; fromObject would only copy them.
  return lenField(LLE_LB_ENDPOINTS, t.encode(lbEndpointMessage(ep, unhealthy)).finish());
}

export function localityMessage(l: Locality): object {
  return { region: l.region, zone: l.zone, sub_zone: l.subZone };
}

const LocalityType = getType('envoy.config.core.v3.Locality');

export function encodeLocalityField(l: Locality): Uint8Array {
  const t = LocalityType;
  return lenField(LLE_LOCALITY, t.encode(localityMessage(l)).finish());
}
