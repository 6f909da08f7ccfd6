// Listener (LDS) for proxyless gRPC: named after the dialed target `<host>:<port>`, with an
// api_listener HttpConnectionManager fetching its routes by RDS over ADS; the router filter last.
import { encode, TYPE_URL } from '../../proto/index.js';
import type { Listener } from '../../proto/messages.js';

const routerAny = { type_url: TYPE_URL.ROUTER, value: encode('Router', {}) };

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
