// Listener (LDS) for proxyless gRPC: named after the dialed target `<host>:<port>`, with an
// api_listener HttpConnectionManager fetching its routes by RDS over ADS; the router filter last.
import { encode, TYPE_URL } from '../../proto/index.js';
import type { Listener } from '../../proto/messages.js';

const routerAny = { type_url: TYPE_URL.ROUTER, value: encode('Router', {}) };
const faultAny = { type_url: TYPE_URL.FAULT, value: encode(TYPE_URL.FAULT, {}) };

export function buildListener(name: string, routeName: string): Listener {
  const hcm = {
    stat_prefix: name,
    rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: routeName },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: routerAny }],
  };
  return {
    name,
    api_listener: { api_listener: { type_url: TYPE_URL.HTTP_CONNECTION_MANAGER, value: encode('HttpConnectionManager', hcm) } },
  };
}

/**
 * The Listener istiod's proxyless generator sends a `GENERATOR: grpc` node (grpcgen's
 * buildOutboundListeners): named as asked, the service's address and port, and an HCM with no
 * stat prefix whose filters are fault then router, fetching route `outbound|<port>||<host>` by
 * RDS over ADS (no resource_api_version).
 */
export function buildProxylessListener(name: string, routeName: string, address: string, port: number): Listener {
  const hcm = {
    rds: { config_source: { ads: {} }, route_config_name: routeName },
    http_filters: [
      { name: 'envoy.filters.http.fault', typed_config: faultAny },
      { name: 'envoy.filters.http.router', typed_config: routerAny },
    ],
  };
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    api_listener: { api_listener: { type_url: TYPE_URL.HTTP_CONNECTION_MANAGER, value: encode('HttpConnectionManager', hcm) } },
  };
}
