// Fully populated xDS messages (plain objects, .proto field names) used by the round-trip and
// JSON tests. Together they set every field of every message type in proto/, including each
// branch of each oneof. Nested Any payloads are packed by the caller-supplied `pack`, so the same
// fixture can be built with our schema or with the upstream one.

import { TYPE_URL, toStruct } from '../../src/proto/index.js';
import type {
  Any,
  Cluster,
  ClusterLoadAssignment,
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  Listener,
} from '../../src/proto/index.js';

export type Pack = (typeUrl: string, value: object) => Required<Any>;

export interface Fixture {
  name: string;
  type: string;
  build: (pack: Pack) => object;
}

const HOST = 'echo.app.svc.cluster.local';
const CLUSTER = `outbound|8080||${HOST}`;

const istioMetadata = (workload: string) => ({
  filter_metadata: {
    istio: toStruct({ workload, labels: { app: 'echo', version: 'v1' }, ports: [8080, 9090], canary: false, owner: null }),
  },
});

export function claFixture(pack: Pack): ClusterLoadAssignment {
  return {
    cluster_name: CLUSTER,
    endpoints: [
      {
        locality: { region: 'us-east1', zone: 'us-east1-b', sub_zone: 'rack-7' },
        metadata: istioMetadata('group-a'),
        lb_endpoints: [
          {
            endpoint: {
              address: {
                socket_address: {
                  protocol: 'UDP',
                  address: '10.0.0.1',
                  port_value: 8080,
                  resolver_name: 'envoy.network.dns_resolver.cares',
                  ipv4_compat: true,
                },
              },
              health_check_config: { port_value: 15021, hostname: 'vm-1.health', disable_active_health_check: true },
              hostname: 'vm-1.example.internal',
            },
            health_status: 'HEALTHY',
            metadata: {
              ...istioMetadata('vm-1'),
              typed_filter_metadata: { 'envoy.lb': pack('type.googleapis.com/google.protobuf.Struct', toStruct({ k: 'v' })) },
            },
            load_balancing_weight: { value: 3 },
          },
          {
            endpoint: { address: { socket_address: { address: '10.0.0.2', named_port: 'http' } } },
            health_status: 'UNHEALTHY',
            load_balancing_weight: { value: 1 },
          },
        ],
        load_balancing_weight: { value: 4 },
        priority: 0,
        proximity: { value: 2 },
      },
      {
        locality: { region: 'europe-west1' },
        lb_endpoints: [{ endpoint_name: 'vm-named', health_status: 'DRAINING', load_balancing_weight: { value: 5 } }],
        load_balancing_weight: { value: 5 },
        priority: 1,
      },
    ],
    named_endpoints: {
      'vm-named': { address: { socket_address: { address: 'fd00::10', port_value: 8080 } } },
    },
    policy: {
      drop_overloads: [{ category: 'throttle', drop_percentage: { numerator: 25, denominator: 'TEN_THOUSAND' } }],
      overprovisioning_factor: { value: 140 },
      endpoint_stale_after: { seconds: 30, nanos: 250_000_000 },
      weighted_priority_health: true,
    },
  };
}

/** EDS over ADS, ROUND_ROBIN, locality-weighted LB, outlier detection. */
export function edsClusterFixture(pack: Pack): Cluster {
  return {
    name: CLUSTER,
    alt_stat_name: 'echo_8080',
    type: 'EDS',
    eds_cluster_config: {
      eds_config: { ads: {}, resource_api_version: 'V3', initial_fetch_timeout: { seconds: 15 } },
      service_name: CLUSTER,
    },
    connect_timeout: { seconds: 10 },
    lb_policy: 'ROUND_ROBIN',
    outlier_detection: {
      consecutive_5xx: { value: 7 },
      interval: { seconds: 10 },
      base_ejection_time: { seconds: 30 },
      max_ejection_percent: { value: 100 },
      enforcing_consecutive_5xx: { value: 100 },
      enforcing_success_rate: { value: 0 },
      consecutive_gateway_failure: { value: 5 },
      enforcing_consecutive_gateway_failure: { value: 0 },
      split_external_local_origin_errors: true,
      consecutive_local_origin_failure: { value: 5 },
      enforcing_consecutive_local_origin_failure: { value: 100 },
      enforcing_local_origin_success_rate: { value: 0 },
    },
    common_lb_config: { healthy_panic_threshold: { value: 50.5 }, locality_weighted_lb_config: {} },
    circuit_breakers: {
      thresholds: [
        { max_connections: { value: 100 }, max_pending_requests: { value: 4294967295 }, max_requests: { value: 1024 }, max_retries: { value: 3 }, track_remaining: true },
      ],
    },
    round_robin_lb_config: {
      slow_start_config: {
        slow_start_window: { seconds: 60 },
        aggression: { default_value: 1.5, runtime_key: '(' },
        min_weight_percent: { value: 10 },
      },
    },
    transport_socket: {
      name: 'envoy.transport_sockets.raw_buffer',
      typed_config: pack('type.googleapis.com/google.protobuf.Struct', toStruct({})),
    },
    metadata: istioMetadata('cluster'),
    lrs_server: { self: { transport_api_version: 'V3' } },
  };
}

/** STATIC (enum value 0 inside a oneof, so it is still on the wire), inline endpoints, zone-aware LB. */
export function staticClusterFixture(pack: Pack): Cluster {
  return {
    name: 'static-cluster',
    type: 'STATIC',
    lb_policy: 'LEAST_REQUEST',
    least_request_lb_config: { slow_start_config: { slow_start_window: { seconds: 30 } } },
    load_assignment: claFixture(pack),
    common_lb_config: {
      zone_aware_lb_config: {
        routing_enabled: { value: 80 },
        min_cluster_size: { value: '18446744073709551615' },
        fail_traffic_on_panic: true,
      },
    },
  };
}

/** Consistent hashing: a ring of at least 2048 entries. */
export function ringHashClusterFixture(): Cluster {
  return { name: 'ring-hash-cluster', type: 'EDS', lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: '2048' } } };
}

/** Consistent hashing: a Maglev table of a prime size. */
export function maglevClusterFixture(): Cluster {
  return { name: 'maglev-cluster', type: 'EDS', lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: '65537' } } };
}

/** Proxyless gRPC client listener: api_listener holding an HCM with RDS over ADS and the router. */
export function apiListenerFixture(pack: Pack): Listener {
  return {
    name: `${HOST}:8080`,
    api_listener: {
      api_listener: pack(TYPE_URL.HTTP_CONNECTION_MANAGER, {
        codec_type: 'AUTO',
        stat_prefix: 'outbound_echo',
        rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: `${HOST}:8080` },
        http_filters: [
          { name: 'envoy.filters.http.fault', is_optional: true, disabled: true },
          { name: 'envoy.filters.http.router', typed_config: pack(TYPE_URL.ROUTER, {}) },
        ],
      }),
    },
  };
}

/** Listener with an address and an inline route configuration exercising the route oneofs. */
export function inlineRouteListenerFixture(pack: Pack): Listener {
  return {
    name: 'inbound-listener',
    address: { socket_address: { address: '0.0.0.0', port_value: 15006 } },
    metadata: istioMetadata('listener'),
    api_listener: {
      api_listener: pack(TYPE_URL.HTTP_CONNECTION_MANAGER, {
        codec_type: 'HTTP2',
        stat_prefix: 'inbound',
        route_config: {
          name: 'inbound|8080',
          virtual_hosts: [
            {
              name: 'echo',
              domains: [HOST, `${HOST}:8080`, '*'],
              include_request_attempt_count: true,
              routes: [
                {
                  name: 'exact',
                  match: { path: '/echo.Echo/Call', case_sensitive: { value: false } },
                  route: {
                    cluster: CLUSTER,
                    timeout: { seconds: 0, nanos: 500_000_000 },
                    max_grpc_timeout: { seconds: 1 },
                    hash_policy: [
                      { header: { header_name: 'x-user' } },
                      { cookie: { name: 'session', ttl: { seconds: 60 }, path: '/', attributes: [{ name: 'SameSite', value: 'Strict' }] } },
                      { connection_properties: { source_ip: true } },
                      { query_parameter: { name: 'user' } },
                    ],
                    retry_policy: {
                      retry_on: 'connect-failure,unavailable',
                      num_retries: { value: 2 },
                      retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: pack(TYPE_URL.PREVIOUS_HOSTS, {}) }],
                      host_selection_retry_max_attempts: '5',
                    },
                  },
                  decorator: { operation: `${HOST}:8080/*` },
                },
                {
                  name: 'split',
                  match: { prefix: '/' },
                  route: {
                    weighted_clusters: {
                      clusters: [
                        { name: `outbound|8080|v1|${HOST}`, weight: { value: 90 } },
                        { name: `outbound|8080|v2|${HOST}`, weight: { value: 10 } },
                      ],
                      total_weight: { value: 100 },
                    },
                  },
                },
                { name: 'server', match: { prefix: '' }, non_forwarding_action: {} },
              ],
            },
          ],
        },
        http_filters: [
          { name: 'envoy.filters.http.fault', typed_config: pack(TYPE_URL.FAULT, {}) },
          { name: 'envoy.filters.http.router', typed_config: pack(TYPE_URL.ROUTER, {}) },
        ],
      }),
    },
  };
}

const node = {
  id: 'sidecar~10.0.0.1~vm-1.app~app.svc.cluster.local',
  cluster: 'echo.app',
  metadata: toStruct({
    NAMESPACE: 'app',
    AUTO_REGISTER_GROUP: 'echo',
    INSTANCE_IPS: '10.0.0.1,fd00::1',
    LABELS: { app: 'echo' },
  }),
  locality: { region: 'us-east1', zone: 'us-east1-b', sub_zone: 'rack-7' },
  user_agent_name: 'envoy',
  client_features: ['envoy.lb.does_not_support_overprovisioning', 'xds.config.resource-in-sotw'],
};

export function discoveryRequestFixture(pack: Pack): DiscoveryRequest {
  return {
    version_info: '2024-01-01T00:00:00Z/7',
    node: { ...node, user_agent_version: '1.31.0' },
    resource_names: [CLUSTER, `outbound|9090||${HOST}`],
    type_url: TYPE_URL.ENDPOINT,
    response_nonce: 'nonce-41',
    error_detail: {
      code: 13,
      message: 'cluster has no endpoints',
      details: [pack('type.googleapis.com/google.protobuf.Struct', toStruct({ reason: 'nack' }))],
    },
  };
}

export function discoveryResponseFixture(pack: Pack): DiscoveryResponse {
  return {
    version_info: '8',
    resources: [pack(TYPE_URL.ENDPOINT, claFixture(pack)), pack(TYPE_URL.CLUSTER, edsClusterFixture(pack))],
    canary: true,
    type_url: TYPE_URL.ENDPOINT,
    nonce: 'nonce-42',
    control_plane: { identifier: 'xdsim-0' },
  };
}

export function deltaRequestFixture(_pack: Pack): DeltaDiscoveryRequest {
  return {
    node: { ...node, user_agent_build_version: { version: { major_number: 1, minor_number: 31, patch: 2 }, metadata: toStruct({ build: 'dev' }) } },
    type_url: TYPE_URL.CLUSTER,
    resource_names_subscribe: ['*', CLUSTER],
    resource_names_unsubscribe: ['gone'],
    initial_resource_versions: { [CLUSTER]: '3', other: '9' },
    response_nonce: 'nonce-1',
    error_detail: { code: 3, message: 'bad' },
  };
}

export function deltaResponseFixture(pack: Pack): DeltaDiscoveryResponse {
  return {
    system_version_info: 'sys-5',
    resources: [
      {
        version: '5',
        resource: pack(TYPE_URL.LISTENER, apiListenerFixture(pack)),
        name: `${HOST}:8080`,
        aliases: ['alias-a'],
        ttl: { seconds: 60 },
        cache_control: { do_not_cache: true },
        metadata: istioMetadata('resource'),
      },
    ],
    type_url: TYPE_URL.LISTENER,
    nonce: 'nonce-2',
    removed_resources: ['old-listener', 'never-existed'],
    control_plane: { identifier: 'xdsim-0' },
  };
}

export const FIXTURES: readonly Fixture[] = [
  { name: 'ClusterLoadAssignment', type: 'envoy.config.endpoint.v3.ClusterLoadAssignment', build: claFixture },
  { name: 'Cluster (EDS over ADS, ROUND_ROBIN, locality weighted)', type: 'envoy.config.cluster.v3.Cluster', build: edsClusterFixture },
  { name: 'Cluster (STATIC, zone aware)', type: 'envoy.config.cluster.v3.Cluster', build: staticClusterFixture },
  { name: 'Cluster (ring hash)', type: 'envoy.config.cluster.v3.Cluster', build: ringHashClusterFixture },
  { name: 'Cluster (Maglev)', type: 'envoy.config.cluster.v3.Cluster', build: maglevClusterFixture },
  { name: 'Listener (api_listener HCM, RDS over ADS, router)', type: 'envoy.config.listener.v3.Listener', build: apiListenerFixture },
  { name: 'Listener (inline routes)', type: 'envoy.config.listener.v3.Listener', build: inlineRouteListenerFixture },
  { name: 'DiscoveryRequest (NACK)', type: 'envoy.service.discovery.v3.DiscoveryRequest', build: discoveryRequestFixture },
  { name: 'DiscoveryResponse', type: 'envoy.service.discovery.v3.DiscoveryResponse', build: discoveryResponseFixture },
  { name: 'DeltaDiscoveryRequest', type: 'envoy.service.discovery.v3.DeltaDiscoveryRequest', build: deltaRequestFixture },
  { name: 'DeltaDiscoveryResponse', type: 'envoy.service.discovery.v3.DeltaDiscoveryResponse', build: deltaResponseFixture },
  {
    name: 'TypedExtensionConfig',
    type: 'envoy.config.core.v3.TypedExtensionConfig',
    build: (pack) => ({ name: 'envoy.filters.http.router', typed_config: pack(TYPE_URL.ROUTER, {}) }),
  },
];
