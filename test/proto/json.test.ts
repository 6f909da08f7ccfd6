// (c) Canonical proto3 JSON, and the small helpers around the Root.

import { describe, expect, it } from 'vitest';
import {
  MESSAGE_TYPES,
  TYPE_URL,
  decode,
  encode,
  fromStruct,
  getType,
  packAny,
  root,
  toCanonicalJson,
  toObject,
  toStruct,
  typeUrlOf,
  types,
  unpackAny,
} from '../../src/proto/index.js';
import type { ClusterLoadAssignment, LbEndpoint } from '../../src/proto/index.js';
import { apiListenerFixture, staticClusterFixture } from './fixtures.js';

const ep = (address: string, extra: LbEndpoint = {}): LbEndpoint => ({
  endpoint: { address: { socket_address: { address, port_value: 8080 } } },
  ...extra,
});

const cla: ClusterLoadAssignment = {
  cluster_name: 'outbound|8080||echo.app.svc.cluster.local',
  endpoints: [
    {
      locality: { region: 'us-east1', zone: 'us-east1-b' },
      lb_endpoints: [
        ep('10.0.0.1', { load_balancing_weight: { value: 2 } }),
        ep('10.0.0.2', { health_status: 'UNHEALTHY', load_balancing_weight: { value: 1 } }),
      ],
      load_balancing_weight: { value: 3 },
    },
    {
      locality: { region: 'europe-west1', zone: 'b', sub_zone: 'rack-1' },
      lb_endpoints: [ep('10.1.0.1', { health_status: 1, load_balancing_weight: {} })],
      load_balancing_weight: { value: 1 },
      priority: 2,
    },
  ],
  policy: { overprovisioning_factor: { value: 140 }, endpoint_stale_after: { seconds: 1, nanos: 500_000_000 } },
};

const socket = (address: string) => ({ address: { socketAddress: { address, portValue: 8080 } } });

const claJson = {
  clusterName: 'outbound|8080||echo.app.svc.cluster.local',
  endpoints: [
    {
      locality: { region: 'us-east1', zone: 'us-east1-b' },
      lbEndpoints: [
        { endpoint: socket('10.0.0.1'), loadBalancingWeight: 2 },
        { endpoint: socket('10.0.0.2'), healthStatus: 'UNHEALTHY', loadBalancingWeight: 1 },
      ],
      loadBalancingWeight: 3,
    },
    {
      locality: { region: 'europe-west1', zone: 'b', subZone: 'rack-1' },
      // A wrapper that is present but holds 0 is kept as 0; only an absent wrapper is omitted.
      lbEndpoints: [{ endpoint: socket('10.1.0.1'), healthStatus: 'HEALTHY', loadBalancingWeight: 0 }],
      loadBalancingWeight: 1,
      priority: 2,
    },
  ],
  policy: { overprovisioningFactor: 140, endpointStaleAfter: '1.500s' },
};

describe('toCanonicalJson', () => {
  it('maps a CLA: camelCase, wrapper weights unwrapped, priority, enum names, durations', () => {
    expect(toCanonicalJson('ClusterLoadAssignment', cla)).toEqual(claJson);
  });

  it('gives the same result from bytes, a message instance, a full name and a type URL', () => {
    const bytes = encode('ClusterLoadAssignment', cla);
    expect(toCanonicalJson(TYPE_URL.ENDPOINT, bytes)).toEqual(claJson);
    expect(toCanonicalJson('envoy.config.endpoint.v3.ClusterLoadAssignment', decode('ClusterLoadAssignment', bytes))).toEqual(
      claJson,
    );
  });

  it('writes uint64 as strings, oneof enum zero values, and omits non-oneof zero enums', () => {
    const json = toCanonicalJson('Cluster', staticClusterFixture(packAny)) as Record<string, unknown>;
    expect(json.type).toBe('STATIC'); // value 0, but inside a oneof so it is present
    expect(json.lbPolicy).toBe('LEAST_REQUEST');
    expect(json.commonLbConfig).toEqual({
      zoneAwareLbConfig: { routingEnabled: { value: 80 }, minClusterSize: '18446744073709551615', failTrafficOnPanic: true },
    });
    const rr = toCanonicalJson('Cluster', { name: 'c', type: 'EDS', lb_policy: 'ROUND_ROBIN', connect_timeout: { seconds: 10 } });
    expect(rr).toEqual({ name: 'c', type: 'EDS', connectTimeout: '10s' });
  });

  it('expands nested Any values with @type', () => {
    expect(toCanonicalJson('Listener', apiListenerFixture(packAny))).toEqual({
      name: 'echo.app.svc.cluster.local:8080',
      apiListener: {
        apiListener: {
          '@type': TYPE_URL.HTTP_CONNECTION_MANAGER,
          statPrefix: 'outbound_echo',
          rds: {
            configSource: { ads: {}, resourceApiVersion: 'V3' },
            routeConfigName: 'echo.app.svc.cluster.local:8080',
          },
          httpFilters: [
            { name: 'envoy.filters.http.fault', isOptional: true, disabled: true },
            { name: 'envoy.filters.http.router', typedConfig: { '@type': TYPE_URL.ROUTER } },
          ],
        },
      },
    });
  });

  it('maps a health report request and Struct metadata', () => {
    const json = toCanonicalJson('DiscoveryRequest', {
      type_url: TYPE_URL.HEALTH_INFO,
      node: { id: 'n', metadata: toStruct({ NAMESPACE: 'app', LABELS: { app: 'echo' }, N: 1 }) },
      error_detail: { code: 13, message: 'probe failed' },
    });
    expect(json).toEqual({
      typeUrl: TYPE_URL.HEALTH_INFO,
      node: { id: 'n', metadata: { NAMESPACE: 'app', LABELS: { app: 'echo' }, N: 1 } },
      errorDetail: { code: 13, message: 'probe failed' },
    });
  });

  it('refuses an Any whose type is not in the schema', () => {
    const response = { resources: [{ type_url: 'type.googleapis.com/istio.v1.Unknown', value: new Uint8Array([8, 1]) }] };
    expect(() => toCanonicalJson('DiscoveryResponse', response)).toThrow();
  });
});

describe('root helpers', () => {
  it('loads every short-named type and resolves type URLs', () => {
    for (const [short, full] of Object.entries(MESSAGE_TYPES)) {
      expect(types[short as keyof typeof MESSAGE_TYPES].fullName).toBe(`.${full}`);
      expect(getType(typeUrlOf(full))).toBe(types[short as keyof typeof MESSAGE_TYPES]);
    }
    for (const [key, url] of Object.entries(TYPE_URL)) {
      if (key === 'HEALTH_INFO') {
        expect(() => getType(url)).toThrow(/istio\.v1\.HealthInformation/);
        continue;
      }
      expect(typeUrlOf(getType(url).fullName)).toBe(url);
    }
    expect(typeUrlOf('Cluster')).toBe(TYPE_URL.CLUSTER);
    expect(getType('envoy.config.core.v3.Metadata').name).toBe('Metadata');
    expect(() => getType('Metadata')).toThrow(/no message type "Metadata"/); // not a short name: absolute only
    expect(types.Any).toBe(root.lookupType('google.protobuf.Any'));
  });

  it('uses .proto (snake_case) field names', () => {
    expect(Object.keys(types.ClusterLoadAssignment.fields)).toEqual(['cluster_name', 'endpoints', 'named_endpoints', 'policy']);
  });

  it('packs and unpacks Any; toObject gives enum names, wrapper objects, 64-bit strings', () => {
    const any = packAny('ClusterLoadAssignment', cla);
    expect(any.type_url).toBe(TYPE_URL.ENDPOINT);
    const back = unpackAny<ClusterLoadAssignment>(any);
    expect(back.cluster_name).toBe(cla.cluster_name);
    expect(back.endpoints?.[0]?.lb_endpoints?.[1]?.health_status).toBe('UNHEALTHY');
    expect(back.endpoints?.[1]?.load_balancing_weight).toEqual({ value: 1 });
    expect(back.endpoints?.[1]?.lb_endpoints?.[0]?.load_balancing_weight).toEqual({}); // wrapper present, value 0
    expect(back.policy?.endpoint_stale_after).toEqual({ seconds: '1', nanos: 500_000_000 });
    expect(toObject('ClusterLoadAssignment', any.value)).toEqual(back);
  });

  it('converts plain JSON to and from Struct', () => {
    const json = { a: 'x', n: 1.5, b: true, nil: null, list: [1, 'two', { three: 3 }], nested: { deep: { k: 'v' } } };
    const struct = toStruct({ ...json, skipped: undefined });
    const decoded = toObject<{ metadata: unknown }>('Node', encode('Node', { metadata: struct }));
    expect(fromStruct(decoded.metadata as Parameters<typeof fromStruct>[0])).toEqual(json);
  });
});
