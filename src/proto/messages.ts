// Plain-object shapes of the xDS messages xdsim builds and reads.
//
// Conventions (the same ones @grpc/proto-loader uses with keepCase: true, so an object
// received from grpc-js can be handed to `encode()` as is):
// - field names are the .proto names (snake_case);
// - enums may be given as their name or their number; decoded objects carry names;
// - google.protobuf.*Value wrappers are `{ value }` objects (unset = absent);
// - 64-bit integers are numbers or decimal strings on input, decimal strings on output;
// - google.protobuf.Any is `{ type_url, value: bytes }` (see `packAny`);
// - google.protobuf.Struct is its message form (`{ fields: { k: { stringValue } } }`);
//   use `toStruct` / `fromStruct` to convert from and to plain JSON. NB: protobufjs bundles the
//   well-known types with camelCase field names (Value.stringValue, not string_value) whatever
//   keepCase says, so Struct members are the one place where names are not snake_case.

export type Enum<Name extends string> = Name | number;

export interface UInt32Value {
  value?: number;
}
export interface UInt64Value {
  value?: number | string;
}
export interface BoolValue {
  value?: boolean;
}
export interface Duration {
  seconds?: number | string;
  nanos?: number;
}
export interface Any {
  type_url?: string;
  value?: Uint8Array;
}

/** google.protobuf.Value as protobufjs names its fields (camelCase, see above). */
export interface StructValue {
  nullValue?: Enum<'NULL_VALUE'>;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: Struct;
  listValue?: { values?: StructValue[] };
  /** Oneof discriminator, present on objects decoded with `oneofs: true` (proto-loader). */
  kind?: string;
}
export interface Struct {
  fields?: Record<string, StructValue>;
}

export interface RpcStatus {
  code?: number;
  message?: string;
  details?: Any[];
}

// envoy.type.v3

export interface Percent {
  value?: number;
}
export interface FractionalPercent {
  numerator?: number;
  denominator?: Enum<'HUNDRED' | 'TEN_THOUSAND' | 'MILLION'>;
}
export interface SemanticVersion {
  major_number?: number;
  minor_number?: number;
  patch?: number;
}

// envoy.config.core.v3

export type HealthStatusName = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';
export type ApiVersionName = 'AUTO' | 'V2' | 'V3';

export interface Locality {
  region?: string;
  zone?: string;
  sub_zone?: string;
}
export interface BuildVersion {
  version?: SemanticVersion;
  metadata?: Struct;
}
export interface Node {
  id?: string;
  cluster?: string;
  metadata?: Struct;
  locality?: Locality;
  user_agent_name?: string;
  user_agent_version?: string;
  user_agent_build_version?: BuildVersion;
  client_features?: string[];
}
export interface Metadata {
  filter_metadata?: Record<string, Struct>;
  typed_filter_metadata?: Record<string, Any>;
}
export interface SocketAddress {
  protocol?: Enum<'TCP' | 'UDP'>;
  address?: string;
  port_value?: number;
  named_port?: string;
  resolver_name?: string;
  ipv4_compat?: boolean;
}
export interface Address {
  socket_address?: SocketAddress;
}
export interface ConfigSource {
  ads?: Record<string, never>;
  self?: { transport_api_version?: Enum<ApiVersionName> };
  initial_fetch_timeout?: Duration;
  resource_api_version?: Enum<ApiVersionName>;
}
export interface TransportSocket {
  name?: string;
  typed_config?: Any;
}
export interface TypedExtensionConfig {
  name?: string;
  typed_config?: Any;
}
export interface ControlPlane {
  identifier?: string;
}

// envoy.config.endpoint.v3

export interface Endpoint {
  address?: Address;
  health_check_config?: { port_value?: number; hostname?: string; disable_active_health_check?: boolean };
  hostname?: string;
}
export interface LbEndpoint {
  endpoint?: Endpoint;
  endpoint_name?: string;
  health_status?: Enum<HealthStatusName>;
  metadata?: Metadata;
  load_balancing_weight?: UInt32Value;
}
export interface LocalityLbEndpoints {
  locality?: Locality;
  metadata?: Metadata;
  lb_endpoints?: LbEndpoint[];
  load_balancing_weight?: UInt32Value;
  priority?: number;
  proximity?: UInt32Value;
}
export interface ClusterLoadAssignment {
  cluster_name?: string;
  endpoints?: LocalityLbEndpoints[];
  named_endpoints?: Record<string, Endpoint>;
  policy?: {
    drop_overloads?: { category?: string; drop_percentage?: FractionalPercent }[];
    overprovisioning_factor?: UInt32Value;
    endpoint_stale_after?: Duration;
    weighted_priority_health?: boolean;
  };
}

// envoy.config.cluster.v3

export type DiscoveryTypeName = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';
export type LbPolicyName =
  | 'ROUND_ROBIN'
  | 'LEAST_REQUEST'
  | 'RING_HASH'
  | 'RANDOM'
  | 'MAGLEV'
  | 'CLUSTER_PROVIDED'
  | 'LOAD_BALANCING_POLICY_CONFIG';

export interface OutlierDetection {
  consecutive_5xx?: UInt32Value;
  interval?: Duration;
  base_ejection_time?: Duration;
  max_ejection_percent?: UInt32Value;
  enforcing_consecutive_5xx?: UInt32Value;
  enforcing_success_rate?: UInt32Value;
  consecutive_gateway_failure?: UInt32Value;
  enforcing_consecutive_gateway_failure?: UInt32Value;
  split_external_local_origin_errors?: boolean;
  consecutive_local_origin_failure?: UInt32Value;
  enforcing_consecutive_local_origin_failure?: UInt32Value;
  enforcing_local_origin_success_rate?: UInt32Value;
}
export interface SlowStartConfig {
  slow_start_window?: Duration;
  aggression?: { default_value?: number; runtime_key?: string };
  min_weight_percent?: Percent;
}
export interface CircuitBreakerThresholds {
  max_connections?: UInt32Value;
  max_pending_requests?: UInt32Value;
  max_requests?: UInt32Value;
  max_retries?: UInt32Value;
  track_remaining?: boolean;
}
export interface Cluster {
  name?: string;
  alt_stat_name?: string;
  type?: Enum<DiscoveryTypeName>;
  eds_cluster_config?: { eds_config?: ConfigSource; service_name?: string };
  connect_timeout?: Duration;
  lb_policy?: Enum<LbPolicyName>;
  circuit_breakers?: { thresholds?: CircuitBreakerThresholds[] };
  // lb_config oneof: at most one of the four.
  ring_hash_lb_config?: { minimum_ring_size?: UInt64Value };
  maglev_lb_config?: { table_size?: UInt64Value };
  least_request_lb_config?: { slow_start_config?: SlowStartConfig };
  round_robin_lb_config?: { slow_start_config?: SlowStartConfig };
  load_assignment?: ClusterLoadAssignment;
  outlier_detection?: OutlierDetection;
  common_lb_config?: {
    healthy_panic_threshold?: Percent;
    zone_aware_lb_config?: {
      routing_enabled?: Percent;
      min_cluster_size?: UInt64Value;
      fail_traffic_on_panic?: boolean;
    };
    locality_weighted_lb_config?: Record<string, never>;
  };
  transport_socket?: TransportSocket;
  metadata?: Metadata;
  lrs_server?: ConfigSource;
}

// envoy.config.listener.v3

export interface Listener {
  name?: string;
  address?: Address;
  metadata?: Metadata;
  api_listener?: { api_listener?: Any };
}

// envoy.config.route.v3

export interface RouteMatch {
  prefix?: string;
  path?: string;
  case_sensitive?: BoolValue;
}
export interface RetryPolicy {
  retry_on?: string;
  num_retries?: UInt32Value;
  retry_host_predicate?: { name?: string; typed_config?: Any }[];
  /** int64: a string when decoded. */
  host_selection_retry_max_attempts?: number | string;
}
export interface RouteAction {
  cluster?: string;
  weighted_clusters?: { clusters?: { name?: string; weight?: UInt32Value }[]; total_weight?: UInt32Value };
  timeout?: Duration;
  retry_policy?: RetryPolicy;
  max_grpc_timeout?: Duration;
  hash_policy?: HashPolicy[];
}
export interface HashPolicy {
  header?: { header_name?: string };
  cookie?: { name?: string; ttl?: Duration; path?: string; attributes?: { name?: string; value?: string }[] };
  connection_properties?: { source_ip?: boolean };
  query_parameter?: { name?: string };
}
export interface Route {
  name?: string;
  match?: RouteMatch;
  route?: RouteAction;
  non_forwarding_action?: Record<string, never>;
  decorator?: { operation?: string };
}
export interface VirtualHost {
  name?: string;
  domains?: string[];
  routes?: Route[];
  include_request_attempt_count?: boolean;
}
export interface RouteConfiguration {
  name?: string;
  virtual_hosts?: VirtualHost[];
}

// envoy.extensions.filters

export interface HttpFilter {
  name?: string;
  typed_config?: Any;
  is_optional?: boolean;
  disabled?: boolean;
}
export interface HttpConnectionManager {
  codec_type?: Enum<'AUTO' | 'HTTP1' | 'HTTP2' | 'HTTP3'>;
  stat_prefix?: string;
  rds?: { config_source?: ConfigSource; route_config_name?: string };
  route_config?: RouteConfiguration;
  http_filters?: HttpFilter[];
}
export type Router = Record<string, never>;

// envoy.service.discovery.v3

export interface DiscoveryRequest {
  version_info?: string;
  node?: Node;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: RpcStatus;
}
export interface DiscoveryResponse {
  version_info?: string;
  resources?: Any[];
  canary?: boolean;
  type_url?: string;
  nonce?: string;
  control_plane?: ControlPlane;
}
export interface Resource {
  version?: string;
  resource?: Any;
  name?: string;
  aliases?: string[];
  ttl?: Duration;
  cache_control?: { do_not_cache?: boolean };
  metadata?: Metadata;
}
export interface DeltaDiscoveryRequest {
  node?: Node;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: RpcStatus;
}
export interface DeltaDiscoveryResponse {
  system_version_info?: string;
  resources?: Resource[];
  type_url?: string;
  nonce?: string;
  removed_resources?: string[];
  control_plane?: ControlPlane;
}
